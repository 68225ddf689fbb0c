using Npgsql;
using SmartMaintenance.Streams.Alerting;
using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Engine.Stages;
using SmartMaintenance.Streams.Prediction.Rul;
using SmartMaintenance.Streams.Prediction.Stream;
using SmartMaintenance.Streams.Scoring;
using SmartMaintenance.Streams.Storage;

namespace SmartMaintenance.Streams.Cli.Hosting;

/// <summary>Puts in-stream prediction after the engine's stages when <c>Prediction:RulEnabled</c> or
/// <c>Prediction:ForecastEnabled</c> is set.</summary>
internal static class PredictionHook
{
    public static IProcessingStages Wrap(PipelineStages stages, PredictionOptions prediction, ScoringOptions scoring, StorageOptions storage, AlertOptions alerts)
    {
        if (!prediction.RulEnabled && !prediction.ForecastEnabled)
        {
            // The metrics exist (at 0) either way, so dashboards and rules find their series.
            PredictionMetrics.ModelVersion.Set(0);
            return stages;
        }
        var tracker = new AlertTracker(alerts);
        var forecast = prediction.ForecastEnabled ? new ForecastStage(prediction, tracker) : null;
        if (!prediction.RulEnabled)
        {
            return new PredictionStages(stages, null, null, tracker, prediction.RulHorizon, forecast);
        }
        var dir = prediction.ModelDirectory is { Length: > 0 } d ? d : scoring.ModelDirectory;
        var path = RulModel.Latest(dir)
            ?? throw new ConfigurationException("Prediction:RulEnabled", $"no RUL model in {Path.Combine(dir, RulModel.Folder)} (train one: smstream train rul)");
        var model = RulModel.Load(path);
        // The data source lives as long as the engine process.
        var store = new PostgresRulEstimateStore(NpgsqlDataSource.Create(storage.ConnectionString));
        return new PredictionStages(stages, new RulPredictor(model, prediction.IdleLimit), store, tracker, prediction.RulHorizon, forecast);
    }
}
