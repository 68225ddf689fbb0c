using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using Npgsql;
using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Storage;

namespace SmartMaintenance.Streams.Benchmarks;

/// <summary>A throwaway cluster with a migrated database for one benchmark process.</summary>
/// <remarks>BenchmarkDotNet runs every case in its own process, one after the other; on a shared box the load
/// drifts between them, so for the sink/COPY ratio prefer <c>smstream db bench</c>, which interleaves both paths
/// round by round in one process (docs/storage.md).</remarks>
public abstract class StorageBenchmarkBase
{
    protected const int Readings = 300_000;
    private PostgresCluster _cluster = null!;

    protected NpgsqlDataSource DataSource { get; private set; } = null!;
    protected StorageOptions Options { get; private set; } = null!;

    protected void Start()
    {
        _cluster = new PostgresCluster(new PostgresClusterOptions { DataDirectory = Path.Combine(Path.GetTempPath(), $"smstream-bdn-{Environment.ProcessId}") });
        _cluster.DestroyAsync().GetAwaiter().GetResult();
        var cs = _cluster.StartAsync().GetAwaiter().GetResult();
        Options = new StorageOptions { ConnectionString = cs, UseTimescaleDb = false };
        SchemaMigrator.MigrateAsync(cs, Options).GetAwaiter().GetResult();
        DataSource = PostgresSink.CreateDataSource(Options);
    }

    protected void Stop()
    {
        DataSource.Dispose();
        NpgsqlConnection.ClearAllPools();
        _cluster.DestroyAsync().GetAwaiter().GetResult();
    }

    protected void Reset() => StorageBench.ResetAsync(DataSource).GetAwaiter().GetResult();
}

/// <summary>Bare binary COPY (baseline) vs PostgresSink.WriteAsync (readings + offsets, one transaction per batch),
/// same 300k rows and table, by batch size and writer connections. rows/s = 300,000 / mean.</summary>
/// <remarks><c>dotnet run -c Release --project perf/SmartMaintenance.Streams.Benchmarks -- --filter '*StorageWrite*'</c></remarks>
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 1, iterationCount: 3, invocationCount: 1)]
public class StorageWriteBenchmarks : StorageBenchmarkBase
{
    private List<StorageBatch>[] _batches = [];

    [Params(1_000, 5_000, 20_000, 50_000)]
    public int BatchRows { get; set; }

    [Params(1, 2)]
    public int Writers { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        Start();
        _batches = StorageBench.Batches(StorageBench.Readings(Readings, DateTimeOffset.UtcNow.AddHours(-1)), BatchRows, Writers);
    }

    [GlobalCleanup]
    public void Cleanup() => Stop();

    [IterationSetup]
    public void Truncate() => Reset();

    [Benchmark(Baseline = true, Description = "bare binary COPY")]
    public Task BareCopy() => StorageBench.BareCopyAsync(DataSource, _batches);

    [Benchmark(Description = "PostgresSink.WriteAsync")]
    public Task Sink() => StorageBench.SinkAsync(DataSource, Options, _batches);
}

/// <summary>Aggregates path (binary COPY into staging + INSERT … ON CONFLICT DO UPDATE), 100k fresh windows.</summary>
/// <remarks><c>dotnet run -c Release --project perf/SmartMaintenance.Streams.Benchmarks -- --filter '*StorageAggregate*'</c></remarks>
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 1, iterationCount: 3, invocationCount: 1)]
public class StorageAggregateBenchmarks : StorageBenchmarkBase
{
    private List<StorageBatch>[] _batches = [];

    [Params(5_000, 20_000)]
    public int BatchRows { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        Start();
        var start = DateTimeOffset.UtcNow.AddHours(-6).ToUnixTimeMilliseconds() / 60_000 * 60_000;
        var batch = new StorageBatch();
        _batches = [[batch]];
        for (var i = 0; i < Readings / 3; i++)
        {
            if (batch.Aggregates.Count == BatchRows)
            {
                _batches[0].Add(batch = new StorageBatch());
            }
            var ws = start + (i / 2_000 * 60_000L);
            batch.Aggregates.Add(new WindowAggregate(FormattableString.Invariant($"pump-{i % 2_000:D5}-vib"), "1m", ws, ws + 60_000, 60, 1200, 18, 22, 20, 0.7,
                19, 21, 20, 21.5, 21.9, 0, false, "asset-1", "vibration"));
        }
    }

    [GlobalCleanup]
    public void Cleanup() => Stop();

    [IterationSetup]
    public void Truncate() => Reset();

    [Benchmark(Description = "aggregates upsert (insert)")]
    public Task Upsert() => StorageBench.SinkAsync(DataSource, Options, _batches);
}
