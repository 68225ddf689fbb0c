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
/// Engine:AggregateSliceSize: the aggregates of a minute-end burst reach the writer in slices of bounded size, each its own
/// transaction ahead of the batch that commits the offsets behind them. A crash between the slices and that batch replays
/// to the same rows.
/// </summary>
[Collection(ServicesCollection.Name)]
public sealed class AggregateSliceTests(KafkaFixture kafka, PostgresFixture postgres)
{
    private const int Sensors = 120;
    private const int ReadingsPerSensor = 36; // one every 10 s: six minutes of event time
    private const int SliceSize = 16;
    private static readonly TimeSpan Idle = TimeSpan.FromSeconds(2);

    [Fact]
    public async Task A_crash_after_slices_committed_and_before_their_batch_replays_to_the_rows_of_an_uninterrupted_run()
    {
        var input = kafka.CreateUniqueTopic("slices", 2);
        var total = Sensors * ReadingsPerSensor;
        var t0 = (DateTimeOffset.UtcNow.AddHours(-3).ToUnixTimeMilliseconds() / 60_000 * 60_000) + 3_000;
        await kafka.ProduceAsync(input, Enumerable.Range(0, ReadingsPerSensor).SelectMany(i => Enumerable.Range(0, Sensors).Select(s =>
        {
            var id = "sl-" + s.ToString(CultureInfo.InvariantCulture);
            var value = 20 + Math.Sin((i * 0.37) + s) + (s % 7 * 0.1);
            return TestMessage.Utf8(id, string.Create(CultureInfo.InvariantCulture,
                $$"""{"sensor_id":"{{id}}","ts":{{t0 + (i * 10_000L)}},"value":{{value:R}}}"""));
        })));

        // Reference: the same input without slices, uninterrupted.
        var reference = await NewSetupAsync(input);
        var referenceStorage = Storage(reference.Db);
        await using (var sink = new PostgresSink(referenceStorage))
        {
            await RunToEndAsync(Engine(reference, referenceStorage, sink, sliceSize: 0), reference.Db, total);
        }

        // Slices of 16: the first batch after the second minute end's slices fails fatally, as a crash would leave it.
        var crashed = await NewSetupAsync(input);
        var storage = Storage(crashed.Db);
        await using (var sink = new PostgresSink(storage))
        {
            var crashing = new CrashAfterSlices(sink, slicesBeforeCrash: 2 * Sensors * 2 / SliceSize);
            var engine = Engine(crashed, storage, crashing, SliceSize);
            await Assert.ThrowsAsync<EngineFatalException>(() => engine.RunAsync(CancellationToken.None));
            Assert.InRange(crashing.MaxSliceAggregates, 1, SliceSize);
            Assert.True(crashing.BatchesBefore > 0, "the crash must come after some batch committed offsets");
        }
        var storedWatermark = await ScalarAsync<long>(crashed.Db, "SELECT max(watermark) FROM stream_offsets");
        Assert.True(await ScalarAsync<long>(crashed.Db, "SELECT count(*) FROM readings") < total);
        // Windows final beyond the committed watermark: they were stored by the slices alone.
        Assert.True(await ScalarAsync<long>(crashed.Db,
            $"SELECT count(*) FROM window_aggregates WHERE is_final AND (extract(epoch FROM window_end) * 1000)::bigint > {storedWatermark}") > 0);

        // Restart with slices on: the replay writes the slices' rows again and the run ends like the reference.
        var restarted = new CountingSink(new PostgresSink(storage));
        await using (restarted)
        {
            await RunToEndAsync(Engine(crashed, storage, restarted, SliceSize), crashed.Db, total);
        }
        Assert.True(restarted.Slices > 0);
        Assert.InRange(restarted.MaxSliceAggregates, 1, SliceSize);

        Assert.Equal(total, await ScalarAsync<long>(crashed.Db, "SELECT count(*) FROM readings"));
        var expected = await RowsAsync(reference.Db, AggregatesSql);
        // Final per sensor: 5 of the 6 one-minute windows and 5 of the 10 hopping ones (the watermark stops 5 s behind the last reading).
        Assert.Equal(Sensors * (5 + 5), expected.Count(r => r.EndsWith("/True", StringComparison.Ordinal)));
        Assert.Equal(expected, await RowsAsync(crashed.Db, AggregatesSql));
        Assert.Equal(await RowsAsync(reference.Db, AnomaliesSql), await RowsAsync(crashed.Db, AnomaliesSql));
        Assert.Equal(await RowsAsync(reference.Db, StatesSql), await RowsAsync(crashed.Db, StatesSql));
    }

    private const string AggregatesSql = """
        SELECT sensor_id || '/' || window_kind || '/' || (extract(epoch FROM window_start) * 1000)::bigint || '/' || count || '/' ||
               round(mean::numeric, 9) || '/' || min || '/' || max || '/' || round(p95::numeric, 9) || '/' || (CASE WHEN is_final THEN 'True' ELSE 'False' END)
        FROM window_aggregates ORDER BY 1
        """;

    private const string AnomaliesSql = "SELECT sensor_id || '/' || detector || '/' || (extract(epoch FROM ts) * 1000)::bigint FROM anomalies ORDER BY 1";

    private const string StatesSql = "SELECT sensor_id || '/' || md5(state) FROM detector_state ORDER BY 1";

    private sealed record Setup(string Input, string Dlq, string Alerts, string Group, string Db);

    private async Task<Setup> NewSetupAsync(string input) => new(input, kafka.CreateUniqueTopic("slices-dlq", 1),
        kafka.CreateUniqueTopic("slices-alerts", 1), "slices-" + Guid.NewGuid().ToString("N")[..10], await postgres.CreateDatabaseAsync());

    private static StorageOptions Storage(string db) => new()
    {
        ConnectionString = db,
        BatchMaxDelay = TimeSpan.FromMilliseconds(100),
        BatchMaxRows = 500,
    };

    private StreamEngine Engine(Setup s, StorageOptions storage, IStorageSink sink, int sliceSize) =>
        new(new EngineOptions { ConsumerGroup = s.Group, AggregateSliceSize = sliceSize }, storage, kafka.Options,
            new TopicNames { Readings = s.Input, ReadingsDlq = s.Dlq, Alerts = s.Alerts },
            new ValidationOptions { MaxPastAge = TimeSpan.FromDays(365) }, sink,
            new PipelineStages(new RxWindowStage(new WindowingSettings { IdleTimeout = Idle }), new DetectorPipeline(new ScoringOptions()),
                new AlertTracker(new AlertOptions())));

    /// <summary>Runs until every reading is stored, idles until the idle timeout has closed the last windows, stops gracefully.</summary>
    private static async Task RunToEndAsync(StreamEngine engine, string db, long readings)
    {
        using var cts = new CancellationTokenSource();
        var run = engine.RunAsync(cts.Token);
        var sw = Stopwatch.StartNew();
        while (await ScalarAsync<long>(db, "SELECT count(*) FROM readings") < readings)
        {
            if (run.IsCompleted)
            {
                await run;
                Assert.Fail("engine stopped before storing every reading");
            }
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(90), "readings not stored within 90 s");
            await Task.Delay(50);
        }
        await Task.Delay(Idle * 2.5);
        await cts.CancelAsync();
        await run;
    }

    private static async Task<T> ScalarAsync<T>(string db, string sql)
    {
        await using var conn = new NpgsqlConnection(db);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, conn);
        return (T)(await cmd.ExecuteScalarAsync())!;
    }

    private static async Task<List<string>> RowsAsync(string db, string sql)
    {
        await using var conn = new NpgsqlConnection(db);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, conn);
        await using var reader = await cmd.ExecuteReaderAsync();
        var rows = new List<string>();
        while (await reader.ReadAsync())
        {
            rows.Add(reader.GetString(0));
        }
        return rows;
    }

    /// <summary>Passes everything through, recording the slices.</summary>
    private class CountingSink(IStorageSink inner) : IStorageSink
    {
        public int Slices { get; private set; }
        public int BatchesBefore { get; protected set; }
        public int MaxSliceAggregates { get; private set; }

        public virtual Task WriteAsync(StorageBatch batch, CancellationToken ct)
        {
            if (batch.Fences.Count > 0)
            {
                Slices++;
                MaxSliceAggregates = Math.Max(MaxSliceAggregates, batch.Aggregates.Count);
            }
            return inner.WriteAsync(batch, ct);
        }

        public Task<IReadOnlyDictionary<int, OffsetMark>> LoadOffsetsAsync(string group, string topic, CancellationToken ct) =>
            inner.LoadOffsetsAsync(group, topic, ct);

        public Task<int> LoadDetectorStateAsync(string group, string topic, IReadOnlyCollection<int> partitions, DetectorStateHandler onRow, CancellationToken ct) =>
            inner.LoadDetectorStateAsync(group, topic, partitions, onRow, ct);

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }

    /// <summary>Fails the first batch with offsets after <paramref name="slicesBeforeCrash"/> slices were written: the engine
    /// stops with those slices committed and their batch not, as a crash between them would leave it.</summary>
    private sealed class CrashAfterSlices(IStorageSink inner, int slicesBeforeCrash) : CountingSink(inner)
    {
        public override Task WriteAsync(StorageBatch batch, CancellationToken ct)
        {
            if (batch.Fences.Count == 0 && batch.Offsets.Count > 0)
            {
                if (Slices >= slicesBeforeCrash)
                {
                    throw new StorageException("crash between slices and their batch (test)", isTransient: false);
                }
                BatchesBefore++;
            }
            return base.WriteAsync(batch, ct);
        }
    }
}
