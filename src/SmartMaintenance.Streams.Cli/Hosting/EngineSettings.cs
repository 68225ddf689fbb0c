using Microsoft.Extensions.Configuration;
using SmartMaintenance.Streams.Alerting;
using SmartMaintenance.Streams.Engine;
using SmartMaintenance.Streams.Engine.Stages;
using SmartMaintenance.Streams.Ingest;
using SmartMaintenance.Streams.Kafka;
using SmartMaintenance.Streams.Prediction.Stream;
using SmartMaintenance.Streams.Scoring;
using SmartMaintenance.Streams.Windowing;
using SmartMaintenance.Streams.Storage;

namespace SmartMaintenance.Streams.Cli.Hosting;

/// <summary>Every options section the engine needs, bound and validated at start-up (fail fast, naming the setting).</summary>
internal sealed record EngineSettings(EngineOptions Engine, KafkaOptions Kafka, TopicNames Topics, StorageOptions Storage, ValidationOptions Validation,
    WindowingSettings Windows, ScoringOptions Scoring, AlertOptions Alerts)
{
    /// <summary>In-stream prediction (section Prediction, docs/prediction.md).</summary>
    public PredictionOptions Prediction { get; init; } = new();

    public static EngineSettings Load(IConfiguration configuration)
    {
        var settings = new EngineSettings(
            AppConfiguration.Bind<EngineOptions>(configuration, "Engine"),
            AppConfiguration.Bind<KafkaOptions>(configuration, "Kafka"),
            AppConfiguration.Bind<TopicNames>(configuration, "Topics"),
            AppConfiguration.Bind<StorageOptions>(configuration, "Storage"),
            AppConfiguration.Bind<ValidationOptions>(configuration, "Validation"),
            AppConfiguration.Bind<WindowingSettings>(configuration, WindowingSettings.Section),
            AppConfiguration.Bind<ScoringOptions>(configuration, "Scoring"),
            AppConfiguration.Bind<AlertOptions>(configuration, "Alerts"))
        {
            Prediction = AppConfiguration.Bind<PredictionOptions>(configuration, "Prediction"),
        };
        settings.Engine.Validate();
        settings.Kafka.Validate();
        settings.Topics.Validate();
        settings.Storage.Validate();
        settings.Validation.Validate();
        settings.Windows.Validate();
        settings.Scoring.Validate();
        settings.Alerts.Validate();
        settings.Prediction.Validate();
        return settings;
    }

    /// <summary>The processing stages (window → score → alert) these settings describe.</summary>
    public IProcessingStages CreateStages() => PredictionHook.Wrap(
        new PipelineStages(new RxWindowStage(Windows), new DetectorPipeline(Scoring), new AlertTracker(Alerts)), Prediction, Scoring, Storage, Alerts);

}
