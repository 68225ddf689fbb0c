using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using Npgsql;
using NpgsqlTypes;
using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Storage;

namespace SmartMaintenance.Streams.Benchmarks;

/// <summary>Shared set-up: a throwaway cluster, a migrated database and pre-built batches.</summary>
/// <remarks>Each operation writes <see cref="StorageBenchmarkData.Readings"/> rows; rows/s = rows / mean time.
/// Run: <c>dotnet run -c Release --project perf/SmartMaintenance.Streams.Benchmarks -- --filter '*Storage*'</c></remarks>
public abstract class StorageBenchmarkBase
{
    protected PostgresCluster Cluster { get; private set; } = null!;
    protected string ConnectionString { get; private set; } = null!;
    protected StorageOptions Options { get; private set; } = null!;

    protected async Task StartAsync()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"smstream-bench-{Environment.ProcessId}");
        Cluster = new PostgresCluster(new PostgresClusterOptions { DataDirectory = dir, Port = 0 });
        await Cluster.DestroyAsync();
        var admin = await Cluster.StartAsync();
        await using (var conn = new NpgsqlConnection(admin))
        {
            await conn.OpenAsync();
            await using var cmd = new NpgsqlCommand("CREATE DATABASE bench", conn);
            await cmd.ExecuteNonQueryAsync();
        }
        ConnectionString = Cluster.ConnectionStringFor("bench");
        Options = new StorageOptions { ConnectionString = ConnectionString, UseTimescaleDb = false };
        await SchemaMigrator.MigrateAsync(ConnectionString, Options);
    }

    protected async Task StopAsync()
    {
        NpgsqlConnection.ClearAllPools();
        await Cluster.DestroyAsync();
    }

    protected async Task TruncateAsync()
    {
        await using var conn = new NpgsqlConnection(ConnectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand("TRUNCATE readings, window_aggregates, stream_offsets; CHECKPOINT", conn);
        await cmd.ExecuteNonQueryAsync();
    }
}

/// <summary>Bare binary COPY (baseline) vs PostgresSink.WriteAsync (readings + offsets, one transaction per batch),
/// same rows, same table, by batch size and number of writer connections.</summary>
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 1, iterationCount: 3, invocationCount: 1)]
public class StorageWriteBenchmarks : StorageBenchmarkBase
{
    private List<StorageBatch>[] _perWriter = [];

    [Params(1_000, 5_000, 20_000, 50_000)]
    public int BatchRows { get; set; }

    [Params(1, 2)]
    public int Writers { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        StartAsync().GetAwaiter().GetResult();
        _perWriter = StorageBenchmarkData.Batches(BatchRows, Writers);
    }

    [GlobalCleanup]
    public void Cleanup() => StopAsync().GetAwaiter().GetResult();

    [IterationSetup]
    public void Truncate() => TruncateAsync().GetAwaiter().GetResult();

    [Benchmark(Baseline = true, Description = "bare binary COPY")]
    public Task BareCopy() => Task.WhenAll(_perWriter.Select(async batches =>
    {
        await using var conn = new NpgsqlConnection(ConnectionString);
        await conn.OpenAsync();
        foreach (var b in batches)
        {
            await StorageBenchmarkData.CopyAsync(conn, b.Readings);
        }
    }));

    [Benchmark(Description = "PostgresSink.WriteAsync")]
    public Task Sink() => Task.WhenAll(_perWriter.Select(async batches =>
    {
        await using var sink = new PostgresSink(Options);
        foreach (var b in batches)
        {
            await sink.WriteAsync(b, CancellationToken.None);
        }
    }));
}

/// <summary>Aggregates path (binary COPY into staging + INSERT … ON CONFLICT DO UPDATE): fresh windows, then the
/// same windows again as corrections (every row conflicts and is updated).</summary>
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 1, iterationCount: 3, invocationCount: 1)]
public class StorageAggregateBenchmarks : StorageBenchmarkBase
{
    private List<StorageBatch> _fresh = [];
    private List<StorageBatch> _corrections = [];

    [Params(5_000, 20_000)]
    public int BatchRows { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        StartAsync().GetAwaiter().GetResult();
        (_fresh, _corrections) = StorageBenchmarkData.AggregateBatches(BatchRows);
    }

    [GlobalCleanup]
    public void Cleanup() => StopAsync().GetAwaiter().GetResult();

    [IterationSetup(Target = nameof(Insert))]
    public void Truncate() => TruncateAsync().GetAwaiter().GetResult();

    [IterationSetup(Target = nameof(Update))]
    public void Prefill()
    {
        TruncateAsync().GetAwaiter().GetResult();
        WriteAllAsync(_fresh).GetAwaiter().GetResult();
    }

    [Benchmark(Baseline = true, Description = "aggregates upsert (insert)")]
    public Task Insert() => WriteAllAsync(_fresh);

    [Benchmark(Description = "aggregates upsert (update, newer revision)")]
    public Task Update() => WriteAllAsync(_corrections);

    private async Task WriteAllAsync(List<StorageBatch> batches)
    {
        await using var sink = new PostgresSink(Options);
        foreach (var b in batches)
        {
            await sink.WriteAsync(b, CancellationToken.None);
        }
    }
}

internal static class StorageBenchmarkData
{
    public const int Readings = 300_000;
    public const int Aggregates = 100_000;
    private const int Partitions = 12;
    private const int Sensors = 2_000;

    private const string CopySql =
        "COPY readings (sensor_id, ts, value, asset_id, sensor_type, unit, quality, seq, attributes, kafka_partition, kafka_offset, kafka_index) FROM STDIN (FORMAT BINARY)";

    /// <summary>Readings spread over 12 Kafka partitions; partition p goes to writer p % writers, as the engine routes them.</summary>
    public static List<StorageBatch>[] Batches(int batchRows, int writers)
    {
        var sensors = Enumerable.Range(0, Sensors).Select(i => $"pump-{i:D5}-vib").ToArray();
        var assets = Enumerable.Range(0, Sensors / 10).Select(i => $"asset-{i:D4}").ToArray();
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - 3_600_000;
        var perWriter = new List<StorageBatch>[writers];
        var current = new StorageBatch[writers];
        var next = new long[Partitions];
        for (var w = 0; w < writers; w++)
        {
            perWriter[w] = [];
            current[w] = new StorageBatch();
        }
        var rng = new Random(42);
        for (var i = 0; i < Readings; i++)
        {
            var s = i % Sensors;
            var p = s % Partitions;
            var w = p % writers;
            var offset = next[p]++;
            current[w].Readings.Add(new SensorReading(sensors[s], now + (i / 10), 20 + rng.NextDouble(), assets[s / 10], "vibration", "mm/s",
                Quality: 0.99, Seq: offset, Position: new SourcePosition(p, offset, 0)));
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

    private static void Seal(StorageBatch batch, long[] next, int writer, int writers)
    {
        for (var p = writer; p < Partitions; p += writers)
        {
            batch.Offsets.Add(new OffsetMark(Topics.EngineGroup, Topics.Readings, p, next[p], Math.Max(0, next[p] - 1000)));
        }
    }

    public static (List<StorageBatch> Fresh, List<StorageBatch> Corrections) AggregateBatches(int batchRows)
    {
        var start = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 60_000 * 60_000 - (3_600_000L * 6);
        var fresh = new List<StorageBatch>();
        var corrections = new List<StorageBatch>();
        StorageBatch? f = null, c = null;
        for (var i = 0; i < Aggregates; i++)
        {
            if (i % batchRows == 0)
            {
                fresh.Add(f = new StorageBatch());
                corrections.Add(c = new StorageBatch());
            }
            var sensor = $"pump-{i % Sensors:D5}-vib";
            var ws = start + ((i / Sensors) * 60_000L);
            var agg = new WindowAggregate(sensor, "1m", ws, ws + 60_000, 60, 1200, 18, 22, 20, 0.7, 19, 21, 20, 21.5, 21.9, 0, false, "asset-1", "vibration");
            f!.Aggregates.Add(agg);
            c!.Aggregates.Add(agg with { Revision = 1, Mean = 20.1, IsFinal = true });
        }
        return (fresh, corrections);
    }

    /// <summary>The baseline: the same columns and types as the sink, one COPY per batch (autocommit), nothing else.</summary>
    public static async Task CopyAsync(NpgsqlConnection conn, List<SensorReading> readings)
    {
        await using var importer = await conn.BeginBinaryImportAsync(CopySql);
        foreach (var r in readings)
        {
            importer.StartRow();
            importer.Write(r.SensorId, NpgsqlDbType.Text);
            importer.Write(DateTime.UnixEpoch.AddMilliseconds(r.Timestamp), NpgsqlDbType.TimestampTz);
            importer.Write(r.Value, NpgsqlDbType.Double);
            importer.Write(r.AssetId!, NpgsqlDbType.Text);
            importer.Write(r.SensorType!, NpgsqlDbType.Text);
            importer.Write(r.Unit!, NpgsqlDbType.Text);
            importer.Write((float)r.Quality, NpgsqlDbType.Real);
            importer.Write(r.Seq, NpgsqlDbType.Bigint);
            importer.WriteNull();
            importer.Write(r.Position.Partition, NpgsqlDbType.Integer);
            importer.Write(r.Position.Offset, NpgsqlDbType.Bigint);
            importer.Write(r.Position.Index, NpgsqlDbType.Integer);
        }
        await importer.CompleteAsync();
    }
}
