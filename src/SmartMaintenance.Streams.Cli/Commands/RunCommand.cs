using System.CommandLine;
using Microsoft.Extensions.Logging;
using SmartMaintenance.Streams.Cli.Hosting;
using SmartMaintenance.Streams.Engine;
using SmartMaintenance.Streams.Storage;

namespace SmartMaintenance.Streams.Cli.Commands;

internal static class RunCommand
{
    public static Command Create()
    {
        var group = new Option<string?>("--group") { Description = "Consumer group (Engine:ConsumerGroup)." };
        var cmd = new Command("run", "Run the engine: consume readings, validate, window, score, store exactly once, publish alerts.");
        AppConfiguration.AddCommon(cmd);
        cmd.Options.Add(group);
        cmd.SetAction(async (parse, ct) =>
        {
            var overrides = new Dictionary<string, string?>();
            if (parse.GetValue(group) is { Length: > 0 } g)
            {
                overrides["Engine:ConsumerGroup"] = g;
            }
            var configuration = AppConfiguration.Build(parse, overrides);
            var settings = EngineSettings.Load(configuration);
            using var loggers = Logging.Create(configuration);
            using var shutdown = new Shutdown(ct);
            await using var sinks = new EngineSinks(settings.Storage, loggers);
            var engine = new StreamEngine(settings.Engine, settings.Storage, settings.Kafka, settings.Topics, settings.Validation, sinks.Sinks, settings.CreateStages(), loggerFactory: loggers);
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
