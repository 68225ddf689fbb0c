using Prometheus;

namespace SmartMaintenance.Streams.Alerting.Notifier;

/// <summary>The notifier's metrics; created once, process-wide.</summary>
public static class NotifierMetrics
{
    /// <summary>Outcome per (event, channel): delivered, duplicate, held, digested, dead_lettered.</summary>
    public static readonly Counter Deliveries = Metrics.CreateCounter(
        "smstream_notifier_deliveries_total",
        "Alert notifications per channel and outcome (delivered, duplicate, held, digested, dead_lettered).",
        new CounterConfiguration { LabelNames = ["channel", "outcome"] });

    public static readonly Histogram DeliveryLatency = Metrics.CreateHistogram(
        "smstream_notifier_delivery_latency_seconds",
        "Time from an alert event's published_at to its delivery by a channel.",
        new HistogramConfiguration { LabelNames = ["channel"], Buckets = Histogram.ExponentialBuckets(0.005, 2, 16) });

    public static readonly Counter Retries = Metrics.CreateCounter(
        "smstream_notifier_retries_total",
        "Delivery attempts retried after a transient failure, per channel.",
        new CounterConfiguration { LabelNames = ["channel"] });

    public static readonly Counter Records = Metrics.CreateCounter(
        "smstream_notifier_records_total",
        "Alert records consumed, by result (routed, unrouted, malformed, silenced).",
        new CounterConfiguration { LabelNames = ["result"] });
}
