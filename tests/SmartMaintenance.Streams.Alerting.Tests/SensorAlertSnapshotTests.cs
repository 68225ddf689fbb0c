using SmartMaintenance.Streams.Contracts;
using Xunit;

namespace SmartMaintenance.Streams.Alerting.Tests;

/// <summary>One sensor's open alerts travel with its detector state (the engine's detector_state rows).</summary>
public sealed class SensorAlertSnapshotTests
{
    private const long T0 = 1_750_000_000_000;
    private static readonly AlertOptions Options = new() { QuietPeriod = TimeSpan.FromMinutes(5), MinSeverity = 2, EscalationStep = 1 };

    [Fact]
    public void A_sensors_open_alerts_restored_elsewhere_continue_under_the_same_id_and_resolve_identically()
    {
        var original = new AlertTracker(Options);
        var output = new List<AlertEvent>();
        original.OnAnomaly(AlertTrackerTests.Anom(T0, sensor: "s-1", detector: "spike"), output);
        original.OnAnomaly(AlertTrackerTests.Anom(T0 + 1000, sensor: "s-1", detector: "level", severity: 2), output);
        original.OnAnomaly(AlertTrackerTests.Anom(T0, sensor: "s-2"), output);
        Assert.Null(original.SensorSnapshotJson("s-3"));

        var restored = new AlertTracker(Options);
        restored.OnAnomaly(AlertTrackerTests.Anom(T0 - 1000, sensor: "s-1", detector: "stale"), output);
        restored.RestoreSensorJson("s-1", original.SensorSnapshotJson("s-1"));
        Assert.Equal(2, restored.OpenCount);
        Assert.Equal(original.Open.Where(a => a.SensorId == "s-1"), restored.Open);

        // Escalation, then resolution: the same events from both.
        var a = new List<AlertEvent>();
        var b = new List<AlertEvent>();
        foreach (var (tracker, events) in new[] { (original, a), (restored, b) })
        {
            tracker.OnAnomaly(AlertTrackerTests.Anom(T0 + 60_000, sensor: "s-1", detector: "spike", severity: 5, score: 0.99), events);
            tracker.OnNormal("s-1", T0 + 60_000 + (long)Options.QuietPeriod.TotalMilliseconds, events);
        }
        Assert.Equal(3, a.Count);
        Assert.Equal(a.Select(Json), b.Select(Json));
        Assert.Equal(0, restored.OpenCount);
    }

    private static string Json(AlertEvent e) => System.Text.Json.JsonSerializer.Serialize(e, ContractsJsonContext.Default.AlertEvent);

    [Fact]
    public void Removing_a_sensor_forgets_only_its_alerts_and_a_snapshot_of_another_sensor_is_refused()
    {
        var tracker = new AlertTracker(Options);
        var output = new List<AlertEvent>();
        tracker.OnAnomaly(AlertTrackerTests.Anom(T0, sensor: "s-1"), output);
        tracker.OnAnomaly(AlertTrackerTests.Anom(T0, sensor: "s-2"), output);
        var json = tracker.SensorSnapshotJson("s-1")!;

        tracker.RemoveSensor("s-1");
        tracker.RemoveSensor("s-unknown");
        Assert.Equal(1, tracker.OpenCount);
        Assert.Equal("s-2", Assert.Single(tracker.Open).SensorId);
        Assert.Throws<ArgumentException>(() => tracker.RestoreSensorJson("s-2", json));
        Assert.Equal(1, tracker.OpenCount);
    }
}
