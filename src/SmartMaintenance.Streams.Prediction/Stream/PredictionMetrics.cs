using Prometheus;

namespace SmartMaintenance.Streams.Prediction.Stream;

/// <summary>Prometheus metrics of in-stream prediction.</summary>
public static class PredictionMetrics
{
    public static readonly Counter RulEstimates = Metrics.CreateCounter(
        "smstream_prediction_rul_estimates_total", "RUL estimates made (one per asset cycle), replayed cycles excluded.");

    public static readonly Histogram RulCycles = Metrics.CreateHistogram(
        "smstream_prediction_rul_estimate_cycles", "Estimated remaining useful life, in cycles, of each estimate.",
        new HistogramConfiguration { Buckets = [10, 20, 30, 50, 75, 100, 125, 150] });

    public static readonly Gauge AssetsWithinHorizon = Metrics.CreateGauge(
        "smstream_prediction_assets_within_horizon", "Assets whose latest RUL interval's lower bound is below Prediction:RulHorizon.");

    public static readonly Gauge Assets = Metrics.CreateGauge(
        "smstream_prediction_assets", "Assets with RUL state on this instance.");

    public static readonly Counter Forecasts = Metrics.CreateCounter(
        "smstream_prediction_forecasts_total", "Time-to-limit forecasts made (one per sensor bucket).");

    public static readonly Gauge SensorsWithinForecastHorizon = Metrics.CreateGauge(
        "smstream_prediction_sensors_within_forecast_horizon", "Sensors whose forecast may reach the alarm limit within Prediction:ForecastHorizon.");

    public static readonly Gauge ModelVersion = Metrics.CreateGauge(
        "smstream_prediction_rul_model_version", "Version of the RUL model in use (0: none).");
}
