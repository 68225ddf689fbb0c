using SmartMaintenance.Streams.Testing;
using Xunit;

namespace SmartMaintenance.Streams.Reliability.Tests;

/// <summary>Bad settings and flags, for more settings and commands than Integration.Tests covers: a message naming the setting, exit code 2 (1 for flag parse errors).</summary>
public sealed class ConfigurationTests
{
    private static async Task<(int Exit, string Err)> Smstream(IDictionary<string, string> env, params string[] args)
    {
        var (exit, stdout, stderr) = await SmstreamCli.RunAsync(env, TimeSpan.FromSeconds(60), args);
        return (exit, stderr + stdout);
    }

    [Theory]
    [InlineData("run", "SMSTREAM_KAFKA__SECURITYPROTOCOL", "SaslSsl", "Kafka:SaslMechanism")]
    [InlineData("run", "SMSTREAM_KAFKA__SECURITYPROTOCOL", "Tls13", "Kafka:SecurityProtocol")]
    [InlineData("run", "SMSTREAM_BOOTSTRAP", "kafka-without-port", "Kafka:BootstrapServers")]
    [InlineData("run", "SMSTREAM_KAFKA__SESSIONTIMEOUTMS", "10", "Kafka:SessionTimeoutMs")]
    [InlineData("run", "SMSTREAM_KAFKA__HEARTBEATINTERVALMS", "7000", "Kafka:HeartbeatIntervalMs")]
    [InlineData("run", "SMSTREAM_VALIDATION__MAXMESSAGEBYTES", "10", "Validation:MaxMessageBytes")]
    [InlineData("run", "SMSTREAM_VALIDATION__MAXREADINGSPERMESSAGE", "0", "Validation:MaxReadingsPerMessage")]
    [InlineData("run", "SMSTREAM_VALIDATION__RANGES__temperature", "hot:cold", "Validation:Ranges:temperature")]
    [InlineData("run", "SMSTREAM_STORAGE__RETRYMAXDELAY", "00:00:00.001", "Storage:RetryMaxDelay")]
    [InlineData("run", "SMSTREAM_ENGINE__SHUTDOWNTIMEOUT", "soon", "Engine:ShutdownTimeout")]
    [InlineData("run", "SMSTREAM_ENGINE__CONSUMERGROUP", " ", "Engine:ConsumerGroup")]
    [InlineData("run", "SMSTREAM_HTTP__LISTEN", "everywhere", "Http:Listen")]
    [InlineData("notify", "SMSTREAM_HTTP__LISTEN", "example.com:80", "Http:Listen")]
    [InlineData("notify", "SMSTREAM_NOTIFIER__MAXRETRIES", "99", "Notifier:MaxRetries")]
    [InlineData("notify", "SMSTREAM_NOTIFIER__ATTEMPTTIMEOUT", "forever", "Notifier:AttemptTimeout")]
    public async Task A_bad_setting_stops_the_command_naming_the_setting_with_exit_code_2(string command, string variable, string value, string setting)
    {
        var (exit, err) = await Smstream(new Dictionary<string, string> { [variable] = value }, command);
        Assert.True(exit == 2, $"exit {exit}, output:\n{err}");
        Assert.Contains(setting, err, StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [InlineData("run", "--no-such-flag")]
    [InlineData("notify", "--http", "lots")]
    [InlineData("simulate", "--rate", "fast")]
    public async Task A_bad_flag_is_rejected_naming_it_with_a_non_zero_exit_code(params string[] args)
    {
        var (exit, err) = await Smstream(new Dictionary<string, string>(), args);
        Assert.NotEqual(0, exit);
        Assert.Contains(args[^1], err, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(13)]
    public async Task An_upper_case_variable_overrides_the_channel_the_file_names_in_lower_case(int channels)
    {
        // Configuration keys are case-insensitive: SMSTREAM_NOTIFIER__CHANNELS__MAIN__SECRET sets channel "main".
        var file = Path.Combine(Path.GetTempPath(), $"smstream-case-{Guid.NewGuid():N}.json");
        var names = Enumerable.Range(0, channels).Select(i => i == 0 ? "main" : $"ch{i}").ToArray();
        var channelJson = string.Join(",", names.Select(n => "\"" + n + "\":{\"Type\":\"webhook\",\"Url\":\"http://127.0.0.1:9/" + n + "\",\"Secret\":\"from-file\"}"));
        var routeJson = string.Join(",", names.Select(n => "\"" + n + "\""));
        await File.WriteAllTextAsync(file,
            "{\"Notifier\":{\"ConnectionString\":\"Host=127.0.0.1\",\"Channels\":{" + channelJson + "},\"Routes\":[{\"Name\":\"all\",\"Channels\":[" + routeJson + "]}]}}");
        try
        {
            var env = new Dictionary<string, string> { ["SMSTREAM_NOTIFIER__CHANNELS__MAIN__SECRET"] = "from-environment" };
            // The spelling the configuration reports used to vary between runs with many channels: look twice.
            for (var run = 0; run < (channels == 1 ? 1 : 2); run++)
            {
                var (exit, stdout, stderr) = await SmstreamCli.RunAsync(env, TimeSpan.FromSeconds(60), "config", "check", "--config", file);
                Assert.True(exit == 0, $"run {run}: exit {exit}\n{stderr}{stdout}");
                Assert.Contains("Notifier:Channels:main:Secret", stdout, StringComparison.Ordinal);
                Assert.DoesNotContain("Notifier:Channels:MAIN", stdout, StringComparison.Ordinal);
                Assert.Contains("configuration OK", stdout, StringComparison.Ordinal);
            }
        }
        finally
        {
            File.Delete(file);
        }
    }
}
