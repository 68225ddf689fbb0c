using BenchmarkDotNet.Attributes;
using SmartMaintenance.Streams.Kafka.Simulation;

namespace SmartMaintenance.Streams.Benchmarks;

/// <summary>How fast <see cref="SensorDataGenerator"/> makes messages, so the simulator is never what limits a load test.</summary>
/// <remarks>Each operation generates <see cref="Readings"/> readings; readings/s = Readings / mean time. Baseline: single readings.
/// Run: <c>dotnet run -c Release --project perf/SmartMaintenance.Streams.Benchmarks -- --filter '*SimulatorBenchmarks*' --job short</c></remarks>
[MemoryDiagnoser]
public class SimulatorBenchmarks
{
    public const int Readings = 100_000;
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Params(1, 50)]
    public int Batch { get; set; }

    [Benchmark]
    public long Generate()
    {
        var options = new SimulatorOptions { Sensors = 1000, Rate = 0, MaxReadings = Readings, Batch = Batch, AnomalyRate = 0.001, BadRate = 0.01 };
        var generator = new SensorDataGenerator(options, 42, Start);
        long bytes = 0;
        while (generator.TryNext(out var message))
        {
            bytes += message.Value.Length;
        }
        return bytes;
    }
}
