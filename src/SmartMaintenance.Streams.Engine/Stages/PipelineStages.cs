using SmartMaintenance.Streams.Alerting;
using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Scoring;

namespace SmartMaintenance.Streams.Engine.Stages;

/// <summary>window → score → alert, in that order, for each reading on the consume loop's thread.</summary>
/// <remarks>
/// Replayed readings (already stored before a restart) go through every stage so that window, detector and alert
/// state are rebuilt, but nothing they produce is emitted: it was emitted before the offsets were committed.
/// </remarks>
/// <para>Persistence (<see cref="IPersistentStages"/>): a sensor's stored state is its open alerts followed by its
/// detector state. A replayed reading already in a restored state is not scored again; later replayed readings rebuild
/// what happened after the state was taken, detectors and alerts alike.</para>
public sealed class PipelineStages : IProcessingStages, IPersistentStages
{
    private readonly IWindowStage _windows;
    private readonly DetectorPipeline _detectors;
    private readonly AlertTracker _alerts;
    private readonly List<AlertEvent> _suppressed = [];
    private readonly StageOutputs _windowOutputs = new();
    private readonly List<string> _removed = [];
    private bool _persist;

    public PipelineStages(IWindowStage windows, DetectorPipeline detectors, AlertTracker alerts)
    {
        ArgumentNullException.ThrowIfNull(windows);
        ArgumentNullException.ThrowIfNull(detectors);
        ArgumentNullException.ThrowIfNull(alerts);
        _windows = windows;
        _detectors = detectors;
        _alerts = alerts;
    }

    public RejectReason OnReading(in SensorReading reading, bool replaying, StageOutputs outputs, out string? detail)
    {
        var reason = _windows.OnReading(reading, replaying, _windowOutputs, out detail);
        if (_windowOutputs.Aggregates.Count > 0)
        {
            ForwardWindows(outputs);
        }
        if (reason != RejectReason.None)
        {
            return reason;
        }
        if (replaying && _persist && _detectors.AlreadySeen(reading))
        {
            return RejectReason.None;
        }
        var alertsOut = replaying ? _suppressed : outputs.Alerts;
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
        _suppressed.Clear();
        return RejectReason.None;
    }

    public void OnBatchBoundary(StageOutputs outputs)
    {
        _windows.OnBatchBoundary(_windowOutputs);
        ForwardWindows(outputs);
    }

    public void OnTick(StageOutputs outputs)
    {
        _windows.OnTick(_windowOutputs);
        if (!_windowOutputs.IsEmpty)
        {
            ForwardWindows(outputs);
        }
    }

    public void OnPartitionBacklogged(int partition) => _windows.OnPartitionBacklogged(partition);

    public long CommittedWatermark => _windows.CommittedWatermark;

    public void OnPartitionsAssigned(IReadOnlyDictionary<int, long?> watermarkFloors, StageOutputs outputs)
    {
        _windows.OnPartitionsAssigned(watermarkFloors, _windowOutputs);
        ForwardWindows(outputs);
    }

    private void ForwardWindows(StageOutputs outputs)
    {
        outputs.Retractions.AddRange(_windowOutputs.Retractions);
        foreach (var aggregate in _windowOutputs.Aggregates)
        {
            outputs.Aggregates.Add(aggregate);
            // Window detectors judge a window once, when it is final, not at every early revision.
            if (aggregate.IsFinal && _detectors.ProcessWindow(aggregate, out var anomaly) && anomaly is not null)
            {
                outputs.Anomalies.Add(anomaly);
                _alerts.OnAnomaly(anomaly, outputs.Alerts);
            }
        }
        _windowOutputs.Clear();
    }

    public long? LowestNeededOffset(int partition) => _windows.LowestNeededOffset(partition);

    public void DropPartitions(IReadOnlyCollection<int> partitions)
    {
        _windows.DropPartitions(partitions);
        if (!_persist)
        {
            // Without persistence the state is kept: an eager rebalance revokes and re-assigns the same partitions.
            return;
        }
        // The next owner restores these sensors from the database; a stale copy here would shadow it if they came back.
        _removed.Clear();
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
    }

    public bool HasChanges => _detectors.HasChanges;

    public long? LowestUntakenOffset(int partition) => _detectors.LowestUntakenOffset(partition);

    public void TakeChanged(bool all, List<ChangedSensor> into, int max) => _detectors.TakeChanged(all, into, max);

    public void ReplayFinished(int partition) => _detectors.ReplayFinished(partition);

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
