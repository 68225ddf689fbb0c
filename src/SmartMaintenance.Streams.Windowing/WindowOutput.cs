using SmartMaintenance.Streams.Contracts;

namespace SmartMaintenance.Streams.Windowing;

/// <summary>Why a window emitted an aggregate.</summary>
public enum FiringKind : byte
{
    /// <summary>Before the watermark reached the window end (every K readings or every T); <c>IsFinal</c> is false.</summary>
    Early,
    /// <summary>The watermark reached the window end. Final as well when the allowed lateness is zero.</summary>
    OnTime,
    /// <summary>A late reading within the allowed lateness changed an already fired window.</summary>
    Correction,
    /// <summary>The watermark reached window end + allowed lateness: the last emission, <c>IsFinal</c> true.</summary>
    Final,
    /// <summary>A session that was emitted before was merged into another one (a late reading bridged them):
    /// the row keyed by this aggregate's window start must be deleted; the merged session supersedes it.</summary>
    Retraction,
}

public enum WindowOutputKind : byte
{
    Aggregate,
    Rejected,
}

/// <summary>A reading the window operator did not (fully) use, with the reason: the side output.</summary>
/// <param name="WindowKind">Label of the spec that rejected it (late); null for operator-wide reasons (duplicate, processing error).</param>
/// <param name="Partial">Late for some of the reading's hopping windows only; the others did take it.</param>
/// <param name="Error">The exception thrown by user code, for <see cref="RejectReason.ProcessingError"/>.</param>
public readonly record struct RejectedReading(
    SensorReading Reading,
    RejectReason Reason,
    string? WindowKind,
    bool Partial = false,
    Exception? Error = null);

/// <summary>What the window operator emits as data: an aggregate emission or a rejected reading.</summary>
public readonly struct WindowOutput
{
    private WindowOutput(WindowOutputKind kind, in WindowAggregate aggregate, FiringKind firing, RejectedReading rejected)
    {
        Kind = kind;
        Aggregate = aggregate;
        Firing = firing;
        Rejected = rejected;
    }

    public WindowOutputKind Kind { get; }

    /// <summary>Set when <see cref="Kind"/> is <see cref="WindowOutputKind.Aggregate"/> (a struct, so an emission
    /// allocates nothing); <c>default</c> otherwise.</summary>
    public WindowAggregate Aggregate { get; }

    public FiringKind Firing { get; }

    /// <summary>Set when <see cref="Kind"/> is <see cref="WindowOutputKind.Rejected"/>.</summary>
    public RejectedReading Rejected { get; }

    public static WindowOutput ForAggregate(in WindowAggregate aggregate, FiringKind firing) =>
        new(WindowOutputKind.Aggregate, aggregate, firing, default);

    public static WindowOutput ForRejected(RejectedReading rejected) =>
        new(WindowOutputKind.Rejected, default, default, rejected);

    public override string ToString() => Kind == WindowOutputKind.Aggregate
        ? $"{Firing} {Aggregate}"
        : $"Rejected {Rejected.Reason} {Rejected.WindowKind} {Rejected.Reading}";
}
