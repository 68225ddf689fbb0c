using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Windowing;
using Xunit;

namespace SmartMaintenance.Streams.Windowing.Tests;

public sealed class SettingsTests
{
    [Fact]
    public void Defaults_are_one_minute_tumbling_and_five_minute_hopping_by_one_minute()
    {
        var settings = new WindowingSettings();
        settings.Validate();
        Assert.Equal(["tumbling:1m", "hopping:5m/1m"], settings.ToSpecs().Select(s => s.Label));
        var options = settings.ToOperatorOptions();
        Assert.True(options.Dedup);
        Assert.Null(options.DedupHorizon);
    }

    [Fact]
    public void Configured_specs_replace_the_defaults_and_carry_every_field()
    {
        var settings = new WindowingSettings
        {
            Specs =
            [
                new() { Kind = "Session", Gap = TimeSpan.FromSeconds(30), AllowedLateness = TimeSpan.FromSeconds(10), SensorTypes = ["pump"], EarlyEveryReadings = 100, EarlyInterval = TimeSpan.FromSeconds(5) },
            ],
        };
        var spec = Assert.Single(settings.ToSpecs());
        Assert.Equal("session:30s", spec.Label);
        Assert.Equal((10_000L, 100, TimeSpan.FromSeconds(5)), (spec.AllowedLateness, spec.EarlyEveryReadings, spec.EarlyInterval));
        Assert.Contains("pump", spec.SensorTypes!);
    }

    [Theory]
    [InlineData("sliding", 60, 0, 0, "Windows:Specs:0:Kind")]
    [InlineData("tumbling", 0, 0, 0, "Windows:Specs:0:Size")]
    [InlineData("hopping", 60, 0, 0, "Windows:Specs:0:Advance")]
    [InlineData("hopping", 60, 120, 0, "Windows:Specs:0:Advance")]
    [InlineData("session", 0, 0, 0, "Windows:Specs:0:Gap")]
    [InlineData("tumbling", 60, 0, -5, "Windows:Specs:0:AllowedLateness")]
    public void Invalid_spec_fails_at_start_up_naming_the_setting(string kind, int sizeSeconds, int advanceSeconds, int latenessSeconds, string setting)
    {
        var settings = new WindowingSettings
        {
            Specs = [new() { Kind = kind, Size = TimeSpan.FromSeconds(sizeSeconds), Advance = TimeSpan.FromSeconds(advanceSeconds), AllowedLateness = TimeSpan.FromSeconds(latenessSeconds) }],
        };
        var ex = Assert.Throws<ConfigurationException>(settings.Validate);
        Assert.Equal(setting, ex.Setting);
    }

    [Fact]
    public void Invalid_section_setting_and_duplicate_specs_are_rejected()
    {
        var negative = new WindowingSettings { MaxOutOfOrderness = TimeSpan.FromSeconds(-1) };
        Assert.Equal("Windows:MaxOutOfOrderness", Assert.Throws<ConfigurationException>(negative.Validate).Setting);
        var twice = new WindowingSettings
        {
            Specs = [new() { Size = TimeSpan.FromMinutes(1) }, new() { Size = TimeSpan.FromSeconds(60) }],
        };
        Assert.Equal("Windows:Specs:1", Assert.Throws<ConfigurationException>(twice.Validate).Setting);
        var accuracy = new WindowingSettings { Specs = [new() { Size = TimeSpan.FromMinutes(1), QuantileAccuracy = 0.9 }] };
        Assert.Equal("Windows:Specs:0:QuantileAccuracy", Assert.Throws<ConfigurationException>(accuracy.Validate).Setting);
    }

    [Fact]
    public void Settings_class_documents_every_property()
    {
        foreach (var type in new[] { typeof(WindowingSettings), typeof(WindowSpecSettings) })
        {
            foreach (var p in type.GetProperties().Where(p => p.CanWrite))
            {
                Assert.True(p.GetCustomAttributes(typeof(SettingAttribute), false).Length == 1, $"{type.Name}.{p.Name} has no [Setting]");
            }
        }
        Assert.Equal("Windows", ((SettingsSectionAttribute)typeof(WindowingSettings).GetCustomAttributes(typeof(SettingsSectionAttribute), false)[0]).Section);
    }
}
