using System.Diagnostics;
using System.Globalization;
using Npgsql;
using SmartMaintenance.Streams.Alerting;
using SmartMaintenance.Streams.Engine;
using SmartMaintenance.Streams.Engine.Stages;
using SmartMaintenance.Streams.Ingest;
using SmartMaintenance.Streams.Kafka;
using SmartMaintenance.Streams.Scoring;
using SmartMaintenance.Streams.Scoring.Nab;
using SmartMaintenance.Streams.Storage;
using SmartMaintenance.Streams.Testing;
using SmartMaintenance.Streams.Windowing;
using Xunit;

namespace SmartMaintenance.Streams.Integration.Tests;

/// <summary>
/// Engine:PersistDetectorState: each sensor's detector state and open alerts are stored with the offsets and restored on
/// assignment, so after a restart (graceful or SIGKILL) a sensor continues exactly as if the engine had never stopped,
/// instead of re-warming from the few minutes of input the window replay covers.
/// </summary>
[Collection(ServicesCollection.Name)]
public sealed class DetectorStateRestoreTests(KafkaFixture kafka, PostgresFixture postgres)
{
    private static readonly TimeSpan Idle = TimeSpan.FromSeconds(2);

    private sealed record Setup(string Input, string Dlq, string Alerts, string Group, string Db);

    private async Task<Setup> NewSetup(int partitions, string? input = null) => new(
        input ?? kafka.CreateUniqueTopic("state", partitions),
        kafka.CreateUniqueTopic("state-dlq", 1),
        kafka.CreateUniqueTopic("state-alerts", 1),
        "state-" + Guid.NewGuid().ToString("N")[..10],
        await postgres.CreateDatabaseAsync());

    private static string Reading(string sensor, long ts, double value) =>
        string.Create(CultureInfo.InvariantCulture, $$"""{"sensor_id":"{{sensor}}","ts":{{ts}},"value":{{value:R}}}""");

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_sensor_past_warm_up_fires_on_an_anomaly_right_after_a_restart_only_with_restored_state(bool persist)
    {
        var s = await NewSetup(1);
        // One reading a minute: 400 readings are far more than the minutes of input a restart replays for the windows.
        var t0 = (DateTimeOffset.UtcNow.AddHours(-8).ToUnixTimeMilliseconds() / 60_000) * 60_000;
        await kafka.ProduceAsync(s.Input, Enumerable.Range(0, 400).Select(i => TestMessage.Utf8("warm", Reading("warm", t0 + (i * 60_000L), Normal(i)))));
        await RunUntilStoredAsync(s, persist, 400);
        if (persist)
        {
            Assert.Equal(400L, await ScalarAsync<long>(s.Db, "SELECT state_offset FROM detector_state WHERE sensor_id = 'warm'"));
        }

        var spikeTs = t0 + (400 * 60_000L);
        await kafka.ProduceAsync(s.Input, TestMessage.Utf8("warm", Reading("warm", spikeTs, 60)));
        await RunUntilStoredAsync(s, persist, 1);

        var fired = await ScalarAsync<long>(s.Db,
            $"SELECT count(*) FROM anomalies WHERE sensor_id = 'warm' AND detector NOT LIKE 'window/%' AND ts = to_timestamp({spikeTs} / 1000.0)");
        Assert.Equal(persist ? 1L : 0L, fired);
        if (!persist)
        {
            return;
        }

        // The alert the spike opened survives the next restart too: readings past the quiet period resolve that very alert.
        await kafka.ProduceAsync(s.Input, Enumerable.Range(401, 10).Select(i => TestMessage.Utf8("warm", Reading("warm", t0 + (i * 60_000L), Normal(i)))));
        await RunUntilStoredAsync(s, persist, 10);
        Assert.Equal("resolved", await ScalarAsync<string>(s.Db,
            "SELECT string_agg(status, ',') FROM alerts WHERE sensor_id = 'warm' AND detector NOT LIKE 'window/%'"));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Anomalies_after_a_SIGKILL_and_restart_equal_those_of_an_uninterrupted_run(bool windows)
    {
        var series = NabCorpus.Load(RepositoryPaths.NabDev()).Single(x => x.Name == "realKnownCause/ambient_temperature_system_failure.csv");
        var n = series.Values.Length;
        var (third, twoThirds) = (n / 3, 2 * n / 3);
        var sensor = "nab-ambient";
        var messages = series.Values.Select((v, i) => TestMessage.Utf8(sensor, Reading(sensor, series.Timestamps[i], v))).ToList();
        var killed = await NewSetup(1);
        var reference = await NewSetup(1, killed.Input);

        await kafka.ProduceAsync(killed.Input, messages.Take(third));
        using (var first = StartEngineProcess(killed, windows))
        {
            await WaitUntilAsync(async () => await ScalarAsync<long>(killed.Db, "SELECT count(*) FROM readings") >= third, first);
            // Idle past Engine:DetectorStateInterval: the checkpoint the restart restores from.
            await WaitUntilAsync(async () => await ScalarAsync<long>(killed.Db, "SELECT count(*) FROM detector_state") >= 1, first);
            await kafka.ProduceAsync(killed.Input, messages.Skip(third).Take(twoThirds - third));
            await WaitUntilAsync(async () => await ScalarAsync<long>(killed.Db, "SELECT count(*) FROM readings") >= twoThirds, first);
            first.Kill(entireProcessTree: true);
            await first.WaitForExitAsync();
        }
        var stateAtKill = await ScalarAsync<long>(killed.Db, "SELECT coalesce(max(state_offset), 0) FROM detector_state");
        await kafka.ProduceAsync(killed.Input, messages.Skip(twoThirds));
        using (var second = StartEngineProcess(killed, windows))
        {
            await WaitUntilAsync(async () => await ScalarAsync<long>(killed.Db, "SELECT count(*) FROM readings") >= n, second);
            await Task.Delay(Idle * 2.5); // windows released by the idle timeout
            await EngineProcess.StopGracefullyAsync(second);
        }

        // The same input, uninterrupted, in this process with the same settings.
        var storage = Storage(reference.Db);
        await using (var sink = new PostgresSink(storage))
        {
            var engine = Engine(reference, storage, sink, persist: true, windows);
            using var cts = new CancellationTokenSource();
            var run = engine.RunAsync(cts.Token);
            await WaitUntilAsync(() => Task.FromResult(engine.Counters.Stored >= n), run);
            await Task.Delay(Idle * 2.5);
            await cts.CancelAsync();
            await run;
        }

        var expected = await AnomaliesAsync(reference.Db);
        var actual = await AnomaliesAsync(killed.Db);
        Assert.Equal(n, await ScalarAsync<long>(killed.Db, "SELECT count(*) FROM readings"));
        Assert.InRange(stateAtKill, 1, twoThirds);
        var afterKill = expected.Count(a => long.Parse(a.Split('/')[0], CultureInfo.InvariantCulture) >= series.Timestamps[twoThirds]);
        Assert.True(afterKill > 0, "the comparison needs anomalies after the restart");
        if (windows)
        {
            Assert.Contains(expected, a => a.Contains("/window/", StringComparison.Ordinal));
        }
        Assert.Equal(expected, actual);
    }

    [Fact]
    public async Task A_partition_handed_over_in_a_rebalance_keeps_its_sensors_warm_on_the_new_owner()
    {
        var s = await NewSetup(2);
        var t0 = (DateTimeOffset.UtcNow.AddHours(-8).ToUnixTimeMilliseconds() / 60_000) * 60_000;
        var sensors = Enumerable.Range(0, 8).Select(i => $"rb-{i}").ToArray();
        await kafka.ProduceAsync(s.Input, Enumerable.Range(0, 300).SelectMany(i =>
            sensors.Select(id => TestMessage.Utf8(id, Reading(id, t0 + (i * 60_000L), Normal(i + id.Length))))));
        var total = 300 * sensors.Length;

        var storage = Storage(s.Db);
        await using var sinkA = new PostgresSink(storage);
        await using var sinkB = new PostgresSink(storage);
        var a = Engine(s, storage, sinkA, persist: true, windows: true);
        using var stopA = new CancellationTokenSource();
        var runA = a.RunAsync(stopA.Token);
        await WaitUntilAsync(() => Task.FromResult(a.Counters.Stored >= total), runA);

        // B joins: cooperative rebalancing hands one of A's two partitions over, with its sensors' state.
        var b = Engine(s, storage, sinkB, persist: true, windows: true);
        using var stopB = new CancellationTokenSource();
        var runB = b.RunAsync(stopB.Token);
        await WaitUntilAsync(() => Task.FromResult(a.AssignedPartitions.Length == 1 && b.AssignedPartitions.Length == 1), runB, TimeSpan.FromSeconds(60));

        var spikeTs = t0 + (300 * 60_000L);
        await kafka.ProduceAsync(s.Input, sensors.Select(id => TestMessage.Utf8(id, Reading(id, spikeTs, 60))));
        await WaitUntilAsync(() => Task.FromResult(a.Counters.Stored + b.Counters.Stored >= total + sensors.Length), runB, TimeSpan.FromSeconds(60));
        Assert.True(b.Counters.Stored > 0, "the new owner must have scored some of the spikes");
        await stopB.CancelAsync();
        await stopA.CancelAsync();
        await runB;
        await runA;

        Assert.Equal((long)sensors.Length, await ScalarAsync<long>(s.Db,
            $"SELECT count(DISTINCT sensor_id) FROM anomalies WHERE detector NOT LIKE 'window/%' AND ts = to_timestamp({spikeTs} / 1000.0)"));
    }

    /// <summary>A calm signal with some texture (so the detectors' scales are not degenerate).</summary>
    private static double Normal(int i) => 20 + (0.3 * Math.Sin(i * 0.7)) + (0.1 * ((i * 7919) % 13) / 13.0);

    private static StorageOptions Storage(string db) => new()
    {
        ConnectionString = db,
        BatchMaxDelay = TimeSpan.FromMilliseconds(100),
        BatchMaxRows = 2000,
    };

    private static WindowingSettings Windows(bool windows) => new()
    {
        IdleTimeout = Idle,
        // Without windows for this sensor (a spec for another type only), its state is written only at checkpoints.
        Specs = windows ? [] : [new WindowSpecSettings { Kind = "tumbling", Size = TimeSpan.FromMinutes(1), SensorTypes = ["unused"] }],
    };

    private StreamEngine Engine(Setup s, StorageOptions storage, IStorageSink sink, bool persist, bool windows) =>
        new(new EngineOptions { ConsumerGroup = s.Group, PersistDetectorState = persist }, storage, kafka.Options,
            new TopicNames { Readings = s.Input, ReadingsDlq = s.Dlq, Alerts = s.Alerts },
            new ValidationOptions { MaxPastAge = TimeSpan.FromDays(365 * 30) }, sink,
            new PipelineStages(new RxWindowStage(Windows(windows)), new DetectorPipeline(new ScoringOptions()), new AlertTracker(new AlertOptions())));

    /// <summary>Runs a fresh engine (new stages: nothing kept in memory) until it stored <paramref name="readings"/>, then stops it gracefully.</summary>
    private async Task RunUntilStoredAsync(Setup s, bool persist, long readings)
    {
        var storage = Storage(s.Db);
        await using var sink = new PostgresSink(storage);
        var engine = Engine(s, storage, sink, persist, windows: true);
        using var cts = new CancellationTokenSource();
        var run = engine.RunAsync(cts.Token);
        await WaitUntilAsync(() => Task.FromResult(engine.Counters.Stored >= readings), run);
        await Task.Delay(Idle * 1.5);
        await cts.CancelAsync();
        await run;
    }

    private static async Task<List<string>> AnomaliesAsync(string db)
    {
        await using var conn = new NpgsqlConnection(db);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(
            "SELECT (extract(epoch FROM ts) * 1000)::bigint, detector, round(score::numeric, 9)::text FROM anomalies ORDER BY 1, 2", conn);
        await using var reader = await cmd.ExecuteReaderAsync();
        var list = new List<string>();
        while (await reader.ReadAsync())
        {
            list.Add($"{reader.GetInt64(0)}/{reader.GetString(1)}/{reader.GetString(2)}");
        }
        return list;
    }

    private Process StartEngineProcess(Setup s, bool windows)
    {
        var environment = new Dictionary<string, string>
        {
            ["SMSTREAM_ENGINE__DETECTORSTATEINTERVAL"] = "00:00:01",
            ["SMSTREAM_STORAGE__BATCHMAXDELAY"] = "00:00:00.1",
            ["SMSTREAM_VALIDATION__MAXPASTAGE"] = TimeSpan.FromDays(365 * 30).ToString("c", CultureInfo.InvariantCulture),
            ["SMSTREAM_WINDOWS__IDLETIMEOUT"] = Idle.ToString("c", CultureInfo.InvariantCulture),
        };
        if (!windows)
        {
            environment["SMSTREAM_WINDOWS__SPECS__0__KIND"] = "tumbling";
            environment["SMSTREAM_WINDOWS__SPECS__0__SIZE"] = "00:01:00";
            environment["SMSTREAM_WINDOWS__SPECS__0__SENSORTYPES__0"] = "unused";
        }
        return EngineProcess.Start(kafka, s.Input, s.Dlq, s.Alerts, s.Group, s.Db, environment);
    }

    private static async Task<T> ScalarAsync<T>(string db, string sql)
    {
        await using var conn = new NpgsqlConnection(db);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, conn);
        return (T)(await cmd.ExecuteScalarAsync())!;
    }

    private static Task WaitUntilAsync(Func<Task<bool>> condition, Process process) =>
        EngineProcess.WaitUntilAsync(condition, TimeSpan.FromSeconds(90), process);

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, Task run, TimeSpan? timeout = null)
    {
        var limit = timeout ?? TimeSpan.FromSeconds(90);
        var sw = Stopwatch.StartNew();
        while (!await condition())
        {
            if (run.IsCompleted)
            {
                await run; // surfaces the engine's fatal error
                Assert.Fail("engine stopped before the condition was met");
            }
            Assert.True(sw.Elapsed < limit, $"condition not met within {limit}");
            await Task.Delay(50);
        }
    }
}
