using System.Reactive.Concurrency;
using SmartMaintenance.Streams.Contracts;

namespace SmartMaintenance.Streams.Windowing;

/// <summary>Run-time options of <see cref="WindowingObservable.AggregateWindows(IObservable{StreamEvent{SensorReading}}, IReadOnlyList{WindowSpec}, WindowOperatorOptions)"/>.</summary>
public sealed class WindowOperatorOptions
{
    /// <summary>Drop re-sent readings (same key, timestamp and value, or same seq) within <see cref="DedupHorizon"/>.</summary>
    public bool Dedup { get; init; } = true;

    /// <summary>How far behind the watermark a reading is remembered for dedup. Null: the largest
    /// window span (size or gap) + allowed lateness over the specs, i.e. as long as any window could still take it.</summary>
    public TimeSpan? DedupHorizon { get; init; }

    /// <summary>Route duplicates to the side output (reason <see cref="RejectReason.Duplicate"/>); they are counted either way.</summary>
    public bool EmitDuplicates { get; init; }

    /// <summary>Window key; default the sensor id. Exceptions go to the side output as <see cref="RejectReason.ProcessingError"/>.</summary>
    public Func<SensorReading, string>? KeySelector { get; init; }

    /// <summary>Value aggregated; default <see cref="SensorReading.Value"/>. Exceptions and non-finite results go to the side output.</summary>
    public Func<SensorReading, double>? ValueSelector { get; init; }

    /// <summary>Processing-time scheduler for early firings every T; default <see cref="DefaultScheduler.Instance"/>.</summary>
    public IScheduler? Scheduler { get; init; }

    /// <summary>Receives counters and serves checkpoints of the subscription.</summary>
    public WindowProbe? Probe { get; init; }

    /// <summary>Called on the feeding thread when the watermark has advanced and on-time windows are about to fire, with (at
    /// most) the number of (key, window) firings due, before any of them is emitted. Lets a host prepare for a burst: when a minute
    /// ends at a million keys the firings emit two million aggregates at once. Must not throw.</summary>
    public Action<int>? FiringsDue { get; init; }

    /// <summary>Resume after a crash: start at the checkpoint's watermark and rebuild state from the replayed
    /// readings below its next offsets without emitting anything for them.</summary>
    public WindowCheckpoint? ResumeFrom { get; init; }
}
