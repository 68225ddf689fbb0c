// Over 500 lines because aligned windows, sessions and their checkpointing still share one sink and its per-key state;
// separating them into operators of their own is the open redesign (aligned, session, checkpoint/restore).
using System.Reactive.Concurrency;
using System.Reactive.Disposables;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using SmartMaintenance.Streams.Contracts;

namespace SmartMaintenance.Streams.Windowing;

internal sealed class WindowOperator(
    IObservable<StreamEvent<SensorReading>> source,
    WindowSpec[] specs,
    WindowOperatorOptions options) : IObservable<StreamEvent<WindowOutput>>
{
    public IDisposable Subscribe(IObserver<StreamEvent<WindowOutput>> observer)
    {
        ArgumentNullException.ThrowIfNull(observer);
        var sink = new WindowSink(observer, specs, options);
        sink.Run(source);
        return sink;
    }
}

/// <summary>Aligned specs whose panes are shared per key: same pane length, sketch parameters and sensor-type filter.</summary>
internal sealed class PaneGroup(int stateIndex, WindowSpec first)
{
    public readonly int StateIndex = stateIndex;
    public readonly long PaneSize = first.Pane;
    public readonly SketchMapping Mapping = new(first.QuantileAccuracy, first.QuantileMaxBuckets);
    public readonly WindowSpec First = first;
    public int Members;
    public int InitialPanes;
    public int InitialWindows;
    /// <summary>Stamp of the last reading added to a pane, so a reading taken by several specs is added once.</summary>
    public long Stamp = -1;

    /// <summary>Adds a spec to the group and returns its slot.</summary>
    public byte Join(WindowSpec spec)
    {
        // Two panes to start, growing by two: a key seen within a minute or two needs no more, and at a million young keys
        // the six a 5m/1m spec holds in the steady state would cost 320 B each before they are used.
        InitialPanes = Math.Max(InitialPanes, (int)Math.Min(2, (spec.Size / spec.Pane) + 1));
        // The windows one reading opens (one per advance in the size; 6 for tumbling 1m + hopping 5m/1m): the next minute's
        // first reading arrives when the oldest have closed, and the array grows by two when it does not.
        InitialWindows = (int)Math.Min(128, InitialWindows + (spec.Size / spec.Advance));
        return (byte)Members++;
    }

    public bool Accepts(WindowSpec spec) =>
        Members < WindowMeta.MaxSlots
        && spec.Pane == PaneSize
        && spec.QuantileAccuracy == First.QuantileAccuracy
        && spec.QuantileMaxBuckets == First.QuantileMaxBuckets
        && SameTypes(spec.SensorTypes, First.SensorTypes);

    private static bool SameTypes(IReadOnlySet<string>? a, IReadOnlySet<string>? b)
    {
        var ea = a is not { Count: > 0 };
        var eb = b is not { Count: > 0 };
        return ea || eb ? ea == eb : a!.SetEquals(b!);
    }
}

/// <summary>Per-spec runtime: constants, timer queues and the early-firing dirty list.</summary>
internal sealed class SpecRuntime(WindowSpec spec, int index, int stateSlot, PaneGroup? group, byte slot)
{
    public readonly WindowSpec Spec = spec;
    public readonly int Index = index;
    /// <summary>Slot of the key's state object in <see cref="KeyState.States"/> (the pane group's, or the session
    /// spec's own); −1 for the first pane group, whose state is the key object.</summary>
    public readonly int StateSlot = stateSlot;
    public readonly PaneGroup? Group = group;
    public readonly byte Slot = slot;
    public readonly string Label = spec.Label;
    public readonly bool IsSession = spec.Kind == WindowKind.Session;
    public readonly long Size = spec.Size;
    public readonly long Advance = spec.Advance;
    public readonly long PaneSize = spec.Pane;
    public readonly bool SinglePane = spec.Kind != WindowKind.Session && spec.Pane == spec.Size;
    // Saves a 64-bit division per reading each: a pane as long as the advance starts with the last window (5m/1m),
    // and with a size that is a multiple of the advance the first window is size − advance before the last.
    public readonly bool PaneIsAdvance = spec.Kind != WindowKind.Session && spec.Pane == spec.Advance;
    public readonly bool SizeIsMultiple = spec.Kind != WindowKind.Session && spec.Size % spec.Advance == 0;
    public readonly long Gap = spec.Gap;
    public readonly long Lateness = spec.AllowedLateness;
    public readonly int EarlyK = spec.Kind == WindowKind.Session ? spec.EarlyEveryReadings : Math.Min(spec.EarlyEveryReadings, WindowMeta.MaxSinceEmit);
    public readonly bool EarlyByTime = spec.EarlyInterval > TimeSpan.Zero;
    public readonly IReadOnlySet<string>? SensorTypes = spec.SensorTypes is { Count: > 0 } t ? t : null;
    public readonly SketchMapping Mapping = group?.Mapping ?? new SketchMapping(spec.QuantileAccuracy, spec.QuantileMaxBuckets);
    public readonly TimeQueue<KeyState> OnTime = new();
    public readonly TimeQueue<KeyState> Close = new();
    public readonly PriorityQueue<(KeyState Key, long Id), long> SessionTimers = new();
    public List<(KeyState Key, long Ref)> Dirty = [];
    public List<(KeyState Key, long Ref)> DirtySpare = [];
}

internal enum ApplyResult : byte
{
    Skipped,
    Applied,
    Partial,
    Late,
}

internal sealed partial class WindowSink : IObserver<StreamEvent<SensorReading>>, IDisposable, IWindowStateSource
{
    private readonly Lock _gate = new();
    private readonly IObserver<StreamEvent<WindowOutput>> _downstream;
    private readonly SpecRuntime[] _specs;
    private readonly Dictionary<string, KeyState> _keys = new(StringComparer.Ordinal);
    private readonly BucketPool _pool = new();
    private readonly OffsetTracker _tracker;
    private readonly WindowCounters _counters;
    private readonly WindowProbe? _probe;
    private readonly Action<int>? _firingsDue;
    private readonly Func<SensorReading, string>? _keySelector;
    private readonly Func<SensorReading, double>? _valueSelector;
    private readonly bool _dedup;
    private readonly bool _emitDuplicates;
    private readonly long _horizon;
    private readonly bool _resuming;
    private PartitionArray<long> _resumeNext = new(-1);
    private PartitionArray<long> _nextOffsets = new(-1);
    private readonly Dictionary<int, long> _partitionWatermarks = [];
    // Watermark stored by a partition's previous owner: windows of its keys final at it are closed here too.
    private PartitionArray<long> _floors = new(long.MinValue);
    // max(operator watermark, floor of the current reading's partition): what "final" means for the reading in hand.
    private long _closedBelow = long.MinValue;
    // What "due" means for the reading in hand: the operator watermark, or a catching-up partition's own watermark.
    private long _dueBelow = long.MinValue;
    // Partitions assigned and not yet level with this operator's watermark (their own watermark below it, or still replaying),
    // or until they go idle: their readings are judged by their stored floor and their keys' windows wait, so nothing of
    // theirs closes on a watermark the others moved on (docs/design.md, "Why a stored final aggregate equals its recompute").
    private readonly HashSet<int> _catchingUp = [];
    // Partitions whose last reading was a replayed one (below the stored next offset): not caught up, whatever the watermark.
    private readonly HashSet<int> _replaying = [];
    private readonly CompositeDisposable _timers = [];
    private readonly SingleAssignmentDisposable _upstream = new();
    private Accumulator _scratch;
    // Specs the reading in hand was late for as a whole (reused: no allocation per reading).
    private List<SpecRuntime>? _lateSpecs;
    // Aligned timers of keys still catching up, taken out of a queue while it is processed (see ProcessAligned).
    private List<(long Due, KeyState Key, bool Close)>? _waiting;
    private long _watermark = long.MinValue;
    private readonly int _stateCount;
    private readonly PaneGroup? _firstGroup;
    private long _sessionIds;
    private long _stamp;
    private bool _done;
    // Session boundaries for persistence (docs/windowing.md, "Session boundaries").
    private bool _trackSessions;
    private readonly List<(KeyState Key, SessionState State)> _changedSessions = [];
    // Stored boundaries of the restored keys whose partition still replays (ends extended by the replay).
    private readonly Dictionary<SessionState, (RestoredSession[] Open, int Partition)> _restoring = new(ReferenceEqualityComparer.Instance);
    private readonly HashSet<int> _restoringPartitions = [];
    // Resuming: one past the highest replayed offset per partition, to end a restore when the replay is complete.
    private PartitionArray<long> _replayedUpTo = new(-1);
    // Session timers of restored keys that came due during their replay (see ProcessSessions).
    private readonly List<(SpecRuntime Spec, (KeyState Key, long Id) Timer, long Due)> _parked = [];

    public WindowSink(IObserver<StreamEvent<WindowOutput>> downstream, WindowSpec[] specs, WindowOperatorOptions options)
    {
        _downstream = downstream;
        _specs = new SpecRuntime[specs.Length];
        long horizon = 0;
        var granularity = long.MaxValue;
        // Pane groups first, so the first group's state is index 0: the key object itself.
        var groups = new List<PaneGroup>();
        var groupOf = new PaneGroup?[specs.Length];
        var slots = new byte[specs.Length];
        for (var i = 0; i < specs.Length; i++)
        {
            if (specs[i].Kind != WindowKind.Session)
            {
                var group = groups.Find(g => g.Accepts(specs[i]));
                if (group is null)
                {
                    group = new PaneGroup(groups.Count, specs[i]);
                    groups.Add(group);
                }
                groupOf[i] = group;
                slots[i] = group.Join(specs[i]);
            }
        }
        _stateCount = groups.Count;
        _firstGroup = groups.Count > 0 ? groups[0] : null;
        for (var i = 0; i < specs.Length; i++)
        {
            var stateIndex = groupOf[i] is { } g ? g.StateIndex : _stateCount++;
            _specs[i] = new SpecRuntime(specs[i], i, groups.Count > 0 ? stateIndex - 1 : stateIndex, groupOf[i], slots[i]);
            horizon = Math.Max(horizon, specs[i].Span + specs[i].AllowedLateness);
            granularity = Math.Min(granularity, specs[i].Kind == WindowKind.Session ? specs[i].Gap : specs[i].Pane);
        }
        _dedup = options.Dedup;
        _emitDuplicates = options.EmitDuplicates;
        _horizon = options.DedupHorizon is { } h ? (long)h.TotalMilliseconds : horizon;
        _tracker = new OffsetTracker(Math.Max(1, granularity / 4));
        _keySelector = options.KeySelector;
        _valueSelector = options.ValueSelector;
        _probe = options.Probe;
        _firingsDue = options.FiringsDue;
        _counters = _probe?.Counters ?? new WindowCounters();
        if (options.ResumeFrom is { } resume)
        {
            _resuming = true;
            _watermark = resume.Watermark;
            foreach (var (p, next) in resume.NextOffsets)
            {
                _resumeNext[p] = next;
                _nextOffsets[p] = next;
            }
            foreach (var (p, wm) in resume.PartitionWatermarks)
            {
                _partitionWatermarks[p] = wm;
            }
        }
        var scheduler = options.Scheduler ?? DefaultScheduler.Instance;
        foreach (var spec in _specs)
        {
            if (spec.EarlyByTime)
            {
                ScheduleEarlyTick(scheduler, spec);
            }
        }
    }

    public void Run(IObservable<StreamEvent<SensorReading>> source)
    {
        _probe?.Attach(this);
        _upstream.Disposable = source.Subscribe(this);
    }

    public void OnNext(StreamEvent<SensorReading> value)
    {
        lock (_gate)
        {
            if (_done)
            {
                return;
            }
            switch (value.Kind)
            {
                case StreamEventKind.Data:
                    OnData(value.Item);
                    break;
                case StreamEventKind.Watermark:
                    if (_resuming && _restoringPartitions.Count > 0)
                    {
                        EndFinishedReplays();
                    }
                    if (AdvanceWatermark(value.Timestamp))
                    {
                        _downstream.OnNext(StreamEvent<WindowOutput>.Watermark(_watermark));
                    }
                    break;
                case StreamEventKind.PartitionWatermark:
                    _partitionWatermarks[value.Partition] = value.Timestamp;
                    if (_catchingUp.Count > 0 && value.Timestamp >= _watermark && _catchingUp.Contains(value.Partition)
                        && !_replaying.Contains(value.Partition))
                    {
                        EndCatchUp(value.Partition);
                    }
                    _downstream.OnNext(value.WithoutItem<WindowOutput>());
                    break;
                case StreamEventKind.PartitionAssigned:
                    _catchingUp.Add(value.Partition);
                    _downstream.OnNext(value.WithoutItem<WindowOutput>());
                    break;
                case StreamEventKind.PartitionIdle:
                    // Idle means caught up: the operator watermark closes its keys' windows from now on.
                    if (_catchingUp.Contains(value.Partition))
                    {
                        EndCatchUp(value.Partition);
                    }
                    _downstream.OnNext(value.WithoutItem<WindowOutput>());
                    break;
                case StreamEventKind.PartitionRevoked:
                    _partitionWatermarks.Remove(value.Partition);
                    _floors[value.Partition] = long.MinValue;
                    _catchingUp.Remove(value.Partition);
                    _replaying.Remove(value.Partition);
                    DropPartitionState(value.Partition);
                    _downstream.OnNext(value.WithoutItem<WindowOutput>());
                    break;
                case StreamEventKind.PartitionFloor:
                    ref var floor = ref _floors[value.Partition];
                    floor = Math.Max(floor, value.Timestamp);
                    _downstream.OnNext(value.WithoutItem<WindowOutput>());
                    break;
                default:
                    _downstream.OnNext(value.WithoutItem<WindowOutput>());
                    break;
            }
        }
    }

    public void OnError(Exception error)
    {
        lock (_gate)
        {
            if (_done)
            {
                return;
            }
            _done = true;
            _timers.Dispose();
            _downstream.OnError(error);
        }
    }

    public void OnCompleted()
    {
        lock (_gate)
        {
            if (_done)
            {
                return;
            }
            _done = true;
            _timers.Dispose();
            _downstream.OnCompleted();
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _done = true;
        }
        _timers.Dispose();
        _upstream.Dispose();
        _probe?.Detach(this);
    }

    private void OnData(in SensorReading r)
    {
        var partition = r.Position.Partition;
        var offset = r.Position.Offset;
        var replayed = false;
        _closedBelow = _watermark;
        var hasFloor = _floors.TryGet(partition, out var partitionFloor) && partitionFloor != long.MinValue;
        var replaying = _probe is { ReplayingValue: true };
        if (replaying)
        {
            _replaying.Add(partition);
        }
        else if (_replaying.Count > 0 && _replaying.Remove(partition) && _catchingUp.Contains(partition)
                 && _partitionWatermarks.TryGetValue(partition, out var caughtUp) && caughtUp >= _watermark)
        {
            // The first reading after the replay, and the partition is level with the others: the watermark is its again.
            EndCatchUp(partition);
            hasFloor = _floors.TryGet(partition, out partitionFloor) && partitionFloor != long.MinValue;
        }
        // Replayed by its consumer: it rebuilds state only, like a reading below the resume point (no corrections, early
        // firings or side outputs: its previous owner made those durable).
        replayed |= replaying;
        if (replaying || (_catchingUp.Count > 0 && _catchingUp.Contains(partition)))
        {
            // A replayed reading, or one of a partition assigned behind this operator's watermark and not caught up yet:
            // what was final for it is what its previous owner had made final, the stored floor, and no more. Judged by
            // this operator's watermark instead, windows still open at the floor would lose readings (or vanish) on replay
            // (docs/design.md, "Why a stored final aggregate equals its recompute").
            _closedBelow = hasFloor ? partitionFloor : long.MinValue;
        }
        else if (hasFloor && partitionFloor > _closedBelow)
        {
            // A handed-over partition replays only what the previous owner's open windows needed: a window it had
            // already finalized would be rebuilt from a tail and overwrite the stored result.
            _closedBelow = partitionFloor;
        }
        _dueBelow = _closedBelow;
        if (_probe is not null)
        {
            _probe.LastClosedBelowValue = _closedBelow;
        }
        if (offset >= 0)
        {
            if (_resuming && _resumeNext.TryGet(partition, out var resumeNext) && offset < resumeNext)
            {
                replayed = true;
                if (_restoringPartitions.Count > 0)
                {
                    ref var upTo = ref _replayedUpTo[partition];
                    upTo = Math.Max(upTo, offset + 1);
                }
            }
            else if (_resuming && _restoringPartitions.Count > 0 && _restoringPartitions.Contains(partition))
            {
                // The partition's replay is over: restored boundaries no longer decide its readings.
                EndSessionRestoreLocked(partition);
            }
            ref var next = ref _nextOffsets[partition];
            if (offset >= next)
            {
                next = offset + 1;
            }
        }

        string key;
        double value;
        if (_keySelector is null)
        {
            key = r.SensorId;
        }
        else
        {
            try
            {
                key = _keySelector(r) ?? throw new InvalidOperationException("The key selector returned null.");
            }
            catch (Exception ex)
            {
                ProcessingError(r, ex, replayed);
                return;
            }
        }
        if (_valueSelector is null)
        {
            value = r.Value;
        }
        else
        {
            try
            {
                value = _valueSelector(r);
                if (!double.IsFinite(value))
                {
                    throw new InvalidOperationException("The value selector returned a non-finite value.");
                }
            }
            catch (Exception ex)
            {
                ProcessingError(r, ex, replayed);
                return;
            }
        }
        if (key is null)
        {
            ProcessingError(r, new InvalidOperationException("The reading has no sensor id."), replayed);
            return;
        }

        ref var slot = ref CollectionsMarshal.GetValueRefOrAddDefault(_keys, key, out var exists);
        if (!exists)
        {
            slot = _firstGroup is { } fg
                ? new KeyState(key, _stateCount - 1, fg.InitialPanes, fg.InitialWindows)
                : new KeyState(key, _stateCount, 0, 0);
        }
        var ks = slot!;
        if (partition >= 0)
        {
            ks.Partition = partition;
        }
        if (r.AssetId is not null)
        {
            ks.AssetId = r.AssetId;
        }
        if (r.SensorType is not null)
        {
            ks.SensorType = r.SensorType;
        }

        var ts = r.Timestamp;
        var expiry = long.MinValue;
        _stamp++;
        if (_dedup)
        {
            var low = TimeMath.SaturatingSub(_dueBelow, _horizon);
            var bits = BitConverter.DoubleToInt64Bits(r.Value);
            if (ks.Dedup.Contains(ts, bits, r.Seq, low))
            {
                if (!replayed)
                {
                    _counters.DuplicatesValue++;
                    if (_emitDuplicates)
                    {
                        Emit(new RejectedReading(r, RejectReason.Duplicate, null));
                    }
                }
                return;
            }
            if (ts >= low)
            {
                ks.Dedup.Insert(ts, bits, r.Seq, low);
                expiry = TimeMath.SaturatingAdd(ts, _horizon);
            }
        }

        var applied = false;
        var specs = _specs;
        for (var i = 0; i < specs.Length; i++)
        {
            var sr = specs[i];
            if (sr.SensorTypes is not null && (r.SensorType is null || !sr.SensorTypes.Contains(r.SensorType)))
            {
                continue;
            }
            var result = sr.IsSession
                ? ApplySession(ks, sr, ts, value, partition, offset, replayed)
                : ApplyAligned(ks, sr, ts, value, replayed, ref expiry);
            switch (result)
            {
                case ApplyResult.Applied:
                    applied = true;
                    break;
                case ApplyResult.Partial:
                    applied = true;
                    if (!replayed)
                    {
                        _counters.PartiallyLateValue++;
                        Emit(new RejectedReading(r, RejectReason.Late, sr.Label, Partial: true));
                    }
                    break;
                case ApplyResult.Late:
                    if (!replayed)
                    {
                        (_lateSpecs ??= []).Add(sr);
                    }
                    break;
            }
        }
        if (_lateSpecs is { Count: > 0 })
        {
            // Late for a spec that another spec took is partial: the reading is kept (stored) and counted in the windows
            // that took it. Only a reading no spec took is late as a whole (dead-lettered); deciding by the last spec's
            // answer dead-lettered readings that earlier specs had counted.
            foreach (var late in _lateSpecs)
            {
                if (applied)
                {
                    _counters.PartiallyLateValue++;
                }
                else
                {
                    _counters.LateValue++;
                }
                Emit(new RejectedReading(r, RejectReason.Late, late.Label, Partial: applied));
            }
            _lateSpecs.Clear();
        }
        if (expiry > _dueBelow)
        {
            _tracker.Note(partition, offset, expiry);
        }
        if (replayed)
        {
            _counters.ReplayedValue++;
        }
        else if (applied)
        {
            _counters.AcceptedValue++;
        }
    }

    /// <summary>The key's state, created when missing (restore path; the reading path has the same lookup inline).</summary>
    private KeyState GetOrAddKey(string key)
    {
        ref var slot = ref CollectionsMarshal.GetValueRefOrAddDefault(_keys, key, out var exists);
        if (!exists)
        {
            slot = _firstGroup is { } fg
                ? new KeyState(key, _stateCount - 1, fg.InitialPanes, fg.InitialWindows)
                : new KeyState(key, _stateCount, 0, 0);
        }
        return slot!;
    }

    private void ProcessingError(in SensorReading r, Exception ex, bool replayed)
    {
        if (replayed)
        {
            return;
        }
        _counters.ProcessingErrorsValue++;
        Emit(new RejectedReading(r, RejectReason.ProcessingError, null, Error: ex));
    }

    // ---- tumbling / hopping ----

    private ApplyResult ApplyAligned(KeyState ks, SpecRuntime sr, long ts, double value, bool replayed, ref long expiry)
    {
        var size = sr.Size;
        var advance = sr.Advance;
        var lateness = sr.Lateness;
        var lastWs = TimeMath.FloorTo(ts, advance);
        if (lastWs + size + lateness <= _closedBelow)
        {
            return ApplyResult.Late;
        }
        var group = sr.Group!;
        AlignedState st = ks;
        if (sr.StateSlot >= 0)
        {
            ref var stateRef = ref ks.State(sr.StateSlot);
            st = stateRef is { } o ? Unsafe.As<AlignedState>(o) : (AlignedState)(stateRef = new AlignedState(group.InitialPanes, group.InitialWindows));
        }
        if (group.Stamp != _stamp)
        {
            // First spec of the group to take this reading: the shared pane gets it once.
            group.Stamp = _stamp;
            ref var pane = ref st.GetPane(sr.SinglePane || sr.PaneIsAdvance ? lastWs : TimeMath.FloorTo(ts, sr.PaneSize), sr.PaneSize);
            pane.Acc.Add(ts, value, sr.Mapping, _pool);
        }

        var partial = false;
        var firstWs = sr.SinglePane ? lastWs : sr.SizeIsMultiple ? lastWs - size + advance : TimeMath.FloorTo(ts - size, advance) + advance;
        // Windows are sorted by start: the first window of this reading is searched from the end, each further one
        // from the previous one on.
        var from = -1;
        for (var ws = firstWs; ws <= lastWs; ws += advance)
        {
            if (ws + size + lateness <= _closedBelow)
            {
                partial = true;
                continue;
            }
            var idx = st.FindOrAddWindow(ws, sr.Slot, from, out var created);
            from = idx + 1;
            ref var meta = ref st.Windows[idx];
            if (created)
            {
                meta.OnTimeFired = ws + size <= _dueBelow;
                if (meta.OnTimeFired)
                {
                    // A late reading opened a window that had no content: it is a correction of an empty window.
                    sr.Close.Add(ws + size + lateness, ks);
                    if (replayed)
                    {
                        meta.Revision = 1;
                    }
                    else
                    {
                        EmitAligned(ks, st, sr, idx, FiringKind.Correction, isFinal: false);
                    }
                    continue;
                }
                // One pending on-time timer per key and spec: the earliest unfired window's; firing it chains the next.
                if (!st.HasEarlierPending(ws, sr.Slot))
                {
                    sr.OnTime.Add(ws + size, ks);
                }
            }
            else if (meta.OnTimeFired)
            {
                if (!replayed)
                {
                    EmitAligned(ks, st, sr, idx, FiringKind.Correction, isFinal: false);
                }
                continue;
            }
            meta.SinceEmit++;
            if (replayed)
            {
                continue;
            }
            if (sr.EarlyK > 0 && meta.SinceEmit >= sr.EarlyK)
            {
                EmitAligned(ks, st, sr, idx, FiringKind.Early, isFinal: false);
            }
            else if (sr.EarlyByTime && !meta.Dirty)
            {
                meta.Dirty = true;
                sr.Dirty.Add((ks, ws));
            }
        }
        var closeAt = lastWs + size + lateness;
        if (closeAt > expiry)
        {
            expiry = closeAt;
        }
        return partial ? ApplyResult.Partial : ApplyResult.Applied;
    }

    private void EmitAligned(KeyState ks, AlignedState st, SpecRuntime sr, int windowIndex, FiringKind firing, bool isFinal)
    {
        ref var meta = ref st.Windows[windowIndex];
        var ws = meta.Start;
        WindowAggregate aggregate;
        if (sr.SinglePane)
        {
            var p = st.FindPane(ws, sr.PaneSize);
            aggregate = ToAggregate(ks, sr, ws, ws + sr.Size, in st.Panes[p].Acc, meta.Revision, isFinal);
        }
        else
        {
            _scratch.Release(_pool);
            var end = ws + sr.Size;
            for (var i = 0; i < st.PaneCount; i++)
            {
                ref var pane = ref st.Panes[i];
                // ws and end are pane-aligned: the pane lies inside exactly when its first reading does.
                if (pane.Acc.FirstTs >= ws && pane.Acc.FirstTs < end)
                {
                    _scratch.Merge(pane.Acc, sr.Mapping, _pool);
                }
            }
            aggregate = ToAggregate(ks, sr, ws, end, in _scratch, meta.Revision, isFinal);
            _scratch.Release(_pool);
        }
        meta.Revision++;
        meta.SinceEmit = 0;
        meta.Dirty = false;
        Emit(aggregate, firing);
    }

    private void ProcessAligned(SpecRuntime sr)
    {
        var lateness = sr.Lateness;
        while (true)
        {
            var onDue = sr.OnTime.TryPeek(out var tOn) && tOn <= _watermark;
            var closeDue = sr.Close.TryPeek(out var tClose) && tClose <= _watermark;
            if (!onDue && !closeDue)
            {
                RequeueWaiting(sr);
                return;
            }
            if (onDue && (!closeDue || tOn <= tClose))
            {
                var list = sr.OnTime.Take(tOn);
                var ws = tOn - sr.Size;
                foreach (var ks in list)
                {
                    if (Waits(ks))
                    {
                        (_waiting ??= []).Add((tOn, ks, false));
                        continue;
                    }
                    var st = AlignedOf(ks, sr);
                    var idx = st.FindWindow(ws, sr.Slot);
                    if (idx < 0 || st.Windows[idx].OnTimeFired)
                    {
                        continue;
                    }
                    st.Windows[idx].OnTimeFired = true;
                    if (lateness == 0)
                    {
                        EmitAligned(ks, st, sr, idx, FiringKind.OnTime, isFinal: true);
                        CloseAligned(st, idx);
                    }
                    else
                    {
                        EmitAligned(ks, st, sr, idx, FiringKind.OnTime, isFinal: false);
                        sr.Close.Add(tOn + lateness, ks);
                    }
                    if (st.TryNextPending(ws, sr.Slot, out var next))
                    {
                        sr.OnTime.Add(next + sr.Size, ks);
                    }
                }
                sr.OnTime.Recycle(list);
            }
            else
            {
                var list = sr.Close.Take(tClose);
                var ws = tClose - lateness - sr.Size;
                foreach (var ks in list)
                {
                    if (Waits(ks))
                    {
                        (_waiting ??= []).Add((tClose, ks, true));
                        continue;
                    }
                    var st = AlignedOf(ks, sr);
                    var idx = st.FindWindow(ws, sr.Slot);
                    if (idx < 0)
                    {
                        continue;
                    }
                    EmitAligned(ks, st, sr, idx, FiringKind.Final, isFinal: true);
                    CloseAligned(st, idx);
                }
                sr.Close.Recycle(list);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static AlignedState AlignedOf(KeyState ks, SpecRuntime sr) =>
        sr.StateSlot < 0 ? ks : Unsafe.As<AlignedState>(ks.State(sr.StateSlot)!);

    private void CloseAligned(AlignedState st, int windowIndex)
    {
        st.RemoveWindow(windowIndex);
        st.ReleaseUncoveredPanes(_pool);
    }

    // ---- sessions ----

    private ApplyResult ApplySession(KeyState ks, SpecRuntime sr, long ts, double value, int partition, long offset, bool replayed)
    {
        var gap = sr.Gap;
        var lateness = sr.Lateness;
        ref var stateRef = ref ks.State(sr.StateSlot);
        var existing = stateRef is { } o ? Unsafe.As<SessionState>(o) : null;
        var restoredIndex = -1;
        RestoredSession[]? restoredOpen = null;
        if (existing is { Restoring: true })
        {
            // Replay of a key whose boundaries were restored: they alone say what the uninterrupted run took, since the
            // watermark each reading first met is not known (docs/windowing.md, "Session boundaries").
            restoredOpen = _restoring[existing].Open;
            restoredIndex = SessionState.FindRestored(restoredOpen, ts);
            if (restoredIndex < 0 || ts < existing.LastClosedEnd)
            {
                return ApplyResult.Late;
            }
        }
        else if ((ts + gap + lateness <= _closedBelow && (existing is null || existing.FindContaining(ts) < 0))
            || (existing is not null && ts < existing.LastClosedEnd))
        {
            // Not late when inside a session still open: that session is not final, whatever the reading's own time.
            return ApplyResult.Late;
        }
        var st = existing ?? (SessionState)(stateRef = new SessionState());
        if (partition >= 0)
        {
            st.Partition = partition;
        }
        var protoEnd = ts + gap;
        var items = st.Items;
        var first = 0;
        while (first < st.Count && items[first].End <= ts)
        {
            first++;
        }
        var last = first - 1;
        while (last + 1 < st.Count && items[last + 1].Start < protoEnd)
        {
            last++;
        }

        int idx;
        bool identityChanged;
        if (last < first)
        {
            idx = st.Insert(first, new Session { Id = ++_sessionIds, Start = ts, End = protoEnd });
            identityChanged = true;
            MarkChanged(ks, st);
        }
        else
        {
            idx = first;
            var newStart = Math.Min(ts, st.Items[first].Start);
            identityChanged = last > first || newStart != st.Items[first].Start;
            if (identityChanged)
            {
                for (var j = first; j <= last; j++)
                {
                    ref var part = ref st.Items[j];
                    if (part.Revision > 0 && part.Start != newStart && !replayed)
                    {
                        Emit(ToAggregate(ks, sr, part.Start, part.End, in part.Acc, part.Revision, true), FiringKind.Retraction);
                    }
                }
                ref var merged = ref st.Items[first];
                for (var j = first + 1; j <= last; j++)
                {
                    ref var part = ref st.Items[j];
                    merged.Acc.Merge(part.Acc, sr.Mapping, _pool);
                    merged.Offsets.Merge(part.Offsets);
                    merged.Revision = Math.Max(merged.Revision, part.Revision);
                    merged.OnTimeFired |= part.OnTimeFired;
                    merged.End = Math.Max(merged.End, part.End);
                    part.Acc.Release(_pool);
                }
                if (last > first)
                {
                    st.RemoveRange(first + 1, last - first);
                }
                merged.Id = ++_sessionIds;
                merged.Start = newStart;
                merged.Dirty = false;
                MarkChanged(ks, st);
            }
        }

        ref var s = ref st.Items[idx];
        s.End = Math.Max(s.End, protoEnd);
        s.Acc.Add(ts, value, sr.Mapping, _pool);
        s.Offsets.Note(partition, offset);
        if (restoredIndex >= 0)
        {
            ref var restored = ref restoredOpen![restoredIndex];
            // An end extended after the state was taken (no structural change, so no newer state): the replay follows it.
            restored.End = Math.Max(restored.End, protoEnd);
            s.Revision = Math.Max(s.Revision, restored.Revision);
        }
        var timer = (ks, s.Id);
        if (s.End <= _dueBelow)
        {
            // Late within the allowance: the session is already due, so this is a correction.
            if (identityChanged || !s.OnTimeFired)
            {
                sr.SessionTimers.Enqueue(timer, s.End + lateness);
            }
            s.OnTimeFired = true;
            if (replayed)
            {
                if (s.Revision == 0)
                {
                    s.Revision = 1;
                    MarkChanged(ks, st);
                }
            }
            else
            {
                EmitSession(ks, st, sr, idx, FiringKind.Correction, isFinal: false);
            }
        }
        else
        {
            if (s.OnTimeFired || identityChanged)
            {
                // Extended past the watermark: it fires on time again when the watermark reaches the new end.
                s.OnTimeFired = false;
                sr.SessionTimers.Enqueue(timer, s.End);
            }
            s.SinceEmit++;
            if (!replayed)
            {
                if (sr.EarlyK > 0 && s.SinceEmit >= sr.EarlyK)
                {
                    EmitSession(ks, st, sr, idx, FiringKind.Early, isFinal: false);
                }
                else if (sr.EarlyByTime && !s.Dirty)
                {
                    s.Dirty = true;
                    sr.Dirty.Add((ks, s.Id));
                }
            }
        }
        st.Items[idx].Offsets.Report(_tracker, st.Items[idx].End + lateness);
        return ApplyResult.Applied;
    }

    private void EmitSession(KeyState ks, SessionState st, SpecRuntime sr, int index, FiringKind firing, bool isFinal)
    {
        ref var s = ref st.Items[index];
        var aggregate = ToAggregate(ks, sr, s.Start, s.End, in s.Acc, s.Revision, isFinal);
        if (s.Revision == 0)
        {
            // A first emission is a boundary fact: a later merge that moves the start must retract the row.
            MarkChanged(ks, st);
        }
        s.Revision++;
        s.SinceEmit = 0;
        s.Dirty = false;
        Emit(aggregate, firing);
    }

    private void ProcessSessions(SpecRuntime sr)
    {
        var lateness = sr.Lateness;
        var timers = sr.SessionTimers;
        List<((KeyState Key, long Id) Timer, long Due)>? waiting = null;
        while (timers.TryPeek(out var timer, out var due) && due <= _watermark)
        {
            timers.Dequeue();
            if (Waits(timer.Key))
            {
                (waiting ??= []).Add((timer, due));
                continue;
            }
            var st = Unsafe.As<SessionState>(timer.Key.State(sr.StateSlot)!);
            var idx = st.Find(timer.Id);
            if (idx < 0)
            {
                continue;
            }
            if (st.Restoring)
            {
                // A session being rebuilt must not fire or close before its partition's replay ends: the watermark, the
                // minimum over partitions replaying at their own pace, may pass the end of a partial rebuild.
                _parked.Add((sr, timer, due));
                continue;
            }
            ref var s = ref st.Items[idx];
            if (!s.OnTimeFired)
            {
                if (s.End > _watermark)
                {
                    timers.Enqueue(timer, s.End);
                    continue;
                }
                s.OnTimeFired = true;
                if (lateness == 0)
                {
                    EmitSession(timer.Key, st, sr, idx, FiringKind.OnTime, isFinal: true);
                    CloseSession(timer.Key, st, idx);
                }
                else
                {
                    EmitSession(timer.Key, st, sr, idx, FiringKind.OnTime, isFinal: false);
                    timers.Enqueue(timer, s.End + lateness);
                }
            }
            else
            {
                if (s.End + lateness > _watermark)
                {
                    timers.Enqueue(timer, s.End + lateness);
                    continue;
                }
                EmitSession(timer.Key, st, sr, idx, FiringKind.Final, isFinal: true);
                CloseSession(timer.Key, st, idx);
            }
        }
        foreach (var (timer, due) in waiting ?? [])
        {
            timers.Enqueue(timer, due);
        }
    }

    private void CloseSession(KeyState ks, SessionState st, int index)
    {
        ref var s = ref st.Items[index];
        st.LastClosedEnd = Math.Max(st.LastClosedEnd, s.End);
        s.Acc.Release(_pool);
        st.RemoveRange(index, 1);
        MarkChanged(ks, st);
    }

    /// <summary>Structural changes only (a session created, merged, moved, first emitted or closed): an end extended by
    /// an in-order reading is not one, so a steadily reporting key is not persisted at every batch.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void MarkChanged(KeyState ks, SessionState st)
    {
        if (_trackSessions && !st.Changed && !st.Restoring)
        {
            st.Changed = true;
            _changedSessions.Add((ks, st));
        }
    }

    // ---- watermarks, early firing, output ----

    private bool AdvanceWatermark(long watermark)
    {
        if (watermark <= _watermark)
        {
            return false;
        }
        _watermark = watermark;
        if (_catchingUp.Count > 0)
        {
            EndCatchUps();
        }
        if (_firingsDue is not null)
        {
            NotifyFiringsDue(_firingsDue);
        }
        foreach (var sr in _specs)
        {
            if (sr.IsSession)
            {
                ProcessSessions(sr);
            }
            else
            {
                ProcessAligned(sr);
            }
        }
        _tracker.Advance(watermark);
        return true;
    }

    private void NotifyFiringsDue(Action<int> firingsDue)
    {
        var due = 0;
        foreach (var sr in _specs)
        {
            if (!sr.IsSession)
            {
                due += sr.OnTime.CountUpTo(_watermark);
            }
        }
        if (due > 0)
        {
            firingsDue(due);
        }
    }

    private void ScheduleEarlyTick(IScheduler scheduler, SpecRuntime sr)
    {
        var slot = new MultipleAssignmentDisposable();
        _timers.Add(slot);
        Schedule();

        void Schedule() => slot.Disposable = scheduler.Schedule(sr.Spec.EarlyInterval, () =>
        {
            lock (_gate)
            {
                if (_done)
                {
                    return;
                }
                EarlyTick(sr);
            }
            Schedule();
        });
    }

    private void EarlyTick(SpecRuntime sr)
    {
        var dirty = sr.Dirty;
        sr.Dirty = sr.DirtySpare;
        sr.DirtySpare = dirty;
        foreach (var (ks, reference) in dirty)
        {
            if (sr.IsSession)
            {
                var st = Unsafe.As<SessionState>(ks.State(sr.StateSlot)!);
                var idx = st.Find(reference);
                if (idx >= 0 && st.Items[idx].Dirty && !st.Items[idx].OnTimeFired)
                {
                    EmitSession(ks, st, sr, idx, FiringKind.Early, isFinal: false);
                }
            }
            else
            {
                var st = AlignedOf(ks, sr);
                var idx = st.FindWindow(reference, sr.Slot);
                if (idx >= 0 && st.Windows[idx].Dirty && !st.Windows[idx].OnTimeFired)
                {
                    EmitAligned(ks, st, sr, idx, FiringKind.Early, isFinal: false);
                }
            }
        }
        dirty.Clear();
    }

    private WindowAggregate ToAggregate(KeyState ks, SpecRuntime sr, long start, long end, in Accumulator acc, int revision, bool isFinal) =>
        new(
            ks.Key,
            sr.Label,
            start,
            end,
            acc.Count,
            acc.Sum,
            acc.Min,
            acc.Max,
            acc.Mean,
            acc.StdDev,
            acc.First,
            acc.Last,
            acc.Sketch.Quantile(0.50, sr.Mapping, _pool),
            acc.Sketch.Quantile(0.95, sr.Mapping, _pool),
            acc.Sketch.Quantile(0.99, sr.Mapping, _pool),
            revision,
            isFinal,
            ks.AssetId,
            ks.SensorType);

    private void Emit(in WindowAggregate aggregate, FiringKind firing)
    {
        _counters.EmittedValue++;
        WindowingMetrics.OnFired(firing);
        _downstream.OnNext(StreamEvent<WindowOutput>.Data(WindowOutput.ForAggregate(aggregate, firing)));
    }

    private void Emit(in RejectedReading rejected) =>
        _downstream.OnNext(StreamEvent<WindowOutput>.Data(WindowOutput.ForRejected(rejected)));

    // ---- probe ----

    public WindowCheckpoint Checkpoint()
    {
        lock (_gate)
        {
            var next = new Dictionary<int, long>();
            foreach (var p in _nextOffsets.Partitions())
            {
                if (_nextOffsets.TryGet(p, out var n) && n >= 0)
                {
                    next[p] = n;
                }
            }
            Dictionary<int, long>? behind = null;
            foreach (var p in _catchingUp)
            {
                // Nothing of a partition still catching up closed here: what is final for it is still its floor.
                (behind ??= [])[p] = _floors.TryGet(p, out var floor) ? floor : long.MinValue;
            }
            return new WindowCheckpoint(_watermark, _tracker.Lowest(), next, new Dictionary<int, long>(_partitionWatermarks), behind);
        }
    }

    // ---- session boundaries (persistence; docs/windowing.md, "Session boundaries") ----

    private const int SessionMagic = 0x53574D53; // "SMWS"
    private const int SessionVersion = 1;

    public bool HasSessionSpecs => Array.Exists(_specs, s => s.IsSession);

    public void TrackSessionChanges()
    {
        lock (_gate)
        {
            _trackSessions = true;
        }
    }

    public bool HasSessionChanges
    {
        get
        {
            lock (_gate)
            {
                return _changedSessions.Count > 0;
            }
        }
    }

    public void TakeChangedSessions(List<ChangedSessionKey> into)
    {
        lock (_gate)
        {
            foreach (var (ks, st) in _changedSessions)
            {
                st.Changed = false;
                into.Add(new ChangedSessionKey(ks.Key, st.Partition));
            }
            _changedSessions.Clear();
        }
    }

    public void WriteSessions(string key, BinaryWriter writer)
    {
        lock (_gate)
        {
            writer.Write(SessionMagic);
            writer.Write(SessionVersion);
            var count = 0;
            foreach (var sr in _specs)
            {
                count += sr.IsSession ? 1 : 0;
            }
            writer.Write(count);
            _keys.TryGetValue(key, out var ks);
            foreach (var sr in _specs)
            {
                if (!sr.IsSession)
                {
                    continue;
                }
                writer.Write(sr.Label);
                // A key without session state had no reading taken by the spec: stored as such, so a replay skips them all.
                var st = ks?.State(sr.StateSlot) is { } o ? Unsafe.As<SessionState>(o) : null;
                writer.Write(st?.LastClosedEnd ?? long.MinValue);
                if (st is { Restoring: true })
                {
                    var restored = _restoring[st].Open;
                    // Still replaying: the stored boundaries (as the replay extended them) are the truth, not the rebuild so far.
                    writer.Write(restored.Length);
                    foreach (var r in restored)
                    {
                        writer.Write(r.Start);
                        writer.Write(r.End);
                        writer.Write(r.Revision);
                    }
                }
                else
                {
                    writer.Write(st?.Count ?? 0);
                    for (var i = 0; i < (st?.Count ?? 0); i++)
                    {
                        ref var session = ref st!.Items[i];
                        writer.Write(session.Start);
                        writer.Write(session.End);
                        writer.Write(session.Revision);
                    }
                }
            }
        }
    }

    public void RestoreSessions(string key, int partition, BinaryReader reader)
    {
        if (reader.ReadInt32() != SessionMagic)
        {
            throw new InvalidDataException($"Stored session boundaries of key '{key}' are not session boundaries.");
        }
        var version = reader.ReadInt32();
        if (version != SessionVersion)
        {
            throw new InvalidDataException($"Stored session boundaries of key '{key}' have version {version} (expected {SessionVersion}).");
        }
        var count = reader.ReadInt32();
        if (count is < 0 or > 1024)
        {
            throw new InvalidDataException($"Stored session boundaries of key '{key}' name {count} specs.");
        }
        // Read everything before changing anything: a truncated state changes nothing.
        var parsed = new (string Label, long LastClosedEnd, RestoredSession[] Open)[count];
        for (var i = 0; i < count; i++)
        {
            var label = reader.ReadString();
            var lastClosedEnd = reader.ReadInt64();
            var open = reader.ReadInt32();
            if (open is < 0 or > 1 << 20)
            {
                throw new InvalidDataException($"Stored session boundaries of key '{key}' hold {open} open sessions.");
            }
            var ranges = new RestoredSession[open];
            for (var j = 0; j < open; j++)
            {
                ranges[j] = new RestoredSession { Start = reader.ReadInt64(), End = reader.ReadInt64(), Revision = reader.ReadInt32() };
                if (ranges[j].End <= ranges[j].Start)
                {
                    throw new InvalidDataException($"Stored session boundaries of key '{key}' hold an empty session.");
                }
            }
            parsed[i] = (label, lastClosedEnd, ranges);
        }
        lock (_gate)
        {
            foreach (var (label, lastClosedEnd, open) in parsed)
            {
                var sr = Array.Find(_specs, s => s.IsSession && s.Label == label);
                if (sr is null)
                {
                    // The spec is no longer configured (or its gap changed): its sessions start afresh, as without a state.
                    continue;
                }
                var ks = GetOrAddKey(key);
                ks.Partition = partition;
                ref var stateRef = ref ks.State(sr.StateSlot);
                var existing = stateRef is { } o ? Unsafe.As<SessionState>(o) : null;
                if (existing is { Count: > 0 })
                {
                    // Open sessions held here already (a partition revoked and assigned back): they are at least as new.
                    continue;
                }
                var st = existing ?? (SessionState)(stateRef = new SessionState());
                st.LastClosedEnd = Math.Max(st.LastClosedEnd, lastClosedEnd);
                st.Partition = partition;
                st.Restoring = true;
                _restoring[st] = (open, partition);
                _restoringPartitions.Add(partition);
            }
        }
    }

    public void EndSessionRestore(int partition)
    {
        lock (_gate)
        {
            EndSessionRestoreLocked(partition);
        }
    }

    /// <summary>Resuming from a checkpoint: partitions whose replay reached the checkpoint's next offset end their restore
    /// (a partition may have no reading after it).</summary>
    private void EndFinishedReplays()
    {
        List<int>? finished = null;
        foreach (var p in _restoringPartitions)
        {
            if (!_resumeNext.TryGet(p, out var resumeNext) || (_replayedUpTo.TryGet(p, out var upTo) && upTo >= resumeNext))
            {
                (finished ??= []).Add(p);
            }
        }
        foreach (var p in finished ?? [])
        {
            EndSessionRestoreLocked(p);
        }
    }

    private void EndSessionRestoreLocked(int partition)
    {
        if (!_restoringPartitions.Remove(partition))
        {
            return;
        }
        List<SessionState>? done = null;
        foreach (var (st, entry) in _restoring)
        {
            if (entry.Partition == partition)
            {
                (done ??= []).Add(st);
            }
        }
        foreach (var st in done ?? [])
        {
            st.Restoring = false;
            _restoring.Remove(st);
        }
        if (_parked.Count == 0)
        {
            return;
        }
        // Due again: they fire at the next watermark advance.
        var kept = 0;
        // By index: compacting in place while a foreach runs over the list throws.
        for (var i = 0; i < _parked.Count; i++)
        {
            var parked = _parked[i];
            if (Unsafe.As<SessionState>(parked.Timer.Key.State(parked.Spec.StateSlot)!).Restoring)
            {
                _parked[kept++] = parked;
            }
            else
            {
                parked.Spec.SessionTimers.Enqueue(parked.Timer, parked.Due);
            }
        }
        _parked.RemoveRange(kept, _parked.Count - kept);
    }

    public long StateBytes()
    {
        lock (_gate)
        {
            // Dictionary entry (hash, next, key, value) and bucket, then each key's objects.
            long bytes = _keys.Count * 28L;
            foreach (var ks in _keys.Values)
            {
                bytes += ks.HeapBytes + (_firstGroup is null ? 0 : ks.ArrayBytes(_pool));
                for (var i = 0; i < (ks.States?.Length ?? 0); i++)
                {
                    bytes += ks.State(i) switch
                    {
                        AlignedState a => 40 + a.ArrayBytes(_pool),
                        SessionState s => s.HeapBytes(_pool),
                        _ => 0,
                    };
                }
            }
            return bytes + _tracker.HeapBytes();
        }
    }
}
