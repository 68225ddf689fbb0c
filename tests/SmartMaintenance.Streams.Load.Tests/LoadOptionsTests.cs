using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Load;
using Xunit;

namespace SmartMaintenance.Streams.Load.Tests;

public sealed class LoadOptionsTests
{
    [Fact]
    public void Constant_offers_the_rate_during_warm_up_and_measurement_and_nothing_after()
    {
        var o = new LoadOptions { Rate = 1000, Duration = TimeSpan.FromSeconds(10), WarmUp = TimeSpan.FromSeconds(2) };
        Assert.Equal(1000, o.RateAt(TimeSpan.FromSeconds(1)));
        Assert.Equal(1000, o.RateAt(TimeSpan.FromSeconds(11.9)));
        Assert.Equal(0, o.RateAt(TimeSpan.FromSeconds(12)));
        Assert.Equal(12_000, o.OfferedReadings(), 6);
    }

    [Fact]
    public void Ramp_goes_linearly_from_rate_to_peak_over_the_measured_part()
    {
        var o = new LoadOptions { Scenario = LoadScenario.Ramp, Rate = 100, PeakRate = 1100, Duration = TimeSpan.FromSeconds(10), WarmUp = TimeSpan.Zero };
        Assert.Equal(100, o.RateAt(TimeSpan.Zero), 6);
        Assert.Equal(600, o.RateAt(TimeSpan.FromSeconds(5)), 6);
        Assert.Equal(1000, o.RateAt(TimeSpan.FromSeconds(9)), 6);
        Assert.Equal(6000, o.OfferedReadings(), 6);
    }

    [Fact]
    public void Spike_offers_the_peak_for_the_spike_duration_in_the_middle()
    {
        var o = new LoadOptions { Scenario = LoadScenario.Spike, Rate = 100, PeakRate = 5000, Duration = TimeSpan.FromSeconds(100), SpikeDuration = TimeSpan.FromSeconds(10), WarmUp = TimeSpan.Zero };
        Assert.Equal(100, o.RateAt(TimeSpan.FromSeconds(44)));
        Assert.Equal(5000, o.RateAt(TimeSpan.FromSeconds(45)));
        Assert.Equal(5000, o.RateAt(TimeSpan.FromSeconds(54.9)));
        Assert.Equal(100, o.RateAt(TimeSpan.FromSeconds(55)));
        Assert.Equal((100 * 90) + (5000 * 10), o.OfferedReadings(), 6);
    }

    [Fact]
    public void A_peak_below_the_rate_fails_validation_naming_the_setting()
    {
        var o = new LoadOptions { Scenario = LoadScenario.Ramp, Rate = 1000, PeakRate = 10 };
        var ex = Assert.Throws<ConfigurationException>(() => o.Validate());
        Assert.Equal("Load:PeakRate", ex.Setting);
    }

    [Fact]
    public void An_out_of_range_fraction_fails_validation_naming_the_setting()
    {
        var ex = Assert.Throws<ConfigurationException>(() => new LoadOptions { MalformedFraction = 1.5 }.Validate());
        Assert.Equal("Load:MalformedFraction", ex.Setting);
    }

    [Theory]
    [InlineData("250ms", 250)]
    [InlineData("60s", 60_000)]
    [InlineData("2m", 120_000)]
    [InlineData("1m30s", 90_000)]
    [InlineData("00:00:05", 5_000)]
    public void Durations_parse_with_units(string text, double ms) => Assert.Equal(ms, LoadOptions.ParseDuration(text).TotalMilliseconds);

    [Theory]
    [InlineData("0.1%", 0.001)]
    [InlineData("0.001", 0.001)]
    [InlineData("5%", 0.05)]
    public void Ratios_parse_as_fractions_or_percentages(string text, double value) => Assert.Equal(value, LoadOptions.ParseRatio(text), 12);

    [Fact]
    public void The_load_producer_lingers_its_own_time_and_keeps_the_clusters_other_producer_settings()
    {
        var kafka = new SmartMaintenance.Streams.Kafka.KafkaOptions { BootstrapServers = "kafka-1:9092", LingerMs = 5 };

        var byDefault = LoadRunner.ProducerConfig(kafka, new LoadOptions());
        var explicitly = LoadRunner.ProducerConfig(kafka, new LoadOptions { ProducerLingerMs = 2 });

        Assert.Equal(20, byDefault.LingerMs);
        Assert.Equal(2, explicitly.LingerMs);
        Assert.Equal("kafka-1:9092", byDefault.BootstrapServers);
        Assert.True(byDefault.EnableIdempotence);
        Assert.Equal("smstream-load", byDefault.ClientId);
        Assert.Equal(5, kafka.BuildProducerConfig().LingerMs);
    }

    [Fact]
    public void A_negative_producer_linger_fails_validation_naming_the_setting()
    {
        var ex = Assert.Throws<ConfigurationException>(() => new LoadOptions { ProducerLingerMs = -1 }.Validate());
        Assert.Equal("Load:ProducerLingerMs", ex.Setting);
    }

    [Fact]
    public void A_scenario_file_sets_every_kind_of_setting()
    {
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, """{"scenario":"spike","rate":200,"peakRate":2000,"duration":"30s","warm_up":"1s","batch":100,"maxP99":"250ms","maxErrorRate":"0.1%","sensors":5000}""");
            var o = new LoadOptions();
            o.ApplyFile(path);
            Assert.Equal(LoadScenario.Spike, o.Scenario);
            Assert.Equal(200, o.Rate);
            Assert.Equal(2000, o.PeakRate);
            Assert.Equal(TimeSpan.FromSeconds(30), o.Duration);
            Assert.Equal(TimeSpan.FromSeconds(1), o.WarmUp);
            Assert.Equal(100, o.Batch);
            Assert.Equal(TimeSpan.FromMilliseconds(250), o.MaxP99);
            Assert.Equal(0.001, o.MaxErrorRate!.Value, 12);
            Assert.Equal(5000, o.Sensors);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void An_unknown_key_in_a_scenario_file_fails_naming_it()
    {
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, """{"rate":200,"ratee":5}""");
            var ex = Assert.Throws<ConfigurationException>(() => new LoadOptions().ApplyFile(path));
            Assert.Equal("Load:ratee", ex.Setting);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
