using System.Text.Json;
using SmartMaintenance.Streams.Contracts;
using Xunit;

namespace SmartMaintenance.Streams.Alerting.Tests;

public sealed class AlertTrackerTests
{
    private const long T0 = 1_750_000_000_000;
    private static readonly AlertOptions Options = new() { QuietPeriod = TimeSpan.FromMinutes(5), MinSeverity = 2, EscalationStep = 1 };

    internal static Anomaly Anom(long t, double score = 0.9, int severity = 3, string sensor = "s-1", string detector = "zscore", double value = 42) =>
        new(sensor, "pump-7", "vibration", detector, t, value, score, 0.8, severity, t - 60_000, t, $"{{\"z\":{score}}}");

    [Fact]
    public void First_anomaly_opens_an_alert_with_the_content_derived_id()
    {
        var tracker = new AlertTracker(Options);
        var output = new List<AlertEvent>();

        tracker.OnAnomaly(Anom(T0), output);

        var e = Assert.Single(output);
        Assert.Equal(AlertStatus.Open, e.Status);
        Assert.Equal(0, e.Revision);
        Assert.Equal(AlertIds.For("s-1", "zscore", T0), e.AlertId);
        Assert.Equal(3, e.Severity);
        Assert.Equal("pump-7", e.AssetId);
        Assert.Equal(0.9, e.Evidence!["z"]!.GetValue<double>());
        Assert.Equal(1, tracker.OpenCount);
    }

    [Fact]
    public void Repeats_extend_last_seen_and_peak_score_without_new_events()
    {
        var tracker = new AlertTracker(Options);
        var output = new List<AlertEvent>();
        tracker.OnAnomaly(Anom(T0, score: 0.85), output);
        output.Clear();

        tracker.OnAnomaly(Anom(T0 + 10_000, score: 0.97, value: 99), output);
        tracker.OnAnomaly(Anom(T0 + 20_000, score: 0.86), output);

        Assert.Empty(output);
        var open = Assert.Single(tracker.Open);
        Assert.Equal(T0 + 20_000, open.LastSeenMs);
        Assert.Equal(0.97, open.PeakScore);
        Assert.Equal(99, open.Value);
        Assert.Equal(T0, open.FirstSeenMs);
    }

    [Fact]
    public void Severity_rise_by_the_escalation_step_publishes_updated_with_next_revision()
    {
        var tracker = new AlertTracker(new AlertOptions { EscalationStep = 2, MinSeverity = 2 });
        var output = new List<AlertEvent>();
        tracker.OnAnomaly(Anom(T0, severity: 2), output);

        tracker.OnAnomaly(Anom(T0 + 1000, severity: 3), output);
        Assert.Single(output);

        tracker.OnAnomaly(Anom(T0 + 2000, severity: 4), output);
        Assert.Equal(2, output.Count);
        Assert.Equal(AlertStatus.Updated, output[1].Status);
        Assert.Equal(1, output[1].Revision);
        Assert.Equal(4, output[1].Severity);
        Assert.Equal(output[0].AlertId, output[1].AlertId);

        tracker.OnAnomaly(Anom(T0 + 3000, severity: 4), output);
        Assert.Equal(2, output.Count);
    }

    [Fact]
    public void Normal_readings_resolve_only_after_the_quiet_period_in_event_time()
    {
        var tracker = new AlertTracker(Options);
        var output = new List<AlertEvent>();
        tracker.OnAnomaly(Anom(T0), output);
        tracker.OnAnomaly(Anom(T0 + 60_000), output);
        output.Clear();

        tracker.OnNormal("s-1", T0 + 60_000 + 299_999, output);
        Assert.Empty(output);

        tracker.OnNormal("s-1", T0 + 60_000 + 300_000, output);
        var resolved = Assert.Single(output);
        Assert.Equal(AlertStatus.Resolved, resolved.Status);
        Assert.Equal(1, resolved.Revision);
        Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(T0 + 60_000), resolved.LastSeen);
        Assert.Equal(0, tracker.OpenCount);

        tracker.OnNormal("s-1", T0 + 1_000_000, output);
        Assert.Single(output);
    }

    [Fact]
    public void Anomaly_after_resolution_opens_a_new_alert_with_a_new_id()
    {
        var tracker = new AlertTracker(Options);
        var output = new List<AlertEvent>();
        tracker.OnAnomaly(Anom(T0), output);
        tracker.OnNormal("s-1", T0 + 300_000, output);
        tracker.OnAnomaly(Anom(T0 + 400_000), output);

        Assert.Equal([AlertStatus.Open, AlertStatus.Resolved, AlertStatus.Open], output.Select(e => e.Status));
        Assert.NotEqual(output[0].AlertId, output[2].AlertId);
        Assert.Equal(AlertIds.For("s-1", "zscore", T0 + 400_000), output[2].AlertId);
    }

    [Fact]
    public void Open_update_resolve_are_three_events_of_one_alert_id()
    {
        var tracker = new AlertTracker(Options);
        var output = new List<AlertEvent>();
        tracker.OnAnomaly(Anom(T0, severity: 3), output);
        tracker.OnAnomaly(Anom(T0 + 5000, severity: 5), output);
        tracker.OnNormal("s-1", T0 + 400_000, output);

        Assert.Equal([AlertStatus.Open, AlertStatus.Updated, AlertStatus.Resolved], output.Select(e => e.Status));
        Assert.Equal([0, 1, 2], output.Select(e => e.Revision));
        Assert.Single(output.Select(e => e.AlertId).Distinct());
        Assert.Equal(3, output.Select(e => e.EventKey).Distinct().Count());
    }

    [Fact]
    public void Anomalies_below_min_severity_open_nothing_but_keep_an_open_alert_alive()
    {
        var tracker = new AlertTracker(Options);
        var output = new List<AlertEvent>();
        tracker.OnAnomaly(Anom(T0, severity: 1), output);
        Assert.Empty(output);
        Assert.Equal(0, tracker.OpenCount);

        tracker.OnAnomaly(Anom(T0, severity: 2), output);
        tracker.OnAnomaly(Anom(T0 + 200_000, severity: 1), output);
        tracker.OnNormal("s-1", T0 + 300_000, output);
        Assert.Single(output);

        tracker.OnNormal("s-1", T0 + 500_000, output);
        Assert.Equal(AlertStatus.Resolved, output[^1].Status);
    }

    [Fact]
    public void Detectors_of_one_sensor_have_independent_alerts()
    {
        var tracker = new AlertTracker(Options);
        var output = new List<AlertEvent>();
        tracker.OnAnomaly(Anom(T0, detector: "zscore"), output);
        tracker.OnAnomaly(Anom(T0 + 200_000, detector: "fasttree"), output);
        tracker.OnNormal("s-1", T0 + 300_000, output);

        Assert.Equal(3, output.Count);
        Assert.Equal(("zscore", AlertStatus.Resolved), (output[2].Detector, output[2].Status));
        Assert.Equal("fasttree", Assert.Single(tracker.Open).Detector);
    }

    [Fact]
    public void On_normal_allocates_nothing_when_nothing_resolves()
    {
        var tracker = new AlertTracker(Options);
        var output = new List<AlertEvent>();
        tracker.OnAnomaly(Anom(T0), output);
        output.Clear();
        tracker.OnNormal("s-1", T0 + 1, output);
        tracker.OnNormal("other", T0 + 1, output);

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 10_000; i++)
        {
            tracker.OnNormal("s-1", T0 + i, output);
            tracker.OnNormal("healthy-sensor", T0 + i, output);
        }
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        Assert.Empty(output);
    }

    [Fact]
    public void Same_input_sequence_yields_identical_events()
    {
        var a = Run(new AlertTracker(Options), Sequence());
        var b = Run(new AlertTracker(Options), Sequence());

        Assert.NotEmpty(a);
        Assert.Equal(a, b);
    }

    [Fact]
    public void Restoring_a_snapshot_and_replaying_the_rest_republishes_identical_events()
    {
        var input = Sequence();
        var uninterrupted = Run(new AlertTracker(Options), input);

        var first = new AlertTracker(Options);
        var head = Run(first, input.Take(input.Count / 2).ToList());
        var json = first.SnapshotJson();
        var second = new AlertTracker(Options);
        second.RestoreJson(json);
        var tail = Run(second, input.Skip(input.Count / 2).ToList());

        Assert.True(first.OpenCount > 0, "the snapshot should carry open alerts for the test to mean something");
        Assert.Equal(uninterrupted, head.Concat(tail).ToList());
        Assert.Equal(first.Snapshot().Alerts, JsonRoundTrip(first));
    }

    [Fact]
    public void Options_out_of_range_fail_naming_the_setting()
    {
        var ex = Assert.Throws<ConfigurationException>(() => new AlertTracker(new AlertOptions { MinSeverity = 6 }));
        Assert.Equal("Alerts:MinSeverity", ex.Setting);
    }

    private static IReadOnlyList<OpenAlert> JsonRoundTrip(AlertTracker t)
    {
        var copy = new AlertTracker(Options);
        copy.RestoreJson(t.SnapshotJson());
        return copy.Snapshot().Alerts;
    }

    /// <summary>Three sensors, two detectors, escalations, quiet gaps, interleaved.</summary>
    private static List<(Anomaly? Anomaly, string Sensor, long Time)> Sequence()
    {
        var rng = new Random(7);
        var list = new List<(Anomaly?, string, long)>();
        var t = T0;
        for (var i = 0; i < 400; i++)
        {
            t += 15_000;
            var sensor = "s-" + rng.Next(3);
            var burst = (i / 40) % 2 == 0;
            if (burst && rng.NextDouble() < 0.6)
            {
                var detector = rng.Next(2) == 0 ? "zscore" : "fasttree";
                list.Add((Anom(t, score: 0.8 + rng.NextDouble() * 0.2, severity: 1 + rng.Next(5), sensor: sensor, detector: detector, value: rng.Next(100)), sensor, t));
            }
            else
            {
                list.Add((null, sensor, t));
            }
        }
        return list;
    }

    private static List<string> Run(AlertTracker tracker, IReadOnlyList<(Anomaly? Anomaly, string Sensor, long Time)> input)
    {
        var output = new List<AlertEvent>();
        foreach (var (anomaly, sensor, time) in input)
        {
            if (anomaly is not null)
            {
                tracker.OnAnomaly(anomaly, output);
            }
            else
            {
                tracker.OnNormal(sensor, time, output);
            }
        }
        return output.Select(e => JsonSerializer.Serialize(e, ContractsJsonContext.Default.AlertEvent)).ToList();
    }
}
