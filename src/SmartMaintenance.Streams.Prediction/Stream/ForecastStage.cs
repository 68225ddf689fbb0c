using System.Globalization;
using SmartMaintenance.Streams.Alerting;
using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Prediction.Forecasting;

namespace SmartMaintenance.Streams.Prediction.Stream;

/// <summary>Time-to-limit per sensor of the configured types: a <see cref="TimeToLimitForecaster"/> per sensor, and a
/// <c>forecast</c> alert (normal lifecycle) while the early end of its interval is inside the horizon.</summary>
/// <remarks>A sensor's forecaster is rebuilt from the readings after a restart (its state is not part of the bounded
/// replay): forecasts resume once it has four bucket means again.</remarks>
public sealed class ForecastStage
{
    public const string Detector = "forecast";

    private readonly PredictionOptions _options;
    private readonly AlertTracker _alerts;
    private readonly double _horizonMs;
    private readonly Dictionary<string, TimeToLimitForecaster> _sensors = new(StringComparer.Ordinal);
    private readonly HashSet<string> _within = new(StringComparer.Ordinal);

    public ForecastStage(PredictionOptions options, AlertTracker alerts)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(alerts);
        _options = options;
        _alerts = alerts;
        _horizonMs = options.ForecastHorizon.TotalMilliseconds;
    }

    public void OnReading(in SensorReading reading, List<AlertEvent> alerts)
    {
        if (reading.SensorType is null || !_options.ForecastLimits.TryGetValue(reading.SensorType, out var limit))
        {
            return;
        }
        if (!_sensors.TryGetValue(reading.SensorId, out var forecaster))
        {
            var upper = limit.High is not null;
            forecaster = new TimeToLimitForecaster(limit.High ?? limit.Low!.Value, upper, _options.ForecastBucket, _options.ForecastBuckets);
            _sensors[reading.SensorId] = forecaster;
        }
        if (!forecaster.OnReading(reading.Timestamp, reading.Value, out var f))
        {
            return;
        }
        PredictionMetrics.Forecasts.Inc();
        if (f.LowerMs > _horizonMs)
        {
            if (_within.Remove(reading.SensorId))
            {
                PredictionMetrics.SensorsWithinForecastHorizon.Dec();
            }
            _alerts.OnNormal(reading.SensorId, f.Timestamp, alerts);
            return;
        }
        if (_within.Add(reading.SensorId))
        {
            PredictionMetrics.SensorsWithinForecastHorizon.Inc();
        }
        var severity = f.TimeToLimitMs <= _horizonMs ? 4 : 3;
        var evidence = string.Create(CultureInfo.InvariantCulture,
            $"{{\"time_to_limit_h\":{Hours(f.TimeToLimitMs)},\"lower_h\":{Hours(f.LowerMs)},\"upper_h\":{Hours(f.UpperMs)},\"level\":{f.Level:0.####},\"slope_per_h\":{f.SlopePerHour:0.####},\"limit\":{limit.High ?? limit.Low}}}");
        _alerts.OnAnomaly(new Anomaly(reading.SensorId, reading.AssetId, reading.SensorType, Detector, f.Timestamp, f.Level,
            Math.Clamp(1 - (f.LowerMs / _horizonMs), 0, 1), 0, severity, f.Timestamp - (long)_options.ForecastBucket.TotalMilliseconds, f.Timestamp, evidence), alerts);
    }

    /// <summary>Hours as JSON (null for never).</summary>
    private static string Hours(double ms) => double.IsFinite(ms) ? (ms / 3_600_000).ToString("0.##", CultureInfo.InvariantCulture) : "null";
}
