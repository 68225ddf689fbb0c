using Prometheus;

namespace SmartMaintenance.Streams.Storage;

/// <summary>Storage error and retry metrics, created once (the engine counts batches, rows and durations).</summary>
public static class StorageMetrics
{
    public static readonly Counter Errors = Metrics.CreateCounter(
        "smstream_db_errors_total", "Database failures by kind: transient (retried) or fatal (not retried: not transient, or retries exhausted; the engine stops).",
        new CounterConfiguration { LabelNames = ["kind"] });

    public static readonly Counter Retries = Metrics.CreateCounter(
        "smstream_db_retries_total", "Database operations retried after a transient failure.");

    public static readonly Counter.Child Transient = Errors.WithLabels("transient");
    public static readonly Counter.Child Fatal = Errors.WithLabels("fatal");

    static StorageMetrics()
    {
        // Present at 0 from start-up so error-rate rules have a series to evaluate.
        Retries.Inc(0);
    }
}
