using Prometheus;

namespace SmartMaintenance.Streams.Alerting;

/// <summary>Alert lifecycle metrics, created once (events published are counted by the engine per status).</summary>
public static class AlertingMetrics
{
    /// <summary>Process-wide: the sum over the alert trackers of this process (one per engine).</summary>
    public static readonly Gauge OpenAlerts = Metrics.CreateGauge(
        "smstream_alerts_open", "Alerts currently open (opened and not yet resolved) in this engine's tracker.");
}
