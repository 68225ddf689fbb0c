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
        root.Subcommands.Add(EvalCommand.Create());
        root.Subcommands.Add(NotifyCommand.Create());
        root.Subcommands.Add(RunCommand.Create());
        root.Subcommands.Add(DemoCommand.Create());
        try
        {
            return await root.Parse(args).InvokeAsync().ConfigureAwait(false);
        }
        catch (ConfigurationException ex)
        {
            await Console.Error.WriteLineAsync($"smstream: {ex.Message}").ConfigureAwait(false);
            return 2;
        }
    }
}
