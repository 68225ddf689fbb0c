using SmartMaintenance.Streams.Alerting;
using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Scoring;

namespace SmartMaintenance.Streams.Engine.Stages;

/// <summary>window → score → alert, in that order, for each reading on the consume loop's thread.</summary>
/// <remarks>
/// Replayed readings (already stored before a restart) go through every stage so that window, detector and alert
/// state are rebuilt, but nothing they produce is emitted: it was emitted before the offsets were committed.
/// </remarks>
public sealed class PipelineStages : IProcessingStages
{
    private readonly IWindowStage _windows;
    private readonly DetectorPipeline _detectors;
    private readonly AlertTracker _alerts;
    private readonly List<AlertEvent> _suppressed = [];
    private readonly StageOutputs _windowOutputs = new();

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
    }
}
