using System.Diagnostics;
using Npgsql;
using SmartMaintenance.Streams.Contracts;

namespace SmartMaintenance.Streams.Storage;

/// <summary>One measured configuration of <see cref="StorageBench"/>: medians over the rounds.</summary>
public sealed record StorageBenchResult(int BatchRows, int Writers, int Rows, double BareRowsPerSecond, double SinkRowsPerSecond, double MedianRatio);

/// <summary>Write throughput of a database: bare binary COPY against <see cref="PostgresSink"/> on the same rows,
/// interleaved round by round so all of them see the same machine load (<c>smstream db bench</c>, the benchmarks).</summary>
public static class StorageBench
{
    private const int Partitions = 12;
    private const int Sensors = 2_000;

    /// <summary>Readings of 2,000 sensors over 12 Kafka partitions, as a gateway-fed engine would store them.</summary>
    public static SensorReading[] Readings(int count, DateTimeOffset start)
    {
        var sensors = new string[Sensors];
        var assets = new string[Sensors / 10];
        for (var i = 0; i < Sensors; i++)
        {
            sensors[i] = FormattableString.Invariant($"pump-{i:D5}-vib");
        }
        for (var i = 0; i < assets.Length; i++)
        {
            assets[i] = FormattableString.Invariant($"asset-{i:D4}");
        }
        var next = new long[Partitions];
        var rng = new Random(42);
        var t0 = start.ToUnixTimeMilliseconds();
        var result = new SensorReading[count];
        for (var i = 0; i < count; i++)
        {
            var s = i % Sensors;
            var p = s % Partitions;
            var offset = next[p]++;
            result[i] = new SensorReading(sensors[s], t0 + (i / 10), 20 + rng.NextDouble(), assets[s / 10], "vibration", "mm/s",
                Quality: 0.99, Seq: offset, Position: new SourcePosition(p, offset, 0));
        }
        return result;
    }

    /// <summary>Splits readings into batches per writer (partition p → writer p % writers, as the engine routes),
    /// each sealed with the offset marks of its writer's partitions.</summary>
    public static List<StorageBatch>[] Batches(SensorReading[] readings, int batchRows, int writers)
    {
        ArgumentNullException.ThrowIfNull(readings);
        var perWriter = new List<StorageBatch>[writers];
        var current = new StorageBatch[writers];
        var next = new long[Partitions];
        for (var w = 0; w < writers; w++)
        {
            perWriter[w] = [];
            current[w] = new StorageBatch();
        }
        foreach (var r in readings)
        {
            var w = r.Position.Partition % writers;
            next[r.Position.Partition] = r.Position.Offset + 1;
            current[w].Readings.Add(r);
            if (current[w].Readings.Count == batchRows)
            {
                Seal(current[w], next, w, writers);
                perWriter[w].Add(current[w]);
                current[w] = new StorageBatch();
            }
        }
        for (var w = 0; w < writers; w++)
        {
            if (current[w].Readings.Count > 0)
            {
                Seal(current[w], next, w, writers);
                perWriter[w].Add(current[w]);
            }
        }
        return perWriter;
    }

    /// <summary>The baseline: one binary COPY per batch (autocommit), the sink's row format, nothing else.</summary>
    public static Task BareCopyAsync(NpgsqlDataSource dataSource, List<StorageBatch>[] perWriter, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        ArgumentNullException.ThrowIfNull(perWriter);
        var tasks = new Task[perWriter.Length];
        for (var w = 0; w < perWriter.Length; w++)
        {
            tasks[w] = CopyAllAsync(dataSource, perWriter[w], ct);
        }
        return Task.WhenAll(tasks);
    }

    /// <summary>The same batches through one <see cref="PostgresSink"/> per writer (readings + offsets per transaction).</summary>
    public static Task SinkAsync(NpgsqlDataSource dataSource, StorageOptions options, List<StorageBatch>[] perWriter, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(perWriter);
        var tasks = new Task[perWriter.Length];
        for (var w = 0; w < perWriter.Length; w++)
        {
            tasks[w] = SinkAllAsync(dataSource, options, perWriter[w], ct);
        }
        return Task.WhenAll(tasks);
    }

    /// <summary>Empties the written tables between runs (and checkpoints, so one run's dirty pages do not bill the next).</summary>
    public static async Task ResetAsync(NpgsqlDataSource dataSource, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        await using var cmd = dataSource.CreateCommand("TRUNCATE readings, window_aggregates, anomalies, alerts, stream_offsets");
        await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        await using var checkpoint = dataSource.CreateCommand("CHECKPOINT");
        await checkpoint.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
    }

    /// <summary>Runs bare COPY and the sink on the same rows for every (batch rows, writers) configuration.</summary>
    /// <remarks>Rounds are the outer loop and the configurations rotate inside each round, and the two paths swap
    /// order every round, so a drifting machine load spreads over all configurations and both paths alike.
    /// Reported figures are medians over the rounds; the ratio is the median of per-round ratios.</remarks>
    public static async Task<IReadOnlyList<StorageBenchResult>> CompareAsync(NpgsqlDataSource dataSource, StorageOptions options, SensorReading[] readings,
        IReadOnlyList<(int BatchRows, int Writers)> configurations, int rounds, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(readings);
        ArgumentNullException.ThrowIfNull(configurations);
        ArgumentOutOfRangeException.ThrowIfLessThan(rounds, 1);
        var n = configurations.Count;
        var batches = new List<StorageBatch>[n][];
        var bare = new double[n][];
        var sink = new double[n][];
        for (var c = 0; c < n; c++)
        {
            batches[c] = Batches(readings, configurations[c].BatchRows, configurations[c].Writers);
            bare[c] = new double[rounds];
            sink[c] = new double[rounds];
        }
        for (var i = 0; i < rounds; i++)
        {
            for (var k = 0; k < n; k++)
            {
                var c = (k + i) % n;
                var b = batches[c];
                if (i % 2 == 1)
                {
                    sink[c][i] = await TimeAsync(() => SinkAsync(dataSource, options, b, ct), dataSource, ct).ConfigureAwait(false);
                }
                bare[c][i] = await TimeAsync(() => BareCopyAsync(dataSource, b, ct), dataSource, ct).ConfigureAwait(false);
                if (i % 2 == 0)
                {
                    sink[c][i] = await TimeAsync(() => SinkAsync(dataSource, options, b, ct), dataSource, ct).ConfigureAwait(false);
                }
            }
        }
        var results = new StorageBenchResult[n];
        for (var c = 0; c < n; c++)
        {
            var ratios = new double[rounds];
            for (var i = 0; i < rounds; i++)
            {
                ratios[i] = bare[c][i] / sink[c][i];
            }
            results[c] = new StorageBenchResult(configurations[c].BatchRows, configurations[c].Writers, readings.Length,
                readings.Length / Median(bare[c]), readings.Length / Median(sink[c]), Median(ratios));
        }
        return results;
    }

    /// <summary>Rows per second of the aggregates path (staging COPY + upsert): fresh windows, then all of them again as newer revisions.</summary>
    public static async Task<(double InsertRowsPerSecond, double UpdateRowsPerSecond)> AggregatesAsync(NpgsqlDataSource dataSource, StorageOptions options,
        int count, int batchRows, DateTimeOffset start, CancellationToken ct = default)
    {
        var fresh = new List<StorageBatch>();
        var corrections = new List<StorageBatch>();
        var t0 = start.ToUnixTimeMilliseconds() / 60_000 * 60_000;
        for (var i = 0; i < count; i++)
        {
            if (i % batchRows == 0)
            {
                fresh.Add(new StorageBatch());
                corrections.Add(new StorageBatch());
            }
            var ws = t0 + (i / Sensors * 60_000L);
            var agg = new WindowAggregate(FormattableString.Invariant($"pump-{i % Sensors:D5}-vib"), "tumbling:1m", ws, ws + 60_000, 60, 1200, 18, 22, 20, 0.7, 19, 21, 20, 21.5, 21.9,
                0, false, "asset-1", "vibration");
            fresh[^1].Aggregates.Add(agg);
            corrections[^1].Aggregates.Add(agg with { Revision = 1, Mean = 20.1, IsFinal = true });
        }
        var insert = await TimeAsync(() => SinkAllAsync(dataSource, options, fresh, ct), dataSource, ct).ConfigureAwait(false);
        var sw = Stopwatch.StartNew();
        await SinkAllAsync(dataSource, options, corrections, ct).ConfigureAwait(false);
        var update = sw.Elapsed.TotalSeconds;
        return (count / insert, count / update);
    }

    private static async Task<double> TimeAsync(Func<Task> run, NpgsqlDataSource dataSource, CancellationToken ct)
    {
        await ResetAsync(dataSource, ct).ConfigureAwait(false);
        var sw = Stopwatch.StartNew();
        await run().ConfigureAwait(false);
        return sw.Elapsed.TotalSeconds;
    }

    private static async Task CopyAllAsync(NpgsqlDataSource dataSource, List<StorageBatch> batches, CancellationToken ct)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct).ConfigureAwait(false);
        // The sink's own encoder, so both paths send the same bytes.
        using var encoder = new ReadingsCopyEncoder();
        foreach (var b in batches)
        {
            await encoder.CopyAsync(conn, b.Readings, null, ct).ConfigureAwait(false);
        }
    }

    private static async Task SinkAllAsync(NpgsqlDataSource dataSource, StorageOptions options, List<StorageBatch> batches, CancellationToken ct)
    {
        await using var sink = new PostgresSink(dataSource, options);
        foreach (var b in batches)
        {
            await sink.WriteAsync(b, ct).ConfigureAwait(false);
        }
    }

    private static void Seal(StorageBatch batch, long[] next, int writer, int writers)
    {
        for (var p = writer; p < Partitions; p += writers)
        {
            batch.Offsets.Add(new OffsetMark(Topics.EngineGroup, Topics.Readings, p, next[p], Math.Max(0, next[p] - 1000)));
        }
    }

    private static double Median(double[] values)
    {
        var sorted = (double[])values.Clone();
        Array.Sort(sorted);
        var mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }
}
