using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Storage;

namespace SmartMaintenance.Streams.Engine.Stages;

/// <summary>What the consume loop hands each valid reading to, and what comes back out.</summary>
/// <remarks>Window → score → alert run synchronously on the consume loop thread, so no stage needs locking.
/// Outputs accumulate in the caller's lists until the batch is handed to the writer.</remarks>
public interface IProcessingStages
{
    /// <summary>Processes one reading. <paramref name="replaying"/> readings rebuild state: what they cause downstream
    /// of the windows (anomalies, alerts, rejections) was already made durable before the crash and is suppressed.</summary>
    /// <returns><see cref="RejectReason.None"/> when the reading is kept (and stored); otherwise why it goes to the DLQ
    /// (late, duplicate, processing error) with <paramref name="detail"/>.</returns>
    RejectReason OnReading(in SensorReading reading, bool replaying, StageOutputs outputs, out string? detail);

    /// <summary>Called from the consume loop when it has nothing else to do: lets processing-time work run
    /// (idle partitions, early firings) on the loop's own thread.</summary>
    void OnTick(StageOutputs outputs);

    /// <summary>Called before a batch is handed to the writer.</summary>
    void OnBatchBoundary(StageOutputs outputs);

    /// <summary>Lowest input offset of <paramref name="partition"/> that open state still needs (bounded replay), or null if none.</summary>
    long? LowestNeededOffset(int partition);

    /// <summary>The event-time watermark to store with the offsets of the batch just formed (restored as a floor).</summary>
    long CommittedWatermark { get; }

    /// <summary>The floor to store for <paramref name="partition"/>: <see cref="CommittedWatermark"/>, or lower for a partition
    /// assigned behind it and still catching up (its keys' windows between the two are not final yet).</summary>
    long CommittedWatermarkOf(int partition) => CommittedWatermark;

    /// <summary>New partitions, with the watermark stored for each (null when none was stored).</summary>
    void OnPartitionsAssigned(IReadOnlyDictionary<int, long?> watermarkFloors, StageOutputs outputs);

    /// <summary>Forget state of partitions no longer assigned to this instance. Windows of the partitions that stay, closed
    /// by the watermark the revoked ones held back, go to <paramref name="outputs"/>.</summary>
    void DropPartitions(IReadOnlyCollection<int> partitions, StageOutputs outputs);

    /// <summary>The partition has records the loop has not consumed yet (it is behind, paused or its fetches fail):
    /// it is not idle, so it must keep holding the event-time watermark back.</summary>
    void OnPartitionBacklogged(int partition);
}

/// <summary>
/// Stages whose per-sensor state (detectors, open alerts) the engine persists with the offsets and restores on
/// assignment, so a sensor continues after a restart or rebalance where it left off (Engine:PersistDetectorState).
/// </summary>
/// <remarks>All calls come from the consume loop's thread, like <see cref="IProcessingStages"/>'s.</remarks>
public interface IPersistentStages
{
    /// <summary>Starts tracking which sensors change; called once, before the first reading.</summary>
    void EnablePersistence();

    /// <summary>Whether some sensor changed since it was last taken.</summary>
    bool HasChanges { get; }

    /// <summary>Lowest offset of <paramref name="partition"/> whose reading changed a sensor that no full take has
    /// covered since: a restart must replay from there at the latest. Null when none.</summary>
    long? LowestUntakenOffset(int partition);

    /// <summary>Appends the sensors to persist at this batch boundary: those that cannot wait, and up to <paramref name="max"/>
    /// of a checkpoint (<paramref name="all"/> starts one: every changed sensor, spread over batches when more than
    /// <paramref name="max"/>; int.MaxValue takes everything). They count as unchanged afterwards.</summary>
    void TakeChanged(bool all, List<Scoring.ChangedSensor> into, int max);

    /// <summary>The replay of <paramref name="partition"/> reached the stored offsets (or there was none).</summary>
    void ReplayFinished(int partition);

    /// <summary>Serializes one sensor's state.</summary>
    void WriteState(string sensorId, BinaryWriter writer);

    /// <summary>Restores one sensor from a stored state taken when its partition was at <paramref name="position"/>.</summary>
    /// <exception cref="InvalidDataException">The stored state cannot be used (version, detector configuration).</exception>
    void RestoreState(string sensorId, int partition, long position, byte[] state);
}

/// <summary>The windowing stage: same contract as the whole pipeline, aggregates only.</summary>
public interface IWindowStage : IProcessingStages;

/// <summary>
/// A window stage whose session boundaries (per sensor and session spec: the end of the last closed session and the open
/// sessions' ranges) are persisted with each sensor's state, so sessions are restored exactly (docs/windowing.md,
/// "Session boundaries"). All calls come from the consume loop's thread.
/// </summary>
public interface IPersistentWindowStage
{
    /// <summary>Whether a session spec is configured: without one there is nothing to persist.</summary>
    bool HasSessionSpecs { get; }

    /// <summary>Starts recording which sensors' session boundaries change; called once, before the first reading.</summary>
    void EnableSessionTracking();

    /// <summary>Whether some sensor's session boundaries changed since they were last taken.</summary>
    bool HasSessionChanges { get; }

    /// <summary>Appends the sensors whose session boundaries changed (a sensor may appear once per session spec); they
    /// count as unchanged afterwards. They must be persisted at this batch boundary.</summary>
    void TakeChangedSessions(List<SmartMaintenance.Streams.Windowing.ChangedSessionKey> into);

    /// <summary>Serializes one sensor's session boundaries.</summary>
    void WriteSessionBoundaries(string sensorId, BinaryWriter writer);

    /// <summary>Restores one sensor's session boundaries before its partition's replay.</summary>
    /// <exception cref="InvalidDataException">Not session boundaries or another version; nothing was changed.</exception>
    void RestoreSessionBoundaries(string sensorId, int partition, BinaryReader reader);

    /// <summary>The replay of <paramref name="partition"/> reached the stored offsets, or the partition was revoked.</summary>
    void SessionReplayFinished(int partition);
}

/// <summary>Side outputs of the processing stages for one batch.</summary>
public sealed class StageOutputs
{
    // A list that grew beyond this many items (the batch in which a minute ended at many sensors) is released when
    // cleared rather than kept for every later batch.
    internal const int RetainedCapacity = 1 << 16;

    /// <summary>In pooled chunks: when a minute ends at a million sensors the stages emit two million at once.</summary>
    public ChunkedList<WindowAggregate> Aggregates { get; private set; } = new();
    /// <summary>Session windows superseded by a merge (a late reading bridged two sessions): their rows are deleted.</summary>
    public List<WindowAggregate> Retractions { get; } = [];
    public List<Anomaly> Anomalies { get; } = [];
    public List<AlertEvent> Alerts { get; } = [];

    public bool IsEmpty => Aggregates.Count == 0 && Retractions.Count == 0 && Anomalies.Count == 0 && Alerts.Count == 0;

    /// <summary>Aggregates (from the start of <see cref="Aggregates"/>) the window detectors have judged already.</summary>
    internal int JudgedAggregates { get; set; }

    /// <summary>Judges the aggregates from <see cref="JudgedAggregates"/> on (set by the stages that own the detectors), so a
    /// slice leaves only after its windows were judged.</summary>
    internal Action<StageOutputs>? Judge { get; set; }

    /// <summary>Aggregates at which <see cref="SliceReady"/> is called while a stage emits; 0: never.</summary>
    public int SliceAggregates { get; set; }

    /// <summary>Takes the judged aggregates away (the engine hands them to the writer as a slice), leaving the list empty. It
    /// runs inside the window operator's emission, on the consume loop's thread, and must not call back into the stages.</summary>
    public Action<StageOutputs>? SliceReady { get; set; }

    /// <summary>Appends an aggregate a window stage emitted; once <see cref="SliceAggregates"/> are held they are judged and
    /// handed on as a slice. When a minute ends at a million sensors one watermark fires two million aggregates (≈ 290 MB):
    /// slicing bounds what the burst holds to what the writer's queue holds (docs/design.md, "Minute-end bursts in slices").</summary>
    public void AddAggregate(in WindowAggregate aggregate)
    {
        Aggregates.Add(aggregate);
        if (SliceAggregates > 0 && Aggregates.Count >= SliceAggregates && SliceReady is { } ready)
        {
            Judge?.Invoke(this);
            ready(this);
            // Whatever the callee left was judged above.
            JudgedAggregates = Aggregates.Count;
        }
    }

    /// <summary>Takes <paramref name="aggregates"/> (empty) as the aggregate list and returns the one it had, so the
    /// engine can hand a batch's aggregates to the writer without copying them.</summary>
    internal ChunkedList<WindowAggregate> ExchangeAggregates(ChunkedList<WindowAggregate> aggregates)
    {
        var had = Aggregates;
        Aggregates = aggregates;
        JudgedAggregates = 0;
        return had;
    }

    public void Clear()
    {
        Aggregates.Clear();
        JudgedAggregates = 0;
        Release(Retractions);
        Release(Anomalies);
        Release(Alerts);
    }

    private static void Release<T>(List<T> list)
    {
        list.Clear();
        if (list.Capacity > RetainedCapacity)
        {
            list.Capacity = 0;
        }
    }
}
