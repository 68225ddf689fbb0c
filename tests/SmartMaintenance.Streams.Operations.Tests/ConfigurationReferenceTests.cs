using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Operations.Configuration;
using Xunit;

namespace SmartMaintenance.Streams.Operations.Tests;

public sealed class ConfigurationReferenceTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("smstream-config-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Docs_configuration_md_is_exactly_the_generated_reference()
    {
        var (exit, generated, err) = await Cli.Run(null, "config", "reference");
        Assert.True(exit == 0, "smstream config reference failed (an undocumented setting?): " + err);
        var path = Path.Combine(Cli.RepositoryRoot(), "docs", "configuration.md");
        Assert.True(File.Exists(path), $"{path} is missing; run: ./smstream config reference > docs/configuration.md");
        var committed = (await File.ReadAllTextAsync(path)).ReplaceLineEndings("\n");
        if (committed != generated)
        {
            var a = committed.Split('\n');
            var b = generated.Split('\n');
            var line = 0;
            while (line < Math.Min(a.Length, b.Length) && a[line] == b[line])
            {
                line++;
            }
            Assert.Fail($"docs/configuration.md differs from the generated reference at line {line + 1}:\n  file:      {(line < a.Length ? a[line] : "(end)")}\n  generated: {(line < b.Length ? b[line] : "(end)")}\n" +
                "Regenerate it: ./smstream config reference > docs/configuration.md");
        }
    }

    [Fact]
    public void Every_settings_property_of_every_section_has_a_Setting_description()
    {
        var sections = SettingsCatalog.Discover(SettingsCatalog.LoadAssemblies(AppContext.BaseDirectory));
        Assert.Empty(SettingsCatalog.Undocumented(sections));
        var names = sections.Select(s => s.Section).ToHashSet();
        foreach (var expected in new[] { "Alerts", "Engine", "Kafka", "Notifier", "Scoring", "Storage", "Topics", "Validation", "Windows" })
        {
            Assert.Contains(expected, names);
        }
        var paths = sections.SelectMany(s => s.Settings).Select(s => s.Path).ToHashSet();
        Assert.Contains("Notifier:Channels:<name>:Url", paths);
        Assert.Contains("Notifier:Routes:<index>:MinSeverity", paths);
        Assert.Contains("Windows:Specs:<index>:AllowedLateness", paths);
        Assert.Contains("Scoring:Defaults:WarmupReadings", paths);
    }

    [SettingsSection("Fixture")]
    public sealed class FixtureOptions
    {
        [Setting("Documented.", Unit = "ms", Min = 1, Max = 10)]
        public int Documented { get; set; } = 5;

        public string Forgotten { get; set; } = "x";

        [Setting("Nested items.")]
        public List<FixtureItem> Items { get; set; } = [];
    }

    public sealed class FixtureItem
    {
        public int AlsoForgotten { get; set; }
    }

    [Fact]
    public void A_settings_property_without_a_description_is_reported_and_marked_in_the_reference()
    {
        var section = SettingsCatalog.Describe("Fixture", typeof(FixtureOptions));
        var undocumented = SettingsCatalog.Undocumented([section]);
        Assert.Equal(2, undocumented.Count);
        Assert.Contains(undocumented, u => u.StartsWith("Fixture:Forgotten ", StringComparison.Ordinal));
        Assert.Contains(undocumented, u => u.StartsWith("Fixture:Items:<index>:AlsoForgotten ", StringComparison.Ordinal));
        var text = ConfigurationReference.Generate([section], [], new Dictionary<string, string>());
        Assert.Contains("| `Fixture:Documented` | `SMSTREAM_FIXTURE__DOCUMENTED` |  | integer | `5` | ms | 1 … 10 | Documented. |", text, StringComparison.Ordinal);
        Assert.Contains("**UNDOCUMENTED**", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Config_check_prints_the_effective_configuration_with_secrets_masked()
    {
        var file = Path.Combine(_dir, "c.json");
        await File.WriteAllTextAsync(file, """{"Kafka":{"SaslPassword":"hunter2","Client":{"sasl.password":"hunter3","socket.keepalive.enable":"true"}},"Engine":{"MaxQueuedBatches":4}}""");
        var (exit, stdout, err) = await Cli.Run(new Dictionary<string, string> { ["SMSTREAM_DATABASE"] = "Host=db;Username=u;Password=hunter4" }, "config", "check", "--config", file);
        Assert.True(exit == 0, err);
        Assert.DoesNotContain("hunter", stdout, StringComparison.Ordinal);
        Assert.Matches(@"(?m)^Kafka:SaslPassword\s+= \*{6}", stdout);
        Assert.Matches(@"(?m)^Storage:ConnectionString\s+= \*{6}", stdout);
        Assert.Matches(@"(?m)^Kafka:Client\s+= sasl\.password=\*{6}; socket\.keepalive\.enable=true", stdout);
        Assert.Matches(@"(?m)^Engine:MaxQueuedBatches\s+= 4\s+\(set\)", stdout);
        Assert.Contains("configuration OK", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Config_check_fails_naming_the_invalid_setting()
    {
        var file = Path.Combine(_dir, "bad.json");
        await File.WriteAllTextAsync(file, """{"Windows":{"Specs":[{"Kind":"tumbling","Size":"00:01:00"},{"Kind":"spiral"}]}}""");
        var (exit, _, err) = await Cli.Run(null, "config", "check", "--config", file);
        Assert.Equal(2, exit);
        Assert.Contains("Windows:Specs:1", err, StringComparison.Ordinal);
    }
}
