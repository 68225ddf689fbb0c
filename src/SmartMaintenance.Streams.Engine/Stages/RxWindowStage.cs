using System.Reactive.Concurrency;
using System.Reactive.Subjects;
using System.Runtime;
using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Windowing;

namespace SmartMaintenance.Streams.Engine.Stages;

/// <summary>
/// Runs the Rx windowing operators (per-partition watermarks → combined watermark → keyed windows) synchronously
/// on the consume loop: each reading pushed in comes back out, before <see cref="OnReading"/> returns, as the
/// aggregates it caused and, when it was rejected (late, duplicate, processing error), as that rejection.
/// </summary>
/// <remarks>
/// Processing time (idle partitions, early firings every T) runs on a <see cref="HistoricalScheduler"/> that the
/// consume loop advances to the wall clock in <see cref="OnTick"/>, so timers never call into the operator from
/// another thread.
/// Restore: the operator watermark at each commit is stored with the offsets; on assignment it is pushed back as
/// the partition's watermark floor. Windows that were final before a crash therefore stay closed during the replay
/// (their replayed readings are late and dropped silently), while windows that were open are rebuilt whole from
/// <see cref="LowestNeededOffset"/> and fire normally. Sessions also need their boundaries (<see cref="IPersistentWindowStage"/>),
/// restored with each sensor's state before the replay (docs/windowing.md, "Session boundaries").
/// </remarks>
public sealed class RxWindowStage : IWindowStage, IPersistentWindowStage, IDisposable
{
    private readonly Subject<StreamEvent<SensorReading>> _input = new();
    private readonly HistoricalScheduler _scheduler;
    private readonly TimeProvider _time;
    private readonly WindowProbe _probe = new();
    private readonly IDisposable _subscription;
    private readonly Dictionary<int, long> _replayFrom = [];
    private readonly Dictionary<int, long> _behind = [];
    private readonly List<string> _lateKinds = [];
    private StageOutputs? _sink;
    private RejectedReading _rejected;
    private bool _hasRejection;
    private Exception? _error;

    public RxWindowStage(WindowingSettings settings, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        settings.Validate();
        _time = time ?? TimeProvider.System;
        _scheduler = new HistoricalScheduler(_time.GetUtcNow());
        var operatorOptions = settings.ToOperatorOptions(_probe);
        var options = new WindowOperatorOptions
        {
            Dedup = operatorOptions.Dedup,
            DedupHorizon = operatorOptions.DedupHorizon,
            EmitDuplicates = true,
            Probe = _probe,
            Scheduler = _scheduler,
            FiringsDue = OnFiringsDue,
        };
        var specs = settings.ToSpecs();
        var kinds = new string[specs.Count];
        for (var i = 0; i < kinds.Length; i++)
        {
            kinds[i] = specs[i].Label;
        }
        WindowKinds = kinds;
        _subscription = _input
            .AssignWatermarks(settings.MaxOutOfOrderness, settings.IdleTimeout, _scheduler)
            .CombineWatermarks()
            .AggregateWindows(specs, options)
            .Subscribe(OnOutput, OnFailed);
    }

    /// <summary>Firings due at one watermark from which a compacting collection runs first (≈ 38 MB of aggregates follow).</summary>
    internal const int BurstFirings = 1 << 18;

    /// <summary>
    /// A minute is ending at many sensors: every one of them is about to emit its windows, and then, with persistence on,
    /// have its detector state serialized. The keys' arrays that grew during the minute (panes, window records, dedup
    /// entries, young detector logs) left their old copies in gen 2, which a process with memory to spare collects rarely,
    /// and then in the background without compacting: at a million sensors ≈ 300 MB that the burst (≈ 470 MB of
    /// aggregates and state rows) came on top of (docs/performance.md, "Memory with many sensors"). A compacting
    /// collection first gives that space to the burst. At most once per window end, and only at that scale; its pause
    /// (measured in the doc) is small next to the writer's time for the burst, which pauses the loop anyway.
    /// </summary>
    private static void OnFiringsDue(int firings)
    {
        if (firings < BurstFirings)
        {
            return;
        }
        GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
    }

    /// <summary>Labels of the configured window specs (the window kinds of the aggregates this stage emits).</summary>
    public IReadOnlyList<string> WindowKinds { get; }

    /// <summary>The operator watermark (Unix ms) after everything pushed so far; long.MinValue before the first.</summary>
    public long Watermark { get; private set; } = long.MinValue;

    public WindowCounters Counters => _probe.Counters;

    /// <summary>Approximate bytes of window and dedup state.</summary>
    public long StateBytes() => _probe.StateBytes();

    public RejectReason OnReading(in SensorReading reading, bool replaying, StageOutputs outputs, out string? detail)
    {
        ThrowIfFailed();
        _sink = outputs;
        _hasRejection = false;
        _lateKinds.Clear();
        _probe.Replaying = replaying;
        _input.OnNext(StreamEvent<SensorReading>.Data(reading));
        _probe.Replaying = false;
        _sink = null;
        ThrowIfFailed();
        if (_hasRejection && !_rejected.Partial)
        {
            detail = _rejected.Reason switch
            {
                RejectReason.Late => $"later than the allowed lateness of window {_rejected.WindowKind} (watermark {Watermark})",
                RejectReason.Duplicate => "same sensor, timestamp and value (or seq) already seen within the dedup horizon",
                _ => _rejected.Error is { } e ? e.GetType().Name + ": " + e.Message : _rejected.Reason.ToCode(),
            };
            return _rejected.Reason;
        }
        detail = null;
        return RejectReason.None;
    }

    public void OnTick(StageOutputs outputs)
    {
        ThrowIfFailed();
        _sink = outputs;
        _scheduler.AdvanceTo(_time.GetUtcNow());
        _sink = null;
        ThrowIfFailed();
    }

    public void OnBatchBoundary(StageOutputs outputs)
    {
        OnTick(outputs);
        // One checkpoint per batch: it walks the open state, so it is not taken per partition.
        _replayFrom.Clear();
        _behind.Clear();
        var checkpoint = _probe.Checkpoint();
        foreach (var (partition, offset) in checkpoint.ReplayFrom)
        {
            _replayFrom[partition] = offset;
        }
        foreach (var (partition, closedBelow) in checkpoint.ClosedBelow ?? _noneBehind)
        {
            _behind[partition] = closedBelow;
        }
    }

    private static readonly Dictionary<int, long> _noneBehind = [];

    /// <summary>The window kinds the last reading was late for, wholly or for some of its windows (a reading kept as
    /// partially late is counted only in the windows still open for it).</summary>
    public IReadOnlyList<string> LateKinds => _lateKinds;

    /// <summary>For the last reading: windows whose end plus allowed lateness is at or below this were final (the
    /// operator watermark, the partition's floor, or a catching-up partition's own watermark).</summary>
    public long LastClosedBelow => _probe.LastClosedBelow;

    public long? LowestNeededOffset(int partition) => _replayFrom.TryGetValue(partition, out var o) ? o : null;

    public long CommittedWatermark => Watermark;

    /// <summary>A partition still catching up after its assignment stores its own bound: its keys' windows between that and
    /// the operator watermark are not final yet.</summary>
    public long CommittedWatermarkOf(int partition) => _behind.TryGetValue(partition, out var w) ? w : Watermark;

    public void OnPartitionsAssigned(IReadOnlyDictionary<int, long?> watermarkFloors, StageOutputs outputs)
    {
        ArgumentNullException.ThrowIfNull(watermarkFloors);
        _sink = outputs;
        // Every partition present first: the first one's floor alone must not lift the watermark past the others'.
        foreach (var partition in watermarkFloors.Keys)
        {
            _input.OnNext(StreamEvent<SensorReading>.PartitionAssigned(partition));
        }
        foreach (var (partition, floor) in watermarkFloors)
        {
            if (floor is { } wm && wm != long.MinValue)
            {
                _input.OnNext(StreamEvent<SensorReading>.PartitionWatermark(partition, wm));
                // The operator watermark is the minimum over all partitions of this instance and may stay behind the
                // floor: windows final at the floor must still not be rebuilt from the replayed tail.
                _input.OnNext(StreamEvent<SensorReading>.PartitionFloor(partition, wm));
            }
        }
        _sink = null;
        ThrowIfFailed();
    }

    public void OnPartitionBacklogged(int partition)
    {
        // A watermark that moves nothing still counts as activity: the idle timeout measures silence of a partition
        // with nothing left to read, never a backlog (otherwise a stalled fetch would make its records late).
        _input.OnNext(StreamEvent<SensorReading>.PartitionWatermark(partition, long.MinValue));
    }

    public void DropPartitions(IReadOnlyCollection<int> partitions, StageOutputs outputs)
    {
        ArgumentNullException.ThrowIfNull(partitions);
        ArgumentNullException.ThrowIfNull(outputs);
        // Every revoked partition's keys first: a revoked laggard releases the watermark, and what that closes must be
        // windows of the partitions that stay only, into the real outputs (they are this instance's to store).
        _probe.DropPartitions(partitions);
        _sink = outputs;
        foreach (var p in partitions)
        {
            _input.OnNext(StreamEvent<SensorReading>.PartitionRevoked(p));
            _replayFrom.Remove(p);
            _behind.Remove(p);
            _probe.SessionReplayFinished(p);
        }
        _sink = null;
        ThrowIfFailed();
    }

    public bool HasSessionSpecs => _probe.HasSessionSpecs;

    public void EnableSessionTracking() => _probe.TrackSessionChanges();

    public bool HasSessionChanges => _probe.HasSessionChanges;

    public void TakeChangedSessions(List<ChangedSessionKey> into) => _probe.TakeChangedSessions(into);

    public void WriteSessionBoundaries(string sensorId, BinaryWriter writer) => _probe.WriteSessionBoundaries(sensorId, writer);

    public void RestoreSessionBoundaries(string sensorId, int partition, BinaryReader reader) =>
        _probe.RestoreSessionBoundaries(sensorId, partition, reader);

    public void SessionReplayFinished(int partition) => _probe.SessionReplayFinished(partition);

    private void OnOutput(StreamEvent<WindowOutput> e)
    {
        switch (e.Kind)
        {
            case StreamEventKind.Data:
                var output = e.Item;
                if (output.Kind == WindowOutputKind.Aggregate)
                {
                    if (output.Firing == FiringKind.Retraction)
                    {
                        _sink?.Retractions.Add(output.Aggregate);
                    }
                    else
                    {
                        _sink?.AddAggregate(output.Aggregate);
                    }
                }
                else
                {
                    _rejected = output.Rejected;
                    _hasRejection = true;
                    if (output.Rejected.Reason == RejectReason.Late && output.Rejected.WindowKind is { } kind)
                    {
                        _lateKinds.Add(kind);
                    }
                }
                break;
            case StreamEventKind.Watermark:
                Watermark = e.Timestamp;
                break;
        }
    }

    private void OnFailed(Exception error) => _error = error;

    private void ThrowIfFailed()
    {
        if (_error is { } e)
        {
            throw new InvalidOperationException("The window operator failed: " + e.Message, e);
        }
    }

    public void Dispose()
    {
        _subscription.Dispose();
        _input.Dispose();
    }
}
