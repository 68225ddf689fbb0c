using Microsoft.Extensions.Configuration;
using SmartMaintenance.Streams.Api;
using SmartMaintenance.Streams.Api.State;
using SmartMaintenance.Streams.Engine;
using SmartMaintenance.Streams.Engine.Stages;
using SmartMaintenance.Streams.Ingest;

namespace SmartMaintenance.Streams.Cli.Hosting;

/// <summary>Builds the operator API's services for `smstream run` (Api section), wiring the engine's sensor registry and
/// live state; null when Api:Enabled is false.</summary>
internal static class OperatorApi
{
    public static ApiServices? Create(IConfiguration configuration, EngineSettings settings, StreamEngine engine, IProcessingStages stages)
    {
        var options = AppConfiguration.Bind<ApiOptions>(configuration, "Api");
        options.Validate();
        if (!options.Enabled)
        {
            return null;
        }
        var overrides = new SensorOverrides();
        engine.SensorOverrides = overrides;
        var live = new LiveState();
        if (stages is PipelineStages pipeline)
        {
            pipeline.Live = live;
        }
        return new ApiServices(options, settings.Storage.ConnectionString, settings.Kafka, settings.Topics, settings.Validation, settings.Scoring,
            settings.Alerts, overrides, new EngineView(live, () => engine.AssignedPartitions));
    }
}
