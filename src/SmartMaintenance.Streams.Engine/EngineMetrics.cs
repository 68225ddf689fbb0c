using Prometheus;

namespace SmartMaintenance.Streams.Engine;

/// <summary>Engine metrics, created once. Names carry their units; labels stay low-cardinality.</summary>
internal static class EngineMetrics
{
    public static readonly Gauge PausedPartitions = Metrics.CreateGauge(
        "smstream_engine_paused_partitions", "Partitions paused because the writer is behind (backpressure).");

    public static readonly Histogram BatchSeconds = Metrics.CreateHistogram(
        "smstream_db_batch_duration_seconds", "Time to commit one batch (rows + offsets) to the database, retries included.",
        new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(0.001, 2, 16) });

    public static readonly Counter StoredRows = Metrics.CreateCounter(
        "smstream_readings_stored_total", "Readings committed to the database.");
}
