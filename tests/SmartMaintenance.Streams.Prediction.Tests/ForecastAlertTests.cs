using SmartMaintenance.Streams.Alerting;
using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Kafka.Simulation;
using SmartMaintenance.Streams.Prediction.Stream;
using Xunit;

namespace SmartMaintenance.Streams.Prediction.Tests;

public sealed class ForecastAlertTests
{
    [Fact]
    public void A_wearing_sensor_gets_a_forecast_alert_before_its_failure_time_and_it_resolves_after_maintenance()
    {
        var sim = new DegradationOptions { Sensors = 1, Mode = DegradationMode.Linear, Duration = TimeSpan.FromDays(2), Noise = 0.3, Seed = 3 };
        var scenario = new DegradationScenario(sim);
        var options = new PredictionOptions
        {
            ForecastEnabled = true,
            ForecastLimits = { ["wear"] = new ForecastLimit { High = sim.Limit } },
            ForecastHorizon = TimeSpan.FromHours(6),
        };
        options.Validate();
        var stage = new ForecastStage(options, new AlertTracker(new AlertOptions { QuietPeriod = TimeSpan.FromMinutes(30) }));
        var alerts = new List<AlertEvent>();
        foreach (var r in scenario.Readings())
        {
            stage.OnReading(new SensorReading(r.SensorId, r.Timestamp, r.Value, r.AssetId, "wear"), alerts);
        }
        var start = sim.Start.ToUnixTimeMilliseconds();
        var end = start + (long)sim.Duration.TotalMilliseconds;
        var episode = scenario.Episodes.First(e => e.MaintenanceMs - TimeSpan.FromHours(7).TotalMilliseconds > start && e.MaintenanceMs < end - TimeSpan.FromHours(3).TotalMilliseconds);
        var opened = alerts.First(a => a.Status == AlertStatus.Open && a.FirstSeen.ToUnixTimeMilliseconds() >= episode.StartMs);
        Assert.Equal((ForecastStage.Detector, r: episode.SensorId), (opened.Detector, r: opened.SensorId));
        var warning = TimeSpan.FromMilliseconds(episode.FailureMs - opened.FirstSeen.ToUnixTimeMilliseconds());
        // Warned inside the horizon (with room for the interval's early end), before maintenance came.
        Assert.InRange(warning.TotalHours, 1, 9);
        Assert.True(opened.FirstSeen.ToUnixTimeMilliseconds() < episode.MaintenanceMs);
        Assert.NotNull(opened.Evidence!["time_to_limit_h"]);
        var resolved = alerts.First(a => a.AlertId == opened.AlertId && a.Status == AlertStatus.Resolved);
        Assert.True(resolved.LastSeen.ToUnixTimeMilliseconds() >= episode.MaintenanceMs, "resolved only after the maintenance reset");
    }
}
