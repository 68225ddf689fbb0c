using SmartMaintenance.Streams.Alerting;
using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Scoring;
using SmartMaintenance.Streams.Windowing;

namespace SmartMaintenance.Streams.Engine.Stages;

/// <summary>window → score → alert, in that order, for each reading on the consume loop's thread.</summary>
/// <remarks>
/// Replayed readings (already stored before a restart) go through every stage so that window, detector and alert
/// state are rebuilt, but nothing they produce is emitted: it was emitted before the offsets were committed.
/// </remarks>
/// <para>Persistence (<see cref="IPersistentStages"/>): a sensor's stored state is its open alerts, its session boundaries
/// (when a session spec is configured and the window stage is an <see cref="IPersistentWindowStage"/>), then its detector
/// state. A replayed reading already in a restored state is not scored again; later replayed readings rebuild what happened
/// after the state was taken, detectors and alerts alike. A sensor whose session boundaries changed is taken at the next
/// batch boundary (docs/windowing.md, "Session boundaries").</para>
public sealed class PipelineStages : IProcessingStages, IPersistentStages
{
    private readonly IWindowStage _windows;
    private readonly DetectorPipeline _detectors;
    private readonly AlertTracker _alerts;
    private readonly List<AlertEvent> _suppressed = [];
    private readonly List<string> _removed = [];
    private bool _persist;
    // Session boundaries: persisted with the sensor's state when a session spec is configured.
    private const int SessionSectionMagic = 0x53455353; // "SSES"
    private IPersistentWindowStage? _sessions;
    private readonly List<ChangedSessionKey> _changedSessions = [];
    private readonly HashSet<string> _taken = new(StringComparer.Ordinal);
    // Position and partition each restored sensor's state was stored at, until its partition's replay ends: a state taken
    // earlier must still claim that position (its detector part already covers the readings below it).
    private readonly Dictionary<string, (long Position, int Partition)> _restoredAt = new(StringComparer.Ordinal);
    private readonly List<string> _finished = [];
    // Partitions with restored session boundaries whose replay has not ended yet.
    private readonly HashSet<int> _sessionReplays = [];
    private MemoryStream? _sectionBuffer;
    private readonly Action<StageOutputs> _judge;
    // A detector failure while a slice is judged, inside the window operator's emission: thrown once the window stage returns.
    private Exception? _sliceError;
    private BinaryWriter? _sectionWriter;

    public PipelineStages(IWindowStage windows, DetectorPipeline detectors, AlertTracker alerts)
    {
        ArgumentNullException.ThrowIfNull(windows);
        ArgumentNullException.ThrowIfNull(detectors);
        ArgumentNullException.ThrowIfNull(alerts);
        _windows = windows;
        _detectors = detectors;
        _alerts = alerts;
        _judge = JudgeSlice;
        if (windows is RxWindowStage rx)
        {
            // Each sensor's window detector states are then allocated once, for every kind.
            detectors.DeclareWindowKinds(rx.WindowKinds);
        }
    }

    /// <summary>Interactive-query view of the sensors' state (operator API); null: not kept.</summary>
    public LiveState? Live { get; set; }

    public RejectReason OnReading(in SensorReading reading, bool replaying, StageOutputs outputs, out string? detail)
    {
        if (!replaying && _sessionReplays.Count > 0 && _sessionReplays.Contains(reading.Position.Partition))
        {
            // The replay ended without reaching the stored next offset exactly (a gap in the offsets, e.g. a transaction
            // marker): restored boundaries must not judge new readings.
            ReplayFinished(reading.Position.Partition);
        }
        outputs.Judge = _judge;
        _sliceError = null;
        RejectReason reason;
        try
        {
            reason = _windows.OnReading(reading, replaying, outputs, out detail);
        }
        finally
        {
            JudgeWindows(outputs);
        }
        ThrowSliceError();
        if (reason != RejectReason.None)
        {
            return reason;
        }
        if (replaying && _persist && _detectors.AlreadySeen(reading))
        {
            return RejectReason.None;
        }
        var alertsOut = replaying ? _suppressed : outputs.Alerts;
        var alertsFrom = alertsOut.Count;
        if (_detectors.Process(reading, out var anomaly) && anomaly is not null)
        {
            if (!replaying)
            {
                outputs.Anomalies.Add(anomaly);
            }
            _alerts.OnAnomaly(anomaly, alertsOut);
        }
        else
        {
            _alerts.OnNormal(reading.SensorId, reading.Timestamp, alertsOut);
        }
        Live?.OnReading(reading, replaying, anomaly, alertsOut, alertsFrom);
        _suppressed.Clear();
        return RejectReason.None;
    }

    public void OnBatchBoundary(StageOutputs outputs)
    {
        ArgumentNullException.ThrowIfNull(outputs);
        outputs.Judge = _judge;
        _sliceError = null;
        try
        {
            _windows.OnBatchBoundary(outputs);
        }
        finally
        {
            JudgeWindows(outputs);
        }
        ThrowSliceError();
    }

    public void OnTick(StageOutputs outputs)
    {
        ArgumentNullException.ThrowIfNull(outputs);
        outputs.Judge = _judge;
        _sliceError = null;
        try
        {
            _windows.OnTick(outputs);
        }
        finally
        {
            JudgeWindows(outputs);
        }
        ThrowSliceError();
    }

    public void OnPartitionBacklogged(int partition) => _windows.OnPartitionBacklogged(partition);

    public long CommittedWatermark => _windows.CommittedWatermark;

    public long CommittedWatermarkOf(int partition) => _windows.CommittedWatermarkOf(partition);

    public void OnPartitionsAssigned(IReadOnlyDictionary<int, long?> watermarkFloors, StageOutputs outputs)
    {
        ArgumentNullException.ThrowIfNull(outputs);
        Live?.OnAssigned(watermarkFloors.Keys);
        outputs.Judge = _judge;
        _sliceError = null;
        try
        {
            _windows.OnPartitionsAssigned(watermarkFloors, outputs);
        }
        finally
        {
            JudgeWindows(outputs);
        }
        ThrowSliceError();
    }

    /// <summary>Judges a slice before it leaves, in the middle of the window operator's emission: an exception must not
    /// unwind through the operator (it would leave a firing half done), so it is kept and thrown when the stage returns,
    /// as it was when every window was judged after the stage returned.</summary>
    private void JudgeSlice(StageOutputs outputs)
    {
        try
        {
            JudgeWindows(outputs);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            _sliceError ??= ex;
        }
    }

    private void ThrowSliceError()
    {
        if (_sliceError is { } error)
        {
            _sliceError = null;
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(error);
        }
    }

    /// <summary>Judges the aggregates the window stage appended since the last judgement.</summary>
    /// <remarks>The window stage writes into the caller's outputs directly: when a minute ends at a million sensors it
    /// emits two million aggregates at once, and a list of its own copied into the caller's held them twice. With slicing on
    /// (<see cref="StageOutputs.SliceAggregates"/>) the outputs call this before each slice leaves, in the middle of an emission.</remarks>
    private void JudgeWindows(StageOutputs outputs)
    {
        var aggregates = outputs.Aggregates;
        var i = outputs.JudgedAggregates;
        // Counted before judging: an exception below must not have the same windows judged twice.
        outputs.JudgedAggregates = aggregates.Count;
        for (; i < aggregates.Count; i++)
        {
            var aggregate = aggregates[i];
            // Window detectors judge a window once, when it is final, not at every early revision.
            if (aggregate.IsFinal && _detectors.ProcessWindow(aggregate, out var anomaly) && anomaly is not null)
            {
                outputs.Anomalies.Add(anomaly);
                _alerts.OnAnomaly(anomaly, outputs.Alerts);
            }
        }
    }

    public long? LowestNeededOffset(int partition) => _windows.LowestNeededOffset(partition);

    public void DropPartitions(IReadOnlyCollection<int> partitions, StageOutputs outputs)
    {
        ArgumentNullException.ThrowIfNull(outputs);
        outputs.Judge = _judge;
        _sliceError = null;
        try
        {
            _windows.DropPartitions(partitions, outputs);
        }
        finally
        {
            JudgeWindows(outputs);
        }
        ThrowSliceError();
        Live?.OnDropped(partitions);
        if (!_persist)
        {
            // Without persistence the state is kept: an eager rebalance revokes and re-assigns the same partitions.
            return;
        }
        // The next owner restores these sensors from the database; a stale copy here would shadow it if they came back.
        _removed.Clear();
        foreach (var (id, at) in _restoredAt)
        {
            if (partitions.Contains(at.Partition))
            {
                _removed.Add(id);
            }
        }
        foreach (var id in _removed)
        {
            _restoredAt.Remove(id);
        }
        _removed.Clear();
        foreach (var p in partitions)
        {
            _sessionReplays.Remove(p);
        }
        _detectors.RemovePartitions(partitions, _removed);
        foreach (var id in _removed)
        {
            _alerts.RemoveSensor(id);
        }
        _removed.Clear();
    }

    public void EnablePersistence()
    {
        _persist = true;
        _detectors.TrackChanges = true;
        if (_windows is IPersistentWindowStage { HasSessionSpecs: true } sessions)
        {
            _sessions = sessions;
            sessions.EnableSessionTracking();
        }
    }

    public bool HasChanges => _detectors.HasChanges || _sessions is { HasSessionChanges: true };

    public long? LowestUntakenOffset(int partition) => _detectors.LowestUntakenOffset(partition);

    public void TakeChanged(bool all, List<ChangedSensor> into, int max)
    {
        ArgumentNullException.ThrowIfNull(into);
        var first = into.Count;
        _detectors.TakeChanged(all, into, max);
        if (_sessions is null || !_sessions.HasSessionChanges)
        {
            return;
        }
        _changedSessions.Clear();
        _sessions.TakeChangedSessions(_changedSessions);
        _taken.Clear();
        for (var i = first; i < into.Count; i++)
        {
            _taken.Add(into[i].SensorId);
        }
        // Every sensor whose boundaries changed, now, beyond max too: a later take would miss what its replay needs
        // (docs/windowing.md).
        foreach (var changed in _changedSessions)
        {
            if (_taken.Add(changed.Key))
            {
                var minPosition = _restoredAt.TryGetValue(changed.Key, out var at) ? at.Position : 0;
                into.Add(new ChangedSensor(changed.Key, changed.Partition, minPosition));
            }
        }
        _changedSessions.Clear();
        _taken.Clear();
    }

    public void ReplayFinished(int partition)
    {
        _detectors.ReplayFinished(partition);
        Live?.OnReplayFinished(partition);
        if (_sessions is null)
        {
            return;
        }
        _sessions.SessionReplayFinished(partition);
        _sessionReplays.Remove(partition);
        _finished.Clear();
        foreach (var (id, at) in _restoredAt)
        {
            if (at.Partition == partition)
            {
                _finished.Add(id);
            }
        }
        foreach (var id in _finished)
        {
            _restoredAt.Remove(id);
        }
        _finished.Clear();
    }

    public void WriteState(string sensorId, BinaryWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        // Alerts first: they stay restorable when a detector configuration change makes the detector part unreadable.
        var alerts = _alerts.SensorSnapshotJson(sensorId);
        writer.Write(alerts?.Length ?? 0);
        if (alerts is not null)
        {
            writer.Write(alerts);
        }
        if (_sessions is not null)
        {
            // Length-prefixed, so a reader without session specs can skip it.
            _sectionBuffer ??= new MemoryStream();
            _sectionWriter ??= new BinaryWriter(_sectionBuffer, System.Text.Encoding.UTF8, leaveOpen: true);
            _sectionBuffer.SetLength(0);
            _sessions.WriteSessionBoundaries(sensorId, _sectionWriter);
            _sectionWriter.Flush();
            writer.Write(SessionSectionMagic);
            writer.Write((int)_sectionBuffer.Length);
            writer.Write(_sectionBuffer.GetBuffer(), 0, (int)_sectionBuffer.Length);
        }
        _detectors.WriteSensorState(sensorId, writer);
    }

    public void RestoreState(string sensorId, int partition, long position, byte[] state)
    {
        ArgumentNullException.ThrowIfNull(state);
        using var reader = new BinaryReader(new MemoryStream(state, writable: false));
        var length = reader.ReadInt32();
        if (length < 0 || length > state.Length - 4)
        {
            throw new InvalidDataException($"Stored state of sensor '{sensorId}' is truncated.");
        }
        if (length > 0)
        {
            try
            {
                _alerts.RestoreSensorJson(sensorId, state.AsSpan(4, length));
            }
            catch (Exception ex) when (ex is ArgumentException or System.Text.Json.JsonException)
            {
                throw new InvalidDataException($"Stored open alerts of sensor '{sensorId}' are unreadable: {ex.Message}", ex);
            }
        }
        else
        {
            _alerts.RemoveSensor(sensorId);
        }
        reader.BaseStream.Position = 4 + length;
        if (state.Length - reader.BaseStream.Position >= 8 && System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(state.AsSpan(4 + length)) == SessionSectionMagic)
        {
            reader.BaseStream.Position += 4;
            var sectionLength = reader.ReadInt32();
            var sectionStart = reader.BaseStream.Position;
            if (sectionLength < 0 || sectionLength > state.Length - sectionStart)
            {
                throw new InvalidDataException($"Stored session boundaries of sensor '{sensorId}' are truncated.");
            }
            if (_sessions is not null)
            {
                try
                {
                    _sessions.RestoreSessionBoundaries(sensorId, partition,
                        new BinaryReader(new MemoryStream(state, (int)sectionStart, sectionLength, writable: false)));
                }
                catch (EndOfStreamException ex)
                {
                    throw new InvalidDataException($"Stored session boundaries of sensor '{sensorId}' are truncated.", ex);
                }
                _restoredAt[sensorId] = (position, partition);
                _sessionReplays.Add(partition);
            }
            reader.BaseStream.Position = sectionStart + sectionLength;
        }
        try
        {
            _detectors.RestoreSensorState(sensorId, partition, position, reader);
        }
        catch (EndOfStreamException ex)
        {
            throw new InvalidDataException($"Stored detector state of sensor '{sensorId}' is truncated.", ex);
        }
    }
}
