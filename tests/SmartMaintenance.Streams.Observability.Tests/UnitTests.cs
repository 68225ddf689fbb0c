using System.Net;
using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Engine;
using SmartMaintenance.Streams.Engine.Stages;
using SmartMaintenance.Streams.Storage;
using Xunit;

namespace SmartMaintenance.Streams.Observability.Tests;

public sealed class HttpOptionsTests
{
    [Fact]
    public void Defaults_listen_on_loopback_only()
    {
        var options = new HttpOptions();
        options.Validate();
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, 9464), options.Endpoint);
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, 9465), HttpOptions.ParseListen(HttpOptions.NotifierDefault, "x"));
    }

    [Theory]
    [InlineData("0.0.0.0:9464", "0.0.0.0", 9464)]
    [InlineData("*:80", "0.0.0.0", 80)]
    [InlineData("localhost:0", "127.0.0.1", 0)]
    [InlineData("[::1]:9000", "::1", 9000)]
    public void Listen_accepts_addresses_wildcards_and_localhost(string listen, string address, int port) =>
        Assert.Equal(new IPEndPoint(IPAddress.Parse(address), port), HttpOptions.ParseListen(listen, "Http:Listen"));

    [Theory]
    [InlineData("")]
    [InlineData("9464")]
    [InlineData("example.org:9464")]
    [InlineData("127.0.0.1:70000")]
    [InlineData("127.0.0.1:-1")]
    public void Invalid_listen_values_fail_naming_the_setting(string listen)
    {
        var ex = Assert.Throws<ConfigurationException>(() => new HttpOptions { Listen = listen }.Validate());
        Assert.Equal("Http:Listen", ex.Setting);
    }

    [Fact]
    public void A_check_timeout_below_the_minimum_fails_naming_the_setting()
    {
        var ex = Assert.Throws<ConfigurationException>(() => new HttpOptions { CheckTimeout = TimeSpan.FromMilliseconds(10) }.Validate());
        Assert.Equal("Http:CheckTimeout", ex.Setting);
    }
}

public sealed class EngineProbeTests
{
    private const string Statistics = """
        {"name":"c#consumer-1","type":"consumer","topics":{"readings":{"topic":"readings","partitions":{
          "0":{"partition":0,"fetch_state":"active","hi_offset":120,"lo_offset":0,"committed_offset":100,"stored_offset":110,"consumer_lag":20,"consumer_lag_stored":10},
          "1":{"partition":1,"fetch_state":"active","hi_offset":50,"lo_offset":0,"committed_offset":-1001,"stored_offset":-1001,"consumer_lag":-1,"consumer_lag_stored":-1},
          "2":{"partition":2,"fetch_state":"none","hi_offset":-1,"lo_offset":-1,"consumer_lag":-1,"consumer_lag_stored":-1},
          "-1":{"partition":-1,"fetch_state":"none","hi_offset":-1,"consumer_lag":-1,"consumer_lag_stored":-1}}}}}
        """;

    [Fact]
    public void Statistics_report_lag_against_the_stored_offset_and_the_whole_log_when_nothing_is_committed()
    {
        var probe = new EngineProbe();
        Assert.Equal(-1, probe.TotalLag);
        Assert.Null(probe.SinceLastStatistics);
        probe.OnStatistics(Statistics);
        // Partition 0: 10 behind the stored offset; partition 1: nothing committed, all 50 retained records; 2 and -1 not fetched.
        Assert.Equal(60, probe.TotalLag);
        Assert.NotNull(probe.SinceLastStatistics);
    }

    [Fact]
    public void Malformed_statistics_leave_the_last_lag_in_place()
    {
        var probe = new EngineProbe();
        probe.OnStatistics(Statistics);
        probe.OnStatistics("{not json");
        Assert.Equal(60, probe.TotalLag);
    }

    [Fact]
    public void A_batch_committed_through_several_writer_connections_releases_exactly_its_buffered_records()
    {
        var probe = new EngineProbe();
        probe.OnHandoff(new StageOutputs(), 10);
        probe.OnHandoff(new StageOutputs(), 5);
        Assert.Equal(15, probe.BufferedRecords);
        var parts = new[] { new StorageBatch(), new StorageBatch(), new StorageBatch() };
        parts[0].Readings.Add(Reading("a", 0));
        parts[2].Readings.Add(Reading("b", 1));
        probe.OnCommitted(parts, 10, 1000);
        Assert.Equal(5, probe.BufferedRecords);
        probe.OnCommitted([new StorageBatch()], 5, 500);
        Assert.Equal(0, probe.BufferedRecords);
        Assert.Equal(1_700_000_000_000, probe.WatermarkMs);
        Assert.True(EngineHealth.Progress(probe, TimeSpan.FromMilliseconds(1)).Ok, "nothing buffered, no lag: not stuck");
    }

    private static SensorReading Reading(string sensor, int partition) =>
        new(sensor, 1_700_000_000_000, 1, Position: new SourcePosition(partition, 0, 0));

    [Fact]
    public async Task Progress_check_fails_only_when_input_waits_and_nothing_commits()
    {
        var probe = new EngineProbe();
        await Task.Delay(30);
        Assert.True(EngineHealth.Progress(probe, TimeSpan.FromMilliseconds(1)).Ok, "no input waiting: an idle engine is not stuck");
        probe.OnStatistics(Statistics);
        var stuck = EngineHealth.Progress(probe, TimeSpan.FromMilliseconds(1));
        Assert.False(stuck.Ok);
        Assert.StartsWith("stuck", stuck.Detail, StringComparison.Ordinal);
        Assert.True(EngineHealth.Progress(probe, TimeSpan.FromMinutes(5)).Ok, "recent progress: not stuck");
    }
}
