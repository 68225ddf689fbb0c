using SmartMaintenance.Streams.Contracts;

namespace SmartMaintenance.Streams.Kafka.Embedded;

/// <summary>How <see cref="EmbeddedKafkaBroker"/> starts: broker count, fixed ports, topics to create.</summary>
[SettingsSection("Broker")]
public sealed class EmbeddedBrokerOptions
{
    /// <summary>The default fixed port of broker 1 (brokers 2..N follow).</summary>
    public const int DefaultBasePort = 19092;

    [Setting("Number of mock brokers (ids 1..N).", Min = 1, Max = 16)]
    public int Brokers { get; set; } = 3;

    [Setting("Fixed loopback port of broker 1; broker i listens on base+i-1. 0 picks free ports (tests).", Min = 0, Max = 65535)]
    public int BasePort { get; set; } = DefaultBasePort;

    [Setting("Address the forwarders listen on and the cluster advertises.")]
    public string Host { get; set; } = "127.0.0.1";

    [Setting("Topics created at start: name → partition count.")]
    public IDictionary<string, int> Topics { get; set; } = new Dictionary<string, int>(StringComparer.Ordinal);

    [Setting("Delay before the first rebalance of a new consumer group (Kafka's group.initial.rebalance.delay.ms).", Unit = "ms", Min = 0, Max = 60000)]
    public int InitialRebalanceDelayMs { get; set; } = 100;

    [Setting("Receive buffer per direction of each forwarded connection.", Unit = "bytes", Min = 4096, Max = 16 * 1024 * 1024)]
    public int ForwarderBufferBytes { get; set; } = 256 * 1024;

    [Setting("Relay through fixed-port forwarders. false: clients use the mock's random ports directly (benchmark baseline; BasePort is ignored).")]
    public bool Forwarders { get; set; } = true;

    [Setting("librdkafka log level of the hosting handle (0 emerg .. 7 debug).", Min = 0, Max = 7)]
    public int LogLevel { get; set; } = 3;

    /// <summary>The project's four topics with their default partition counts (what <c>smstream broker</c> creates).</summary>
    public static IDictionary<string, int> ProjectTopics() => new Dictionary<string, int>(StringComparer.Ordinal)
    {
        [Contracts.Topics.Readings] = 12,
        [Contracts.Topics.ReadingsDlq] = 3,
        [Contracts.Topics.Alerts] = 6,
        [Contracts.Topics.AlertsDlq] = 3,
    };

    public void Validate()
    {
        SettingsValidator.Validate(this, "Broker");
        if (BasePort != 0 && BasePort + Brokers - 1 > 65535)
        {
            throw new ConfigurationException("Broker:BasePort", $"ports {BasePort}..{BasePort + Brokers - 1} exceed 65535");
        }
        if (!System.Net.IPAddress.TryParse(Host, out _))
        {
            throw new ConfigurationException("Broker:Host", $"'{Host}' is not an IP address (e.g. 127.0.0.1)");
        }
        foreach (var (name, partitions) in Topics)
        {
            if (string.IsNullOrWhiteSpace(name))
            {
                throw new ConfigurationException("Broker:Topics", "topic names must not be empty");
            }
            if (partitions is < 1 or > 10000)
            {
                throw new ConfigurationException($"Broker:Topics:{name}", $"partition count {partitions} must be in 1..10000");
            }
        }
    }
}
