using System.CommandLine;
using Microsoft.Extensions.Logging;
using SmartMaintenance.Streams.Api;
using SmartMaintenance.Streams.Cli.Hosting;
using SmartMaintenance.Streams.Engine;
using SmartMaintenance.Streams.Observability;
using SmartMaintenance.Streams.Storage;

namespace SmartMaintenance.Streams.Cli.Commands;

internal static class RunCommand
{
    public static Command Create()
    {
        var group = new Option<string?>("--group") { Description = "Consumer group (Engine:ConsumerGroup)." };
        var http = new Option<string?>("--http") { Description = $"Serve /metrics and /health/* on HOST:PORT (Http:Listen, default {HttpOptions.EngineDefault}); 'off' disables." };
        var cmd = new Command("run", "Run the engine: consume readings, validate, window, score, store exactly once, publish alerts.");
        AppConfiguration.AddCommon(cmd);
        cmd.Options.Add(group);
        cmd.Options.Add(http);
        cmd.SetAction(async (parse, ct) =>
        {
            var overrides = new Dictionary<string, string?>();
            if (parse.GetValue(group) is { Length: > 0 } g)
            {
                overrides["Engine:ConsumerGroup"] = g;
            }
            HttpEndpoint.AddFlag(parse.GetValue(http), overrides);
            var configuration = AppConfiguration.Build(parse, overrides);
            var settings = EngineSettings.Load(configuration);
            var httpOptions = HttpEndpoint.Load(configuration, HttpOptions.EngineDefault);
            using var loggers = Logging.Create(configuration);
            using var shutdown = new Shutdown(ct);
            await using var sinks = new EngineSinks(settings.Storage, loggers);
            var stages = settings.CreateStages();
            var engine = new StreamEngine(settings.Engine, settings.Storage, settings.Kafka, settings.Topics, settings.Validation, sinks.Sinks, stages, loggerFactory: loggers);
            await using var api = OperatorApi.Create(configuration, settings, engine, stages);
            await using var endpoints = await HttpEndpoint.StartAsync("engine", httpOptions,
                () => EngineHealth.Checks(engine, settings.Kafka, settings.Topics.Readings, settings.Storage.ConnectionString, httpOptions),
                loggers.CreateLogger("SmartMaintenance.Streams.Observability"), shutdown.Token, api is null ? null : new ApiModule(api)).ConfigureAwait(false);
            try
            {
                await engine.RunAsync(shutdown.Token).ConfigureAwait(false);
                return 0;
            }
            catch (EngineFatalException ex)
            {
                await Console.Error.WriteLineAsync($"smstream run: {ex.Message}").ConfigureAwait(false);
                return 1;
            }
        });
        return cmd;
    }
}
