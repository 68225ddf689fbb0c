using Microsoft.Extensions.Configuration;
using SmartMaintenance.Streams.Cli.Simulation;
using SmartMaintenance.Streams.Kafka.Simulation;
using Xunit;
using Xunit.Abstractions;

namespace SmartMaintenance.Streams.Integration.Tests;

/// <summary>
/// Detection quality of the engine's reading detectors (with the simulated sensors' profile, as `smstream demo` runs
/// them) on fixed-seed simulations at the demo's rates: 100 sensors, 2,000 readings/s, so one reading per sensor every
/// 50 ms. Recall per anomaly kind, delay and false alerts per 1,000 sensor-hours must not regress below the figures
/// docs/scoring.md reports ("Detection on the simulator").
/// </summary>
public sealed class SimulatedDetectionTests(ITestOutputHelper output)
{
    private static DetectionReport Simulate(int seed, TimeSpan eventTime, double anomalyRate)
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
    public void Every_kind_of_injected_episode_is_caught_within_seconds_at_demo_rates()
    {
        var report = Simulate(seed: 22, eventTime: TimeSpan.FromMinutes(20), anomalyRate: 0.0005);
        output.WriteLine(report.ToText());
        Assert.True(report.Total.Scored >= 1000, $"too few episodes to judge: {report.Total.Scored}");
        foreach (var row in report.Kinds)
        {
            Assert.True(row.Recall >= 0.98, $"{row.Kind}: recall {row.Recall:P1}");
            Assert.True(row.DelayP95Ms <= 5_000, $"{row.Kind}: p95 delay {row.DelayP95Ms} ms");
        }
        Assert.True(report.FalseAlerts <= 2, $"{report.FalseAlerts} detections outside every episode and its grace");
    }

    [Fact]
    public void A_healthy_fleet_raises_no_false_alert_in_a_hundred_sensor_hours()
    {
        var report = Simulate(seed: 23, eventTime: TimeSpan.FromMinutes(62), anomalyRate: 0);
        output.WriteLine(report.ToText());
        Assert.True(report.SensorHours >= 100, $"only {report.SensorHours:0.#} sensor-hours observed");
        Assert.Equal(0, report.FalseAlerts);
    }
}
