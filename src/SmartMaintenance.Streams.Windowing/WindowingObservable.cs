using System.Reactive.Concurrency;
using SmartMaintenance.Streams.Contracts;

namespace SmartMaintenance.Streams.Windowing;

/// <summary>Event-time windowing operators over <see cref="StreamEvent{T}"/> streams.</summary>
public static class WindowingObservable
{
    /// <summary>
    /// Keyed event-time windows (tumbling, hopping, session) over readings, all specs in one pass.
    /// Emits aggregates (early, on-time, corrections, final, session retractions), rejected readings
    /// (late, duplicate, processing error) and the operator watermark after the firings it caused.
    /// </summary>
    public static IObservable<StreamEvent<WindowOutput>> AggregateWindows(
        this IObservable<StreamEvent<SensorReading>> source,
        IReadOnlyList<WindowSpec> specs,
        WindowOperatorOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(specs);
        if (specs.Count == 0)
        {
            throw new ArgumentException("At least one window spec is required.", nameof(specs));
        }
        var copy = new WindowSpec[specs.Count];
        var labels = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < copy.Length; i++)
        {
            var spec = specs[i] ?? throw new ArgumentException($"Window spec {i} is null.", nameof(specs));
            try
            {
                spec.Validate();
            }
            catch (ArgumentException ex)
            {
                throw new ArgumentException($"Window spec {i} ({spec.Label}): {ex.Message}", nameof(specs), ex);
            }
            if (!labels.Add(spec.Label))
            {
                throw new ArgumentException($"Window spec {spec.Label} appears twice.", nameof(specs));
            }
            copy[i] = spec;
        }
        options ??= new WindowOperatorOptions();
        if (options.DedupHorizon is { } h && (h < TimeSpan.Zero || h.Ticks % TimeSpan.TicksPerMillisecond != 0))
        {
            throw new ArgumentOutOfRangeException(nameof(options), h, "DedupHorizon must be a non-negative whole number of milliseconds.");
        }
        return new WindowOperator(source, copy, options);
    }

    /// <summary>Per-partition watermarks for readings: partition = <c>Position.Partition</c>, event time = <c>Timestamp</c>.</summary>
    public static IObservable<StreamEvent<SensorReading>> AssignWatermarks(
        this IObservable<StreamEvent<SensorReading>> source,
        TimeSpan maxOutOfOrderness,
        TimeSpan idleTimeout,
        IScheduler scheduler) =>
        source.AssignWatermarks(static r => r.Timestamp, static r => r.Position.Partition, maxOutOfOrderness, idleTimeout, scheduler);

    /// <summary>
    /// Per-partition watermark generator: after each item, partition watermark = max event time seen − max
    /// out-of-orderness (emitted when it advances). A partition without data for <paramref name="idleTimeout"/>
    /// (processing time on <paramref name="scheduler"/>; zero or infinite disables) is reported idle until its next item.
    /// Incoming <see cref="StreamEventKind.PartitionWatermark"/> events act as floors (restore after a crash).
    /// </summary>
    public static IObservable<StreamEvent<T>> AssignWatermarks<T>(
        this IObservable<StreamEvent<T>> source,
        Func<T, long> timestampSelector,
        Func<T, int> partitionSelector,
        TimeSpan maxOutOfOrderness,
        TimeSpan idleTimeout,
        IScheduler scheduler)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(timestampSelector);
        ArgumentNullException.ThrowIfNull(partitionSelector);
        ArgumentNullException.ThrowIfNull(scheduler);
        if (maxOutOfOrderness < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(maxOutOfOrderness), maxOutOfOrderness, "Must not be negative.");
        }
        if (idleTimeout < TimeSpan.Zero && idleTimeout != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(idleTimeout), idleTimeout, "Must not be negative.");
        }
        return new AssignWatermarksOperator<T>(
            source, timestampSelector, partitionSelector, (long)maxOutOfOrderness.TotalMilliseconds, idleTimeout, scheduler);
    }

    /// <summary>
    /// Operator watermark = minimum of the partition watermarks of assigned, non-idle partitions; emitted as
    /// <see cref="StreamEventKind.Watermark"/> when it advances (never decreases). Everything else passes through.
    /// </summary>
    public static IObservable<StreamEvent<T>> CombineWatermarks<T>(this IObservable<StreamEvent<T>> source)
    {
        ArgumentNullException.ThrowIfNull(source);
        return new CombineWatermarksOperator<T>([source]);
    }

    /// <summary>Merges several inputs; the operator watermark is the minimum of their operator watermarks
    /// (a completed input stops counting).</summary>
    public static IObservable<StreamEvent<T>> CombineWatermarks<T>(params IObservable<StreamEvent<T>>[] inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        if (inputs.Length == 0)
        {
            throw new ArgumentException("At least one input is required.", nameof(inputs));
        }
        foreach (var input in inputs)
        {
            ArgumentNullException.ThrowIfNull(input, nameof(inputs));
        }
        return new CombineWatermarksOperator<T>(inputs.Length == 1 ? inputs : [.. inputs]);
    }
}
