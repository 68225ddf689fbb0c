using SmartMaintenance.Streams.Testing;
using Xunit;

namespace SmartMaintenance.Streams.Integration.Tests;

/// <summary>A bad command line or configuration stops `smstream` at start-up with a message naming the setting.</summary>
public sealed class CliConfigurationTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("smstream-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static Task<(int Exit, string Out, string Err)> Smstream(IDictionary<string, string>? env, params string[] args) =>
        SmstreamCli.RunAsync(env, TimeSpan.FromSeconds(60), args);

    private string Config(string json)
    {
        var path = Path.Combine(_dir, Guid.NewGuid().ToString("N") + ".json");
        File.WriteAllText(path, json);
        return path;
    }

    [Fact]
    public async Task Out_of_range_setting_in_a_config_file_fails_naming_the_setting()
    {
        var (exit, _, err) = await Smstream(null, "run", "--config", Config("""{"Engine":{"MaxQueuedBatches":0}}"""));
        Assert.Equal(2, exit);
        Assert.Contains("Engine:MaxQueuedBatches", err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Misspelt_setting_fails_naming_it()
    {
        var (exit, _, err) = await Smstream(null, "run", "--config", Config("""{"Storage":{"BatchMaxRowz":5}}"""));
        Assert.Equal(2, exit);
        Assert.Contains("BatchMaxRowz", err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Unconvertible_environment_value_fails_naming_the_setting()
    {
        var (exit, _, err) = await Smstream(new Dictionary<string, string> { ["SMSTREAM_VALIDATION__MAXDEPTH"] = "deep" }, "run");
        Assert.Equal(2, exit);
        Assert.Contains("Validation:MaxDepth", err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Missing_config_file_fails_naming_the_flag()
    {
        var (exit, _, err) = await Smstream(null, "run", "--config", Path.Combine(_dir, "nope.json"));
        Assert.Equal(2, exit);
        Assert.Contains("--config", err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Malformed_duration_flag_is_rejected_before_anything_starts()
    {
        var (exit, _, err) = await Smstream(null, "demo", "--duration", "banana");
        Assert.NotEqual(0, exit);
        Assert.Contains("banana", err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Help_lists_every_command_with_a_description()
    {
        var (exit, stdout, _) = await Smstream(null, "--help");
        Assert.Equal(0, exit);
        foreach (var command in new[] { "broker", "db", "run", "notify", "simulate", "demo" })
        {
            Assert.Matches($@"(?m)^\s+{command}\s+\S", stdout);
        }
    }
}
