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
/// <param name="ClosedBelow">Partitions assigned behind the operator watermark and still catching up: their floor, the bound
/// below which their keys' windows are final (nothing of theirs has closed here yet). Store it as such a partition's floor
/// instead of <paramref name="Watermark"/>. Null when none is catching up.</param>
public sealed record WindowCheckpoint(
    long Watermark,
    IReadOnlyDictionary<int, long> ReplayFrom,
    IReadOnlyDictionary<int, long> NextOffsets,
    IReadOnlyDictionary<int, long> PartitionWatermarks,
    IReadOnlyDictionary<int, long>? ClosedBelow = null);

/// <summary>
/// Handle on a window operator's live state, created by the caller and passed to
/// <see cref="WindowingObservable.AggregateWindows(IObservable{StreamEvent{SmartMaintenance.Streams.Contracts.SensorReading}}, IReadOnlyList{WindowSpec}, WindowOperatorOptions)"/>.
/// Bound to the most recent subscription.
/// </summary>
public sealed class WindowProbe
{
    private volatile IWindowStateSource? _source;
    internal long LastClosedBelowValue = long.MinValue;
    internal bool ReplayingValue;

    public WindowCounters Counters { get; } = new();

    /// <summary>Set by the feeding thread before it feeds a reading its previous owner already processed (below the stored
    /// next offset): such a reading is judged against its partition's stored floor alone, as it was the first time.</summary>
    public bool Replaying
    {
        get => ReplayingValue;
        set => ReplayingValue = value;
    }

    /// <summary>For the reading processed last: windows ending (with their allowed lateness) at or below this were final,
    /// so it was late for them. Read on the feeding thread; what lateness decisions a replay must reproduce.</summary>
    public long LastClosedBelow => LastClosedBelowValue;

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

    private IWindowStateSource Source => _source ?? throw new InvalidOperationException("The window operator is not subscribed.");

    /// <summary>Whether a session spec is configured (session boundaries exist to persist).</summary>
    public bool HasSessionSpecs => Source.HasSessionSpecs;

    /// <summary>Starts recording which keys' session boundaries change, for <see cref="TakeChangedSessions"/>.</summary>
    public void TrackSessionChanges() => Source.TrackSessionChanges();

    /// <summary>Whether some key's session boundaries changed since they were last taken.</summary>
    public bool HasSessionChanges => Source.HasSessionChanges;

    /// <summary>Appends the keys whose session boundaries changed structurally (a session created, merged, moved, first
    /// emitted or closed) since the last call, which then count as unchanged; a key with several session specs may appear
    /// once per spec. Persist them at this batch boundary for an exact restore (docs/windowing.md).</summary>
    public void TakeChangedSessions(List<ChangedSessionKey> into)
    {
        ArgumentNullException.ThrowIfNull(into);
        Source.TakeChangedSessions(into);
    }

    /// <summary>Writes <paramref name="key"/>'s session boundaries for every session spec: the end of its last closed
    /// session and its open sessions' ranges. Take it on the feeding thread at a batch boundary.</summary>
    public void WriteSessionBoundaries(string key, BinaryWriter writer)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(writer);
        Source.WriteSessions(key, writer);
    }

    /// <summary>Restores <paramref name="key"/>'s session boundaries written by <see cref="WriteSessionBoundaries"/> before
    /// its replay: until <see cref="SessionReplayFinished"/> for <paramref name="partition"/> (or, resuming from a
    /// checkpoint, its first reading past the checkpoint), a reading of the key is taken exactly when it lies in one of the
    /// stored open sessions. A key with open sessions held here already is left as it is.</summary>
    /// <exception cref="InvalidDataException">Not session boundaries, or another version; nothing was changed.</exception>
    public void RestoreSessionBoundaries(string key, int partition, BinaryReader reader)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(reader);
        Source.RestoreSessions(key, partition, reader);
    }

    /// <summary>Drops every key whose last reading came from one of <paramref name="partitions"/>, all at once: revoke them
    /// this way before sending their <see cref="StreamEventKind.PartitionRevoked"/> events, so that the watermark those
    /// events release closes only windows of the partitions that stay.</summary>
    public void DropPartitions(IReadOnlyCollection<int> partitions)
    {
        ArgumentNullException.ThrowIfNull(partitions);
        Source.DropPartitions(partitions);
    }

    /// <summary>The replay of <paramref name="partition"/> reached the offsets stored with the boundaries: its keys'
    /// readings are judged by the watermark again.</summary>
    public void SessionReplayFinished(int partition) => Source.EndSessionRestore(partition);

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

    bool HasSessionSpecs { get; }

    void TrackSessionChanges();

    bool HasSessionChanges { get; }

    void TakeChangedSessions(List<ChangedSessionKey> into);

    void WriteSessions(string key, BinaryWriter writer);

    void RestoreSessions(string key, int partition, BinaryReader reader);

    void EndSessionRestore(int partition);

    void DropPartitions(IReadOnlyCollection<int> partitions);
}

/// <summary>A key whose session boundaries changed, and the source partition of its last reading.</summary>
public readonly record struct ChangedSessionKey(string Key, int Partition);
