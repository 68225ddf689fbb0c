namespace SmartMaintenance.Streams.Windowing;

/// <summary>Counters of one window operator subscription (monotonic; read them from any thread).</summary>
public sealed class WindowCounters
{
    internal long AcceptedValue;
    internal long LateValue;
    internal long PartiallyLateValue;
    internal long DuplicatesValue;
    internal long ProcessingErrorsValue;
    internal long EmittedValue;
    internal long ReplayedValue;

    /// <summary>Readings applied to at least one window.</summary>
    public long Accepted => Volatile.Read(ref AcceptedValue);
    /// <summary>(reading, spec) pairs rejected because every window of the spec was closed.</summary>
    public long Late => Volatile.Read(ref LateValue);
    /// <summary>(reading, spec) pairs where some hopping windows were closed but others took the reading.</summary>
    public long PartiallyLate => Volatile.Read(ref PartiallyLateValue);
    public long Duplicates => Volatile.Read(ref DuplicatesValue);
    public long ProcessingErrors => Volatile.Read(ref ProcessingErrorsValue);
    /// <summary>Aggregates emitted (all firing kinds).</summary>
    public long Emitted => Volatile.Read(ref EmittedValue);
    /// <summary>Readings re-fed below the resume high-water mark (state rebuilt, no outputs).</summary>
    public long Replayed => Volatile.Read(ref ReplayedValue);
}

/// <summary>
/// What the engine persists with its offsets to rebuild window state after a crash (see docs/windowing.md, "Replay").
/// </summary>
/// <param name="Watermark">The operator watermark when the checkpoint was taken.</param>
/// <param name="ReplayFrom">Per source partition, the lowest offset still referenced by an open window or the
/// dedup memory. A partition without an entry needs nothing: resume it at its next offset.</param>
/// <param name="NextOffsets">Per source partition, one past the highest offset processed: readings below it are
/// re-fed state-only (no emissions, no side outputs) on resume.</param>
/// <param name="PartitionWatermarks">Last partition watermarks seen; push them back as
/// <see cref="StreamEventKind.PartitionWatermark"/> events ahead of the replay so watermarks do not restart from zero.</param>
public sealed record WindowCheckpoint(
    long Watermark,
    IReadOnlyDictionary<int, long> ReplayFrom,
    IReadOnlyDictionary<int, long> NextOffsets,
    IReadOnlyDictionary<int, long> PartitionWatermarks);

/// <summary>
/// Handle on a window operator's live state, created by the caller and passed to
/// <see cref="WindowingObservable.AggregateWindows(IObservable{StreamEvent{SmartMaintenance.Streams.Contracts.SensorReading}}, IReadOnlyList{WindowSpec}, WindowOperatorOptions)"/>.
/// Bound to the most recent subscription.
/// </summary>
public sealed class WindowProbe
{
    private volatile IWindowStateSource? _source;

    public WindowCounters Counters { get; } = new();

    /// <summary>Snapshot for replay; take it on the thread that feeds the operator, after the batch whose offsets it covers.</summary>
    public WindowCheckpoint Checkpoint() =>
        (_source ?? throw new InvalidOperationException("The window operator is not subscribed.")).Checkpoint();

    /// <summary>The lowest offset of <paramref name="partition"/> still needed to rebuild open state.</summary>
    public bool TryGetReplayFrom(int partition, out long offset)
    {
        if (Checkpoint().ReplayFrom.TryGetValue(partition, out offset))
        {
            return true;
        }
        offset = -1;
        return false;
    }

    /// <summary>Approximate bytes of window and dedup state held (managed arrays and objects).</summary>
    public long StateBytes() =>
        (_source ?? throw new InvalidOperationException("The window operator is not subscribed.")).StateBytes();

    internal void Attach(IWindowStateSource source) => _source = source;

    internal void Detach(IWindowStateSource source)
    {
        if (_source == source)
        {
            _source = null;
        }
    }
}

internal interface IWindowStateSource
{
    WindowCheckpoint Checkpoint();

    long StateBytes();
}
