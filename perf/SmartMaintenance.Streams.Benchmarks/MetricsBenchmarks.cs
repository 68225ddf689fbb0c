using System.Globalization;
using BenchmarkDotNet.Attributes;
using Prometheus;
using SmartMaintenance.Streams.Engine;
using SmartMaintenance.Streams.Engine.Stages;

namespace SmartMaintenance.Streams.Benchmarks;

/// <summary>
/// Cost of the engine's per-record metric updates for one batch (12 partitions x 1000 records, one handoff):
/// a labelled-child lookup per record (baseline), a cached child per record, and <see cref="EngineProbe"/>
/// (plain field increments, flushed to Prometheus once per batch).
/// <c>dotnet run -c Release --project perf/SmartMaintenance.Streams.Benchmarks -- --filter '*MetricsBenchmarks*' --job short</c>
/// </summary>
[MemoryDiagnoser]
public class MetricsBenchmarks
{
    private const int Records = 12_000;
    private static readonly Counter Labelled = Metrics.CreateCounter(
        "smstream_bench_records_total", "Benchmark only.", new CounterConfiguration { LabelNames = ["topic", "partition"] });

    private readonly EngineProbe _probe = new();
    private readonly StageOutputs _outputs = new();
    private Counter.Child[] _children = [];

    [GlobalSetup]
    public void Setup() =>
        _children = [.. Enumerable.Range(0, 12).Select(p => Labelled.WithLabels("readings", p.ToString(CultureInfo.InvariantCulture)))];

    [Benchmark(Baseline = true)]
    public void LabelLookupPerRecord()
    {
        for (var i = 0; i < Records; i++)
        {
            Labelled.WithLabels("readings", (i % 12).ToString(CultureInfo.InvariantCulture)).Inc();
        }
    }

    [Benchmark]
    public void CachedChildPerRecord()
    {
        for (var i = 0; i < Records; i++)
        {
            _children[i % 12].Inc();
        }
    }

    [Benchmark]
    public void EngineProbePerRecordFlushPerBatch()
    {
        for (var i = 0; i < Records; i++)
        {
            _probe.OnConsumed("readings", i % 12, 100);
        }
        _probe.OnHandoff(_outputs, Records);
    }
}
