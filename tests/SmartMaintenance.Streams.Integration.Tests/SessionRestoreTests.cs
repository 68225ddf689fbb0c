using System.Diagnostics;
using System.Globalization;
using Npgsql;
using SmartMaintenance.Streams.Alerting;
using SmartMaintenance.Streams.Engine;
using SmartMaintenance.Streams.Engine.Stages;
using SmartMaintenance.Streams.Ingest;
using SmartMaintenance.Streams.Kafka;
using SmartMaintenance.Streams.Scoring;
using SmartMaintenance.Streams.Storage;
using SmartMaintenance.Streams.Testing;
using SmartMaintenance.Streams.Windowing;
using Xunit;

namespace SmartMaintenance.Streams.Integration.Tests;

/// <summary>
/// Session windows across a restart (docs/windowing.md, "Session boundaries"): with Engine:PersistDetectorState the
/// engine stores each sensor's session boundaries with its state, so the stored session aggregates equal those of an
/// uninterrupted run in both cases a replay from offsets alone gets wrong: a session still open at the restart whose
/// first readings are already behind the stored watermark, and a reading before the end of a session closed before it.
/// </summary>
[Collection(ServicesCollection.Name)]
public sealed class SessionRestoreTests(KafkaFixture kafka, PostgresFixture postgres)
{
    private const string Kind = "session:30s";

    private sealed record Setup(string Input, string Dlq, string Alerts, string Group, string Db);

    private async Task<Setup> NewSetup(string? input = null) => new(
        input ?? kafka.CreateUniqueTopic("sessions", 1),
        kafka.CreateUniqueTopic("sessions-dlq", 1),
        kafka.CreateUniqueTopic("sessions-alerts", 1),
        "sessions-" + Guid.NewGuid().ToString("N")[..10],
        await postgres.CreateDatabaseAsync());

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Session_aggregates_after_a_restart_equal_an_uninterrupted_run_only_with_persisted_boundaries(bool persist)
    {
        var t0 = (DateTimeOffset.UtcNow.AddHours(-8).ToUnixTimeMilliseconds() / 60_000) * 60_000;
        long S(int seconds) => t0 + (seconds * 1000L);
        // Before the restart: "long" reports every 10 s (one session, open at the restart, its first readings far behind
        // the watermark); "short" reports from 100 s to 150 s, a session [100 s, 180 s) closed when the watermark
        // (max time − 5 s) passes 180 s.
        var before = new List<TestMessage>();
        for (var s = 0; s <= 190; s += 10)
        {
            before.Add(Message("long", S(s), s));
            if (s is >= 100 and <= 150)
            {
                before.Add(Message("short", S(s), s));
            }
        }
        // After it: a "short" reading at 170 s, before the end of its closed session but within the gap of the watermark
        // (185 s): late in an uninterrupted run. "long" goes on; a far later reading closes every session.
        var after = new List<TestMessage> { Message("short", S(170), 999) };
        for (var s = 200; s <= 300; s += 10)
        {
            after.Add(Message("long", S(s), s));
        }
        after.Add(Message("tick", S(10_000), 0));

        var restarted = await NewSetup();
        var reference = await NewSetup(restarted.Input);
        await kafka.ProduceAsync(restarted.Input, before);
        await RunUntilAsync(restarted, persist, before.Count);
        if (persist)
        {
            Assert.Equal(1L, await ScalarAsync<long>(restarted.Db, "SELECT count(*) FROM detector_state WHERE sensor_id = 'long'"));
        }
        await kafka.ProduceAsync(restarted.Input, after);
        await RunUntilAsync(restarted, persist, after.Count);

        // The same input, uninterrupted.
        await RunUntilAsync(reference, persist, before.Count + after.Count);

        var expected = await SessionsAsync(reference.Db);
        Assert.Equal(
            [$"long {S(0)}-{S(330)} n=31 final", $"short {S(100)}-{S(180)} n=6 final"],
            expected.Select(Describe).ToList());
        var actual = await SessionsAsync(restarted.Db);
        if (persist)
        {
            Assert.Equal(expected, actual);
            Assert.Equal(1L, await ScalarAsync<long>(restarted.Db, "SELECT count(*) FROM detector_state WHERE sensor_id = 'short'"));
        }
        else
        {
            // Without the boundaries "long" loses its first readings and the late "short" reading opens a session of its own.
            Assert.NotEqual(expected, actual);
            Assert.Contains(actual, a => a.Sensor == "short" && a.Start == S(170));
        }
        string Describe(SessionRow r) =>
            $"{r.Sensor} {r.Start}-{r.End} n={r.Count} {(r.Final ? "final" : "open")}";
    }

    [Fact]
    public async Task Session_aggregates_after_a_SIGKILL_and_restart_equal_an_uninterrupted_run()
    {
        var t0 = (DateTimeOffset.UtcNow.AddHours(-8).ToUnixTimeMilliseconds() / 60_000) * 60_000;
        long S(int seconds) => t0 + (seconds * 1000L);
        var before = new List<TestMessage>();
        for (var s = 0; s <= 190; s += 10)
        {
            before.Add(Message("long", S(s), s));
            if (s is >= 100 and <= 150)
            {
                before.Add(Message("short", S(s), s));
            }
        }
        var after = new List<TestMessage> { Message("short", S(170), 999) };
        for (var s = 200; s <= 300; s += 10)
        {
            after.Add(Message("long", S(s), s));
        }
        after.Add(Message("tick", S(10_000), 0));

        var killed = await NewSetup();
        var reference = await NewSetup(killed.Input);
        await kafka.ProduceAsync(killed.Input, before);
        using (var first = StartEngineProcess(killed))
        {
            // The batch holding the last reading also holds the state of every sensor whose boundaries it changed.
            await WaitUntilAsync(async () => await ScalarAsync<long>(killed.Db, "SELECT count(*) FROM readings") >= before.Count, first);
            first.Kill(entireProcessTree: true);
            await first.WaitForExitAsync();
        }
        Assert.Equal(2L, await ScalarAsync<long>(killed.Db, "SELECT count(*) FROM detector_state WHERE sensor_id IN ('long', 'short')"));
        await kafka.ProduceAsync(killed.Input, after);
        using (var second = StartEngineProcess(killed))
        {
            await WaitUntilAsync(async () => await ScalarAsync<long>(killed.Db,
                $"SELECT count(*) FROM window_aggregates WHERE sensor_id = 'long' AND window_kind = '{Kind}' AND is_final") >= 1, second);
            await StopGracefullyAsync(second);
        }
        await RunUntilAsync(reference, persist: true, before.Count + after.Count);

        var expected = await SessionsAsync(reference.Db);
        Assert.Equal(2, expected.Count);
        Assert.Equal(expected, await SessionsAsync(killed.Db));
        Assert.Equal(before.Count + after.Count - 1, await ScalarAsync<long>(killed.Db, "SELECT count(*) FROM readings"));
    }

    /// <summary>`smstream run` with one 30 s session spec and the default idle timeout (the shared helper shortens it).</summary>
    private Process StartEngineProcess(Setup s) => EngineProcess.Start(kafka, s.Input, s.Dlq, s.Alerts, s.Group, s.Db,
    [
        new("SMSTREAM_STORAGE__BATCHMAXDELAY", "00:00:00.1"),
        new("SMSTREAM_VALIDATION__MAXPASTAGE", TimeSpan.FromDays(365 * 30).ToString("c", CultureInfo.InvariantCulture)),
        new("SMSTREAM_WINDOWS__IDLETIMEOUT", "00:00:30"),
        new("SMSTREAM_WINDOWS__SPECS__0__KIND", "session"),
        new("SMSTREAM_WINDOWS__SPECS__0__GAP", "00:00:30"),
    ]);

    private static Task StopGracefullyAsync(Process p) => EngineProcess.StopGracefullyAsync(p);

    private static Task WaitUntilAsync(Func<Task<bool>> condition, Process process) =>
        EngineProcess.WaitUntilAsync(condition, TimeSpan.FromSeconds(90), process);

    private sealed record SessionRow(string Sensor, long Start, long End, long Count, double Sum, double Min, double Max, bool Final);

    private static TestMessage Message(string sensor, long ts, double value) =>
        TestMessage.Utf8(sensor, string.Create(CultureInfo.InvariantCulture, $$"""{"sensor_id":"{{sensor}}","ts":{{ts}},"value":{{value:R}}}"""));

    private StreamEngine Engine(Setup s, StorageOptions storage, IStorageSink sink, bool persist) =>
        new(new EngineOptions { ConsumerGroup = s.Group, PersistDetectorState = persist }, storage, kafka.Options,
            new TopicNames { Readings = s.Input, ReadingsDlq = s.Dlq, Alerts = s.Alerts },
            new ValidationOptions { MaxPastAge = TimeSpan.FromDays(365 * 30) }, sink,
            new PipelineStages(
                new RxWindowStage(new WindowingSettings { Specs = [new WindowSpecSettings { Kind = "session", Gap = TimeSpan.FromSeconds(30) }] }),
                new DetectorPipeline(new ScoringOptions()), new AlertTracker(new AlertOptions())));

    /// <summary>Runs a fresh engine (new stages: nothing kept in memory) until it stored or rejected
    /// <paramref name="readings"/> new readings, then stops it gracefully.</summary>
    private async Task RunUntilAsync(Setup s, bool persist, long readings)
    {
        var storage = new StorageOptions { ConnectionString = s.Db, BatchMaxDelay = TimeSpan.FromMilliseconds(100), BatchMaxRows = 2000 };
        await using var sink = new PostgresSink(storage);
        var engine = Engine(s, storage, sink, persist);
        using var cts = new CancellationTokenSource();
        var run = engine.RunAsync(cts.Token);
        var sw = Stopwatch.StartNew();
        while (engine.Counters.Stored + engine.Counters.RejectedTotal < readings)
        {
            if (run.IsCompleted)
            {
                await run;
                Assert.Fail("engine stopped before it processed the input");
            }
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(90), "input not processed within 90 s");
            await Task.Delay(50);
        }
        await Task.Delay(300);
        await cts.CancelAsync();
        await run;
    }

    private static async Task<List<SessionRow>> SessionsAsync(string db)
    {
        await using var conn = new NpgsqlConnection(db);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(
            $"""
            SELECT sensor_id, (extract(epoch FROM window_start) * 1000)::bigint, (extract(epoch FROM window_end) * 1000)::bigint,
                   count, sum, min, max, is_final
            FROM window_aggregates WHERE window_kind = '{Kind}' ORDER BY 1, 2
            """, conn);
        await using var reader = await cmd.ExecuteReaderAsync();
        var list = new List<SessionRow>();
        while (await reader.ReadAsync())
        {
            list.Add(new SessionRow(reader.GetString(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3),
                reader.GetDouble(4), reader.GetDouble(5), reader.GetDouble(6), reader.GetBoolean(7)));
        }
        return list;
    }

    private static async Task<T> ScalarAsync<T>(string db, string sql)
    {
        await using var conn = new NpgsqlConnection(db);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, conn);
        return (T)(await cmd.ExecuteScalarAsync())!;
    }
}
