using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Windowing;

namespace SmartMaintenance.Streams.Benchmarks;

/// <summary>
/// State bytes per sensor per spec with 1M sensors: GC.GetTotalMemory after a forced collection, before and
/// after feeding 10 minutes of event time (one reading per sensor every 10 s), with all windows still open
/// plus those waiting for the watermark. Printed as "windowing-state: ..." lines; the benchmark time is irrelevant.
/// </summary>
[SimpleJob(RunStrategy.ColdStart, launchCount: 1, warmupCount: 0, iterationCount: 1, id: "state-size")]
[BenchmarkDotNet.Attributes.InProcess]
public class WindowingStateSize
{
    private const int Sensors = 1_000_000;

    [Params("tumbling:1m", "hopping:5m/1m", "session:30s", "tumbling:1m no-dedup")]
    public string Spec { get; set; } = "tumbling:1m";

    [Benchmark]
    public long Measure()
    {
        var keys = WindowingBenchmarks.Keys(Sensors);
        var (spec, dedup) = Spec switch
        {
            "hopping:5m/1m" => (WindowSpec.Hopping(TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(1)), true),
            "session:30s" => (WindowSpec.Session(TimeSpan.FromSeconds(30)), true),
            "tumbling:1m no-dedup" => (WindowSpec.Tumbling(TimeSpan.FromMinutes(1)), false),
            _ => (WindowSpec.Tumbling(TimeSpan.FromMinutes(1)), true),
        };
        var probe = new WindowProbe();
        var driver = new WindowingDriver();
        using var subscription = driver.AggregateWindows([spec], new WindowOperatorOptions { Probe = probe, Dedup = dedup }).Subscribe(driver);
        var before = GC.GetTotalMemory(forceFullCollection: true);
        // Event time 10 minutes, every sensor every 10 s, watermark 5 s behind; sessions stay open (gap 30 s > 10 s).
        long offset = 0;
        for (long t = 0; t < 600_000; t += 10_000)
        {
            for (var i = 0; i < keys.Length; i++)
            {
                driver.Input.OnNext(StreamEvent<SensorReading>.Data(new SensorReading(keys[i], t + (i % 10_000), i % 100, Position: new SourcePosition(0, offset++, 0))));
            }
            driver.Input.OnNext(StreamEvent<SensorReading>.Watermark(t + 10_000 - 5_000));
        }
        var after = GC.GetTotalMemory(forceFullCollection: true);
        var perSensor = (after - before) / (double)Sensors;
        var estimate = probe.StateBytes() / (double)Sensors;
        Console.WriteLine($"windowing-state: spec={Spec} sensors={Sensors} gc_bytes_per_sensor={perSensor:F0} probe_estimate_per_sensor={estimate:F0} outputs={driver.Outputs}");
        GC.KeepAlive(keys);
        return after - before;
    }
}
