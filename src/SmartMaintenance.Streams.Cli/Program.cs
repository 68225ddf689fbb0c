using System.CommandLine;
using SmartMaintenance.Streams.Cli.Commands;
using SmartMaintenance.Streams.Contracts;

namespace SmartMaintenance.Streams.Cli;

internal static class Program
{
    private static async Task<int> Main(string[] args)
    {
        var root = new RootCommand("smstream: stream processing for predictive maintenance (Kafka → validate → window → score → TimescaleDB → alerts).");
        // One line per command; each command lives in Commands/ and owns its options.
        root.Subcommands.Add(BrokerCommand.Create());
        root.Subcommands.Add(DbCommand.Create());
        root.Subcommands.Add(RunCommand.Create());
        root.Subcommands.Add(NotifyCommand.Create());
        root.Subcommands.Add(SimulateCommand.Create());
        root.Subcommands.Add(DemoCommand.Create());
        root.Subcommands.Add(LoadCommand.Create());
        root.Subcommands.Add(DlqCommand.Create());
        root.Subcommands.Add(ConfigCommand.Create());
        root.Subcommands.Add(TrainCommand.Create());
        root.Subcommands.Add(EvalCommand.Create());
        root.Subcommands.Add(ApiKeyCommand.Create());
        try
        {
            // Our own handler below turns configuration errors into one line naming the setting, exit code 2.
            // ProcessTerminationTimeout null: commands stop on SIGTERM/SIGINT through Hosting.Shutdown and take the time their
            // graceful stop needs (Engine:ShutdownTimeout); with the library's own handling a stop longer than its default 2 s
            // was abandoned and the process exited 130.
            return await root.Parse(args).InvokeAsync(new InvocationConfiguration
            {
                EnableDefaultExceptionHandler = false,
                ProcessTerminationTimeout = null,
            }).ConfigureAwait(false);
        }
        catch (ConfigurationException ex)
        {
            await Console.Error.WriteLineAsync($"smstream: {ex.Message}").ConfigureAwait(false);
            return 2;
        }
        catch (OperationCanceledException)
        {
            return 130;
        }
        catch (Exception ex)
        {
            // Anything else: one readable line; the stack trace only when asked for.
            await Console.Error.WriteLineAsync($"smstream: {ex.GetType().Name}: {ex.Message}").ConfigureAwait(false);
            if (Environment.GetEnvironmentVariable("SMSTREAM_DEBUG") is { Length: > 0 })
            {
                await Console.Error.WriteLineAsync(ex.ToString()).ConfigureAwait(false);
            }
            return 1;
        }
    }
}
