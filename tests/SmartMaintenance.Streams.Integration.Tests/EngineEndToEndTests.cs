using System.Diagnostics;
using System.Globalization;
using Npgsql;
using SmartMaintenance.Streams.Alerting;
using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Engine;
using SmartMaintenance.Streams.Engine.Stages;
using SmartMaintenance.Streams.Scoring;
using SmartMaintenance.Streams.Ingest;
using SmartMaintenance.Streams.Kafka;
using SmartMaintenance.Streams.Storage;
using SmartMaintenance.Streams.Testing;
using SmartMaintenance.Streams.Windowing;
using Xunit;

namespace SmartMaintenance.Streams.Integration.Tests;

[Collection(ServicesCollection.Name)]
public sealed class EngineEndToEndTests(KafkaFixture kafka, PostgresFixture postgres)
{
    private sealed record Topics(string Input, string Dlq, string Alerts, string Group);

    private Topics NewTopics(int partitions = 6) => new(
        kafka.CreateUniqueTopic("readings", partitions),
        kafka.CreateUniqueTopic("readings-dlq", 2),
        kafka.CreateUniqueTopic("alerts", 2),
        "engine-" + Guid.NewGuid().ToString("N")[..10]);

    private static EngineOptions EngineOptionsFor(Topics t) => new() { ConsumerGroup = t.Group };

    private static TopicNames TopicNamesFor(Topics t) => new() { Readings = t.Input, ReadingsDlq = t.Dlq, Alerts = t.Alerts };

    private static PipelineStages Stages() =>
        new(new RxWindowStage(new WindowingSettings()), new DetectorPipeline(new ScoringOptions()), new AlertTracker(new AlertOptions()));

    private static StorageOptions StorageFor(string connectionString) => new()
    {
        ConnectionString = connectionString,
        BatchMaxDelay = TimeSpan.FromMilliseconds(100),
    };

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task Engine_stores_exactly_the_valid_readings_and_dead_letters_each_invalid_one_with_its_reason(int writers)
    {
        var topics = NewTopics();
        var db = await postgres.CreateDatabaseAsync();
        var valid = Enumerable.Range(0, 3000).Select(i => ReadingFactory.ValidMessage(i % 50, i)).ToList();
        var invalid = ReadingFactory.Invalid(60);
        // Every other invalid message has no key, and each carries a header of its own: the DLQ record keeps both as they
        // were (the consumer copies keys and values into reused buffers, so a stale key must never leak into a record).
        var messages = valid
            .Concat(invalid.Select((x, i) => TestMessage.Utf8(i % 2 == 0 ? "bad" : null, x.Json, ("origin", "producer-" + i))))
            .ToList();
        await kafka.ProduceAsync(topics.Input, messages);

        var storage = StorageFor(db);
        // Partition-affine writers: each connection commits its partitions' rows and offsets in its own transactions.
        var sinks = Enumerable.Range(0, writers).Select(_ => (IStorageSink)new PostgresSink(storage)).ToList();
        var engine = new StreamEngine(EngineOptionsFor(topics), storage, kafka.Options, TopicNamesFor(topics), new ValidationOptions(), sinks, Stages());
        using var cts = new CancellationTokenSource();
        var run = engine.RunAsync(cts.Token);
        await WaitUntil(() => engine.Counters.Stored + engine.Counters.RejectedTotal >= messages.Count, run, TimeSpan.FromSeconds(90));
        await cts.CancelAsync();
        await run;
        foreach (var sink in sinks)
        {
            await sink.DisposeAsync();
        }

        Assert.Equal(valid.Count, engine.Counters.Stored);
        await using var conn = new NpgsqlConnection(db);
        await conn.OpenAsync();
        Assert.Equal(valid.Count, await Scalar<long>(conn, "SELECT count(*) FROM readings"));
        Assert.Equal(0L, await Scalar<long>(conn, "SELECT count(*) FROM (SELECT 1 FROM readings GROUP BY kafka_partition, kafka_offset, kafka_index HAVING count(*) > 1) d"));
        Assert.Equal(Enumerable.Range(0, 3000).Sum(i => (long)i), await Scalar<decimal>(conn, "SELECT sum(seq) FROM readings"));
        // Offsets of record cover every message consumed, valid or not.
        Assert.Equal(messages.Count, await Scalar<decimal>(conn, $"SELECT sum(next_offset) FROM stream_offsets WHERE consumer_group = '{topics.Group}'"));

        var dlq = await kafka.ConsumeAllAsync(topics.Dlq);
        Assert.Equal(invalid.Count, dlq.Count);
        Assert.Equal(
            invalid.GroupBy(x => x.Reason).ToDictionary(g => g.Key, g => g.Count()),
            dlq.GroupBy(m => m.Header("dlq.reason")!).ToDictionary(g => g.Key, g => g.Count()));
        Assert.All(dlq, m =>
        {
            Assert.Equal(topics.Input, m.Header("dlq.source.topic"));
            Assert.False(string.IsNullOrEmpty(m.Header("dlq.detail")));
            Assert.Contains(m.ValueText, invalid.Select(x => x.Json));
            var i = int.Parse(m.Header("origin")!["producer-".Length..], CultureInfo.InvariantCulture);
            Assert.Equal(invalid[i].Json, m.ValueText);
            Assert.Equal(i % 2 == 0 ? "bad" : null, m.Key is null ? null : m.KeyText);
        });
    }

    [Fact]
    public async Task Batch_envelopes_store_good_readings_and_dead_letter_only_the_bad_one()
    {
        var topics = NewTopics(2);
        var db = await postgres.CreateDatabaseAsync();
        var good1 = ReadingFactory.Valid(1, 1);
        var good2 = ReadingFactory.Valid(1, 2);
        var bad = """{"sensor_id":"s-1","ts":"2026-01-01T00:00:00Z","value":"NaN"}""";
        await kafka.ProduceAsync(topics.Input, ReadingFactory.Message($$"""{"readings":[{{good1}},{{bad}},{{good2}}]}""", "asset-1"));

        var storage = StorageFor(db);
        await using var sink = new PostgresSink(storage);
        var engine = new StreamEngine(EngineOptionsFor(topics), storage, kafka.Options, TopicNamesFor(topics), new ValidationOptions(), sink, Stages());
        using var cts = new CancellationTokenSource();
        var run = engine.RunAsync(cts.Token);
        await WaitUntil(() => engine.Counters.Stored + engine.Counters.RejectedTotal >= 3, run, TimeSpan.FromSeconds(60));
        await cts.CancelAsync();
        await run;

        await using var conn = new NpgsqlConnection(db);
        await conn.OpenAsync();
        Assert.Equal(2L, await Scalar<long>(conn, "SELECT count(*) FROM readings"));
        var dlq = Assert.Single(await kafka.ConsumeAllAsync(topics.Dlq));
        Assert.Equal("non_finite_value", dlq.Header("dlq.reason"));
        Assert.Equal("1", dlq.Header("dlq.source.index"));
        Assert.Equal(bad, dlq.ValueText);
    }

    [Fact]
    public async Task Late_reading_goes_to_the_DLQ_but_the_same_reading_replayed_from_the_DLQ_is_stored()
    {
        var topics = NewTopics(1);
        var db = await postgres.CreateDatabaseAsync();
        // 30 minutes of one sensor move the watermark far past the first minutes' windows.
        await kafka.ProduceAsync(topics.Input, Enumerable.Range(0, 360).Select(i => ReadingFactory.ValidMessage(7, i * 20)));
        var late = ReadingFactory.Valid(7, 1, value: 99.5);
        await kafka.ProduceAsync(topics.Input,
            TestMessage.Utf8("s-7", late),
            TestMessage.Utf8("s-7", late, ("dlq.replayed.from", "readings-dlq/0/1")));

        var storage = StorageFor(db);
        await using var sink = new PostgresSink(storage);
        var engine = new StreamEngine(EngineOptionsFor(topics), storage, kafka.Options, TopicNamesFor(topics), new ValidationOptions(), sink, Stages());
        using var cts = new CancellationTokenSource();
        var run = engine.RunAsync(cts.Token);
        await WaitUntil(() => engine.Counters.Stored + engine.Counters.RejectedTotal >= 362, run, TimeSpan.FromSeconds(60));
        await cts.CancelAsync();
        await run;

        Assert.Equal(1, engine.Counters.Rejected(RejectReason.Late));
        Assert.Equal(361, engine.Counters.Stored);
        await using var conn = new NpgsqlConnection(db);
        await conn.OpenAsync();
        Assert.Equal(1L, await Scalar<long>(conn, "SELECT count(*) FROM readings WHERE value = 99.5"));
        var dlq = Assert.Single(await kafka.ConsumeAllAsync(topics.Dlq));
        Assert.Equal("late", dlq.Header("dlq.reason"));
    }

    [Fact]
    public async Task Engine_killed_mid_stream_and_restarted_stores_every_reading_exactly_once()
    {
        var topics = NewTopics();
        var db = await postgres.CreateDatabaseAsync();
        const int total = 40_000;
        await kafka.ProduceAsync(topics.Input, Enumerable.Range(0, total).Select(i => ReadingFactory.ValidMessage(i % 200, i)));

        await using var conn = new NpgsqlConnection(db);
        await conn.OpenAsync();
        using (var first = StartEngineProcess(topics, db))
        {
            await WaitUntilAsync(async () => await Scalar<long>(conn, "SELECT count(*) FROM readings") >= 5_000, TimeSpan.FromSeconds(90), first);
            first.Kill(entireProcessTree: true);
            await first.WaitForExitAsync();
        }
        var atKill = await Scalar<long>(conn, "SELECT count(*) FROM readings");
        Assert.InRange(atKill, 5_000, total);

        using (var second = StartEngineProcess(topics, db))
        {
            await WaitUntilAsync(async () => await Scalar<long>(conn, "SELECT count(*) FROM readings") >= total, TimeSpan.FromSeconds(120), second);
            // Let it idle past the idle timeout: windows are released, and a duplicate write would show up now.
            await Task.Delay(5000);
            await StopGracefully(second);
        }

        Assert.Equal(total, await Scalar<long>(conn, "SELECT count(*) FROM readings"));
        Assert.Equal(0L, await Scalar<long>(conn, "SELECT count(*) FROM (SELECT 1 FROM readings GROUP BY kafka_partition, kafka_offset, kafka_index HAVING count(*) > 1) d"));
        Assert.Equal(Enumerable.Range(0, total).Sum(i => (long)i), await Scalar<decimal>(conn, "SELECT sum(seq) FROM readings"));

        // Window state rebuilt by replay: every final 1-minute aggregate equals a recompute from the stored readings.
        const string recompute = """
            WITH r AS (
                SELECT sensor_id, to_timestamp(floor(extract(epoch FROM ts) / 60) * 60) AS ws,
                       count(*) AS c, sum(value) AS s, min(value) AS mn, max(value) AS mx
                FROM readings GROUP BY 1, 2)
            SELECT count(*) FILTER (WHERE r.sensor_id IS NULL OR a.count <> r.c OR abs(a.sum - r.s) > 1e-6 OR a.min <> r.mn OR a.max <> r.mx),
                   count(*),
                   (SELECT count(*) FROM r)
            FROM window_aggregates a LEFT JOIN r ON a.sensor_id = r.sensor_id AND a.window_start = r.ws
            WHERE a.window_kind = 'tumbling:1m' AND a.is_final
            """;
        await using var cmd = new NpgsqlCommand(recompute, conn);
        await using var reader = await cmd.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        var (mismatched, finals, windows) = (reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2));
        Assert.Equal(0L, mismatched);
        // Only each sensor's newest windows may still be open when the input ends.
        Assert.InRange(finals, windows * 8 / 10, windows);
    }

    private Process StartEngineProcess(Topics t, string db) => EngineProcess.Start(kafka, t.Input, t.Dlq, t.Alerts, t.Group, db);

    private static Task StopGracefully(Process p) => EngineProcess.StopGracefullyAsync(p);

    private static async Task<T> Scalar<T>(NpgsqlConnection conn, string sql)
    {
        await using var cmd = new NpgsqlCommand(sql, conn);
        return (T)(await cmd.ExecuteScalarAsync())!;
    }

    private static async Task WaitUntil(Func<bool> condition, Task run, TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            if (run.IsCompleted)
            {
                await run; // surfaces the engine's fatal error
                Assert.Fail("engine stopped before the condition was met");
            }
            Assert.True(sw.Elapsed < timeout, $"condition not met within {timeout}");
            await Task.Delay(50);
        }
    }

    private static Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, Process process) =>
        EngineProcess.WaitUntilAsync(condition, timeout, process);
}
