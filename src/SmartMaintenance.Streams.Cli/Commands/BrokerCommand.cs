using System.CommandLine;
using SmartMaintenance.Streams.Cli.Hosting;
using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Kafka.Embedded;

namespace SmartMaintenance.Streams.Cli.Commands;

internal static class BrokerCommand
{
    public static Command Create()
    {
        var basePort = new Option<int>("--base-port") { Description = "First fixed loopback port; broker i listens on base+i-1 (0: free ports).", DefaultValueFactory = _ => EmbeddedBrokerOptions.DefaultBasePort };
        var brokers = new Option<int>("--brokers") { Description = "Number of brokers.", DefaultValueFactory = _ => 3 };
        var host = new Option<string>("--host") { Description = "Loopback address to listen on and advertise.", DefaultValueFactory = _ => "127.0.0.1" };
        var partitions = new Option<string[]>("--partitions")
        {
            Description = "Topics to create as topic=partitions, comma-separated or repeated; overrides the defaults " +
                "(sensor-readings=12, sensor-readings.dlq=3, maintenance-alerts=6, maintenance-alerts.dlq=3) and adds new topics.",
            AllowMultipleArgumentsPerToken = true,
        };
        var noDefaultTopics = new Option<bool>("--no-default-topics") { Description = "Create only the topics given with --partitions." };
        var rebalanceDelay = new Option<int>("--rebalance-delay-ms") { Description = "Delay of a new consumer group's first rebalance.", DefaultValueFactory = _ => 100 };

        var cmd = new Command("broker", "Host the embedded Kafka broker (librdkafka mock cluster) on fixed loopback ports until Ctrl-C/SIGTERM. In memory only: limits in docs/embedded-broker.md.");
        cmd.Options.Add(basePort);
        cmd.Options.Add(brokers);
        cmd.Options.Add(host);
        cmd.Options.Add(partitions);
        cmd.Options.Add(noDefaultTopics);
        cmd.Options.Add(rebalanceDelay);
        cmd.SetAction(async (parse, ct) =>
        {
            EmbeddedBrokerOptions options;
            try
            {
                options = new EmbeddedBrokerOptions
                {
                    BasePort = parse.GetValue(basePort),
                    Brokers = parse.GetValue(brokers),
                    Host = parse.GetValue(host) ?? "127.0.0.1",
                    InitialRebalanceDelayMs = parse.GetValue(rebalanceDelay),
                    Topics = parse.GetValue(noDefaultTopics) ? new Dictionary<string, int>(StringComparer.Ordinal) : EmbeddedBrokerOptions.ProjectTopics(),
                };
                KafkaCliSupport.ParsePartitions(parse.GetValue(partitions) ?? [], options.Topics);
                options.Validate();
            }
            catch (ConfigurationException ex)
            {
                await Console.Error.WriteLineAsync($"smstream broker: {ex.Message}").ConfigureAwait(false);
                return 2;
            }

            using var termination = new Shutdown(ct);
            EmbeddedKafkaBroker broker;
            try
            {
                broker = await EmbeddedKafkaBroker.StartAsync(options, termination.Token).ConfigureAwait(false);
            }
            catch (InvalidOperationException ex)
            {
                await Console.Error.WriteLineAsync($"smstream broker: {ex.Message}").ConfigureAwait(false);
                return 1;
            }
            await using (broker.ConfigureAwait(false))
            {
                // First line is machine-readable: scripts wait for it and take the bootstrap list from it.
                await Console.Out.WriteLineAsync($"bootstrap: {broker.BootstrapServers}").ConfigureAwait(false);
                foreach (var (name, count) in options.Topics.OrderBy(t => t.Key, StringComparer.Ordinal))
                {
                    await Console.Out.WriteLineAsync($"topic: {name} partitions={count}").ConfigureAwait(false);
                }
                await Console.Out.WriteLineAsync($"embedded Kafka broker running ({options.Brokers} brokers, in memory, 5 MiB per partition); Ctrl-C to stop").ConfigureAwait(false);
                await Console.Out.FlushAsync(CancellationToken.None).ConfigureAwait(false);
                try
                {
                    await Task.Delay(Timeout.Infinite, termination.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                }
                await Console.Out.WriteLineAsync("stopping embedded Kafka broker").ConfigureAwait(false);
            }
            return 0;
        });
        return cmd;
    }
}
