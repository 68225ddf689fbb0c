using System.Globalization;
using SmartMaintenance.Streams.Alerting;
using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Engine.Stages;
using SmartMaintenance.Streams.Prediction.Rul;
using SmartMaintenance.Streams.Scoring;

namespace SmartMaintenance.Streams.Prediction.Stream;

/// <summary>
/// The engine's stages with prediction after them: every kept reading also goes to the time-to-limit forecasts
/// (<see cref="ForecastStage"/>, when configured) and to the <see cref="RulPredictor"/> (when an RUL model is in use);
/// each estimate is stored in <c>rul_estimates</c> before its batch's offsets commit, counted, and judged against the
/// horizon: a lower bound below it opens (or keeps open) a <c>predicted_failure</c> alert on the asset's pseudo-sensor
/// <c>ASSET/rul</c>, which the normal alert lifecycle resolves once estimates stay above the horizon for the quiet period.
/// </summary>
/// <remarks>Replayed readings rebuild the predictor and the alert state; their estimates and alerts were emitted before
/// the crash and are suppressed. Persistence of the inner stages' per-sensor state passes through unchanged.</remarks>
public sealed class PredictionStages : IProcessingStages, IPersistentStages
{
    public const string Detector = "predicted_failure";
    public const string SensorSuffix = "/rul";

    private readonly PipelineStages _inner;
    private readonly RulPredictor? _predictor;
    private readonly IRulEstimateStore? _store;
    private readonly ForecastStage? _forecast;
    private readonly AlertTracker _alerts;
    private readonly double _horizon;
    private readonly List<RulEstimate> _pending = [];
    private readonly List<AlertEvent> _suppressed = [];
    private readonly HashSet<string> _withinHorizon = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _sensorIds = new(StringComparer.Ordinal);

    /// <param name="predictor">RUL prediction, with <paramref name="store"/> for its estimates; null: none.</param>
    /// <param name="forecast">Time-to-limit forecasts sharing <paramref name="alerts"/>; null: none.</param>
    public PredictionStages(PipelineStages inner, RulPredictor? predictor, IRulEstimateStore? store, AlertTracker alerts, double horizon, ForecastStage? forecast = null)
    {
        ArgumentNullException.ThrowIfNull(inner);
        ArgumentNullException.ThrowIfNull(alerts);
        if (predictor is not null && store is null)
        {
            throw new ArgumentNullException(nameof(store), "RUL prediction needs a store for its estimates.");
        }
        _inner = inner;
        _predictor = predictor;
        _store = store;
        _alerts = alerts;
        _horizon = horizon;
        _forecast = forecast;
        PredictionMetrics.ModelVersion.Set(predictor?.Model.Version ?? 0);
    }

    public RejectReason OnReading(in SensorReading reading, bool replaying, StageOutputs outputs, out string? detail)
    {
        var reason = _inner.OnReading(reading, replaying, outputs, out detail);
        if (reason != RejectReason.None)
        {
            return reason;
        }
        if (_forecast is not null)
        {
            _forecast.OnReading(reading, replaying ? _suppressed : outputs.Alerts);
            _suppressed.Clear();
        }
        if (_predictor is null || !_predictor.OnReading(reading, out var estimate))
        {
            return reason;
        }
        if (!replaying)
        {
            _pending.Add(estimate);
            PredictionMetrics.RulEstimates.Inc();
            PredictionMetrics.RulCycles.Observe(estimate.Rul);
        }
        Judge(estimate, replaying ? _suppressed : outputs.Alerts);
        _suppressed.Clear();
        return reason;
    }

    internal void Judge(in RulEstimate estimate, List<AlertEvent> alerts)
    {
        if (!_sensorIds.TryGetValue(estimate.AssetId, out var sensorId))
        {
            sensorId = estimate.AssetId + SensorSuffix;
            _sensorIds[estimate.AssetId] = sensorId;
        }
        if (estimate.Lower >= _horizon)
        {
            if (_withinHorizon.Remove(estimate.AssetId))
            {
                PredictionMetrics.AssetsWithinHorizon.Dec();
            }
            _alerts.OnNormal(sensorId, estimate.Timestamp, alerts);
            return;
        }
        if (_withinHorizon.Add(estimate.AssetId))
        {
            PredictionMetrics.AssetsWithinHorizon.Inc();
        }
        // Severity 3 while only the interval reaches into the horizon, 4 once the estimate itself is inside it.
        var severity = estimate.Rul < _horizon ? 4 : 3;
        var score = Math.Clamp(1 - (estimate.Lower / _horizon), 0, 1);
        var evidence = string.Create(CultureInfo.InvariantCulture,
            $"{{\"rul\":{estimate.Rul:0.##},\"rul_lower\":{estimate.Lower:0.##},\"rul_upper\":{estimate.Upper:0.##},\"cycle\":{estimate.Cycle},\"horizon\":{_horizon},\"model\":\"{_predictor!.Model.Metadata.Name}\",\"model_version\":{estimate.ModelVersion}}}");
        _alerts.OnAnomaly(new Anomaly(sensorId, estimate.AssetId, "rul", Detector, estimate.Timestamp, estimate.Rul, score, 0,
            severity, estimate.Timestamp, estimate.Timestamp, evidence), alerts);
    }

    public void OnBatchBoundary(StageOutputs outputs)
    {
        _inner.OnBatchBoundary(outputs);
        if (_pending.Count > 0)
        {
            _store!.Write(_pending, _predictor!.Model.Metadata.ModelId);
            _pending.Clear();
        }
        PredictionMetrics.Assets.Set(_predictor?.Assets ?? 0);
    }

    public long? LowestNeededOffset(int partition)
    {
        var inner = _inner.LowestNeededOffset(partition);
        var mine = _predictor?.LowestNeededOffset(partition);
        return inner is null ? mine : mine is null ? inner : Math.Min(inner.Value, mine.Value);
    }

    public void DropPartitions(IReadOnlyCollection<int> partitions, StageOutputs outputs)
    {
        _inner.DropPartitions(partitions, outputs);
        _predictor?.DropPartitions(partitions);
    }

    public void OnTick(StageOutputs outputs) => _inner.OnTick(outputs);

    public long CommittedWatermark => _inner.CommittedWatermark;

    public long CommittedWatermarkOf(int partition) => _inner.CommittedWatermarkOf(partition);

    public void OnPartitionsAssigned(IReadOnlyDictionary<int, long?> watermarkFloors, StageOutputs outputs) => _inner.OnPartitionsAssigned(watermarkFloors, outputs);

    public void OnPartitionBacklogged(int partition) => _inner.OnPartitionBacklogged(partition);

    public void EnablePersistence() => _inner.EnablePersistence();

    public bool HasChanges => _inner.HasChanges;

    public long? LowestUntakenOffset(int partition) => _inner.LowestUntakenOffset(partition);

    public void TakeChanged(bool all, List<ChangedSensor> into, int max) => _inner.TakeChanged(all, into, max);

    public void ReplayFinished(int partition) => _inner.ReplayFinished(partition);

    public void WriteState(string sensorId, BinaryWriter writer) => _inner.WriteState(sensorId, writer);

    public void RestoreState(string sensorId, int partition, long position, byte[] state) => _inner.RestoreState(sensorId, partition, position, state);
}
