using System.CommandLine;

namespace SmartMaintenance.Streams.Cli.Commands;

internal static class BrokerCommand
{
    public static Command Create()
    {
        var basePort = new Option<int>("--base-port") { Description = "First fixed loopback port; broker i listens on base+i-1.", DefaultValueFactory = _ => 19092 };
        var cmd = new Command("broker", "Host the embedded Kafka broker (librdkafka mock cluster) on fixed loopback ports.");
        cmd.Options.Add(basePort);
        cmd.SetAction(async (parse, ct) =>
        {
            await Console.Out.WriteLineAsync($"127.0.0.1:{parse.GetValue(basePort)}").ConfigureAwait(false);
            return 0;
        });
        return cmd;
    }
}
