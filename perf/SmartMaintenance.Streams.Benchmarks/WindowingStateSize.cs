using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Windowing;

namespace SmartMaintenance.Streams.Benchmarks;

/// <summary>
/// State bytes per sensor per spec with 1M sensors: GC.GetTotalMemory after a forced collection, before and
/// after feeding 10 minutes of event time (one reading per sensor every 10 s), with all windows still open
/// plus those waiting for the watermark. Printed as "windowing-state: ..." lines; the benchmark time is irrelevant.
/// </summary>
[Config(typeof(StateSizeConfig))]
public class WindowingStateSize
{
    private const int Sensors = 1_000_000;

    private sealed class StateSizeConfig : ManualConfig
    {
        public StateSizeConfig() => AddJob(Job.Dry
            .WithToolchain(new InProcessEmitToolchain(TimeSpan.FromMinutes(20), logOutput: true))
            .WithId("state-size"));
    }

    private const string FullPrecision = "defaults, full-precision values";

    // The other cases send integer values (i % 100), constant per sensor; the full-precision case varies every
    // reading with a value that has no short decimal form, so dedup keeps 16-byte entries and sketches spread.
    [Params("tumbling:1m", "hopping:5m/1m", "session:30s", "defaults (tumbling:1m + hopping:5m/1m)", "tumbling:1m no-dedup", FullPrecision)]
    public string Spec { get; set; } = "tumbling:1m";

    [Benchmark]
    public long Measure()
    {
        var keys = WindowingBenchmarks.Keys(Sensors);
        var tumbling = WindowSpec.Tumbling(TimeSpan.FromMinutes(1));
        var hopping = WindowSpec.Hopping(TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(1));
        var (specs, dedup) = Spec switch
        {
            "hopping:5m/1m" => (new[] { hopping }, true),
            "session:30s" => (new[] { WindowSpec.Session(TimeSpan.FromSeconds(30)) }, true),
            "tumbling:1m no-dedup" => (new[] { tumbling }, false),
            "defaults (tumbling:1m + hopping:5m/1m)" or FullPrecision => (new[] { tumbling, hopping }, true),
            _ => (new[] { tumbling }, true),
        };
        var probe = new WindowProbe();
        var driver = new WindowingDriver();
        using var subscription = driver.AggregateWindows(specs, new WindowOperatorOptions { Probe = probe, Dedup = dedup }).Subscribe(driver);
        var before = GC.GetTotalMemory(forceFullCollection: true);
        // Event time 6 minutes (a 5-minute hopping window is full), every sensor every 10 s, watermark 5 s
        // behind; sessions stay open (gap 30 s > 10 s).
        long offset = 0;
        for (long t = 0; t < 360_000; t += 10_000)
        {
            for (var i = 0; i < keys.Length; i++)
            {
                var value = Spec == FullPrecision ? 60 + (((i * 7919L) + t) % 10_007 / 10_007.0 * 20) : i % 100;
                driver.Input.OnNext(StreamEvent<SensorReading>.Data(new SensorReading(keys[i], t + (i % 10_000), value, Position: new SourcePosition(0, offset++, 0))));
            }
            driver.Input.OnNext(StreamEvent<SensorReading>.Watermark(t + 10_000 - 5_000));
        }
        var after = GC.GetTotalMemory(forceFullCollection: true);
        var perSensor = (after - before) / (double)Sensors;
        var estimate = probe.StateBytes() / (double)Sensors;
        Console.WriteLine($"windowing-state: spec={Spec} sensors={Sensors} gc_bytes_per_sensor={perSensor:F0} per_sensor_per_spec={perSensor / specs.Length:F0} probe_estimate_per_sensor={estimate:F0} outputs={driver.Outputs}");
        GC.KeepAlive(keys);
        return after - before;
    }
}
