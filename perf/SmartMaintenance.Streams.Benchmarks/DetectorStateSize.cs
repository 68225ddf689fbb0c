using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Scoring;

namespace SmartMaintenance.Streams.Benchmarks;

/// <summary>
/// Detector state bytes per sensor (the whole <see cref="DetectorPipeline"/>: dictionary entry, ensemble struct,
/// context rings): GC.GetTotalMemory after a forced collection, before and after feeding every sensor the same
/// number of readings. Printed as "detector-state: ..." lines; the benchmark time is irrelevant.
/// `dotnet run -c Release --project perf/SmartMaintenance.Streams.Benchmarks -- --filter '*DetectorStateSize*'`
/// </summary>
/// <remarks>
/// Cases: 1 M sensors seen 4 times (a load test's first seconds), 1 M sensors seen 64 times (early life),
/// 10 k sensors seen 13,200 times (steady state: both context histories full, the largest a sensor gets).
/// </remarks>
[Config(typeof(StateSizeConfig))]
public class DetectorStateSize
{
    private sealed class StateSizeConfig : ManualConfig
    {
        public StateSizeConfig() => AddJob(Job.Dry
            .WithToolchain(new InProcessEmitToolchain(TimeSpan.FromMinutes(30), logOutput: true))
            .WithId("state-size"));
    }

    /// <summary>"sensors x readings" cases; SMSTREAM_DETECTOR_STATE_CASES (comma-separated) overrides them.</summary>
    public static IEnumerable<string> Cases() =>
        Environment.GetEnvironmentVariable("SMSTREAM_DETECTOR_STATE_CASES") is { Length: > 0 } cases
            ? cases.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            : ["1000000x4", "1000000x64", "10000x13200"];

    [ParamsSource(nameof(Cases))]
    public string Case { get; set; } = "1000000x4";

    [Benchmark]
    public long Measure()
    {
        var parts = Case.Split('x');
        var sensors = int.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture);
        var readings = int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture);
        var keys = new string[sensors];
        for (var i = 0; i < sensors; i++)
        {
            keys[i] = "sensor-" + i.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        var rng = new Random(3);
        var before = GC.GetTotalMemory(forceFullCollection: true);
        var pipeline = new DetectorPipeline(new ScoringOptions());
        var fired = 0;
        for (var t = 0; t < readings; t++)
        {
            var baseline = 50 + (10 * Math.Sin(t / 500.0));
            for (var i = 0; i < keys.Length; i++)
            {
                if (pipeline.Process(new SensorReading(keys[i], 1_700_000_000_000 + (t * 10_000L), baseline + rng.NextDouble()), out _))
                {
                    fired++;
                }
            }
        }
        var after = GC.GetTotalMemory(forceFullCollection: true);
        var perSensor = (after - before) / (double)sensors;
        Console.WriteLine($"detector-state: sensors={sensors} readings_per_sensor={readings} gc_bytes_per_sensor={perSensor:F0} fired={fired}");
        GC.KeepAlive(pipeline);
        GC.KeepAlive(keys);
        return after - before;
    }
}
