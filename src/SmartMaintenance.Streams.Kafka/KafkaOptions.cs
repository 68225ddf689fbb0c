using Confluent.Kafka;
using SmartMaintenance.Streams.Contracts;

namespace SmartMaintenance.Streams.Kafka;

/// <summary>
/// Connection, security and tuning for every Kafka client the project creates. Defaults reach the
/// embedded broker; a real cluster needs only configuration (bootstrap, security, <see cref="Client"/>).
/// </summary>
/// <remarks>
/// Assignment strategy: cooperative-sticky by default, so a member joining or leaving moves only the
/// partitions that change owner; the others keep their open windows and need no replay. Handlers must
/// then treat assignment/revocation as incremental. The mock broker rejects offset commits while a
/// rebalance runs (<c>Group rebalance in progress</c> / <c>Specified group generation id is not valid</c>
/// with cooperative-sticky): expected, since Kafka's committed offsets serve lag monitoring only and
/// offsets of record live in the database. Set <see cref="PartitionAssignmentStrategy"/> to
/// <c>Range</c> for eager (stop-the-world) rebalancing.
/// </remarks>
[SettingsSection("Kafka")]
public sealed class KafkaOptions
{
    public const string SectionName = "Kafka";

    [Setting("Comma-separated host:port list of brokers.")]
    public string BootstrapServers { get; set; } = "127.0.0.1:19092";

    [Setting("client.id sent to the brokers (shows in broker logs and quotas).")]
    public string ClientId { get; set; } = "smstream";

    [Setting("Plaintext, Ssl, SaslPlaintext or SaslSsl.")]
    public SecurityProtocol SecurityProtocol { get; set; } = SecurityProtocol.Plaintext;

    [Setting("Plain, ScramSha256, ScramSha512, Gssapi or OAuthBearer; used with Sasl* protocols.")]
    public SaslMechanism? SaslMechanism { get; set; }

    [Setting("SASL user name.")]
    public string? SaslUsername { get; set; }

    [Setting("SASL password.", Secret = true)]
    public string? SaslPassword { get; set; }

    [Setting("Path of the CA certificate(s) (PEM) that verify the brokers.")]
    public string? SslCaLocation { get; set; }

    [Setting("Path of the client certificate (PEM) for mutual TLS.")]
    public string? SslCertificateLocation { get; set; }

    [Setting("Path of the client private key (PEM) for mutual TLS.")]
    public string? SslKeyLocation { get; set; }

    [Setting("Password of the client private key.", Secret = true)]
    public string? SslKeyPassword { get; set; }

    [Setting("Consumer: how long the group waits for a silent member before rebalancing it out. The embedded broker also takes about this long to finish any rebalance; 6000 is Kafka's default minimum.", Unit = "ms", Min = 1000, Max = 3600000)]
    public int SessionTimeoutMs { get; set; } = 6000;

    [Setting("Consumer: heartbeat period (well under the session timeout).", Unit = "ms", Min = 100, Max = 3600000)]
    public int HeartbeatIntervalMs { get; set; } = 1500;

    [Setting("Consumer: maximum time between polls before the member is thrown out (the engine pauses, never stops polling).", Unit = "ms", Min = 1000, Max = 86400000)]
    public int MaxPollIntervalMs { get; set; } = 300000;

    [Setting("Consumer: how often stored offsets are committed (for lag monitoring).", Unit = "ms", Min = 100, Max = 3600000)]
    public int AutoCommitIntervalMs { get; set; } = 1000;

    [Setting("Consumer: back-off when the local fetch queue is full; librdkafka's 1000 ms default stalls fast consumers.", Unit = "ms", Min = 0, Max = 300000)]
    public int FetchQueueBackoffMs { get; set; } = 10;

    [Setting("Consumer: longest time a broker may hold a fetch that finds no data (fetch.wait.max.ms). A real broker answers as soon as data arrives, so this only sets the idle request rate; the embedded broker always holds an empty fetch this long, even when data arrives meanwhile, so librdkafka's 500 ms default adds up to 500 ms to every record there.", Unit = "ms", Min = 0, Max = 300000)]
    public int FetchWaitMaxMs { get; set; } = 10;

    [Setting("Consumer: CooperativeSticky (incremental) or Range (eager) partition assignment.")]
    public PartitionAssignmentStrategy PartitionAssignmentStrategy { get; set; } = PartitionAssignmentStrategy.CooperativeSticky;

    [Setting("Consumer: where a group with no committed offset starts.")]
    public AutoOffsetReset AutoOffsetReset { get; set; } = AutoOffsetReset.Earliest;

    [Setting("Producer: time to wait for more records before sending a batch.", Unit = "ms", Min = 0, Max = 900000)]
    public double LingerMs { get; set; } = 5;

    [Setting("Producer of alert events (the engine's own producer, apart from the DLQ's): time to wait for more records before sending. Alerts are few and latency-bound, so the default sends at once; Kafka:LingerMs still applies to every other producer.", Unit = "ms", Min = 0, Max = 900000)]
    public double AlertLingerMs { get; set; }

    [Setting("Producer: maximum size of one batch per partition.", Unit = "bytes", Min = 1, Max = 2147483647)]
    public int BatchSize { get; set; } = 1_000_000;

    [Setting("Producer: maximum records in one batch.", Unit = "records", Min = 1, Max = 1000000)]
    public int BatchNumMessages { get; set; } = 100_000;

    [Setting("Producer: compression codec; lz4 keeps batches small (the embedded broker retains only 5 MiB per partition).")]
    public CompressionType CompressionType { get; set; } = CompressionType.Lz4;

    [Setting("Producer: records buffered locally before Produce reports the queue full.", Unit = "records", Min = 1, Max = 2147483647)]
    public int QueueBufferingMaxMessages { get; set; } = 500_000;

    [Setting("Producer: how long delivery (including retries) may take before a record fails.", Unit = "ms", Min = 1, Max = 2147483647)]
    public int MessageTimeoutMs { get; set; } = 120_000;

    [Setting("Every client: disable Nagle's algorithm on broker connections (socket.nagle.disable), so a small request (one alert, one fetch) is not held back behind an unacknowledged one.")]
    public bool SocketNagleDisable { get; set; } = true;

    /// <summary>Any librdkafka property (e.g. <c>"socket.keepalive.enable": "true"</c>), applied last so it overrides everything above.</summary>
    [Setting("Free-form librdkafka properties passed to every client, applied last.")]
    public IDictionary<string, string> Client { get; set; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>Throws <see cref="ConfigurationException"/> naming the first invalid setting.</summary>
    public void Validate(string sectionPath = SectionName)
    {
        SettingsValidator.Validate(this, sectionPath);
        if (string.IsNullOrWhiteSpace(BootstrapServers))
        {
            throw new ConfigurationException($"{sectionPath}:BootstrapServers", "must list at least one host:port");
        }
        foreach (var server in BootstrapServers.Split(',', StringSplitOptions.TrimEntries))
        {
            var colon = server.LastIndexOf(':');
            if (colon <= 0 || !int.TryParse(server.AsSpan(colon + 1), out var port) || port is < 1 or > 65535)
            {
                throw new ConfigurationException($"{sectionPath}:BootstrapServers", $"'{server}' is not host:port");
            }
        }
        var sasl = SecurityProtocol is SecurityProtocol.SaslPlaintext or SecurityProtocol.SaslSsl;
        if (sasl && SaslMechanism is null)
        {
            throw new ConfigurationException($"{sectionPath}:SaslMechanism", $"required with SecurityProtocol {SecurityProtocol}");
        }
        if (sasl && SaslMechanism is Confluent.Kafka.SaslMechanism.Plain or Confluent.Kafka.SaslMechanism.ScramSha256 or Confluent.Kafka.SaslMechanism.ScramSha512)
        {
            if (string.IsNullOrEmpty(SaslUsername))
            {
                throw new ConfigurationException($"{sectionPath}:SaslUsername", $"required with SaslMechanism {SaslMechanism}");
            }
            if (string.IsNullOrEmpty(SaslPassword))
            {
                throw new ConfigurationException($"{sectionPath}:SaslPassword", $"required with SaslMechanism {SaslMechanism}");
            }
        }
        if (!string.IsNullOrEmpty(SslKeyLocation) != !string.IsNullOrEmpty(SslCertificateLocation))
        {
            throw new ConfigurationException($"{sectionPath}:SslCertificateLocation", "SslCertificateLocation and SslKeyLocation go together (mutual TLS)");
        }
        if (HeartbeatIntervalMs >= SessionTimeoutMs)
        {
            throw new ConfigurationException($"{sectionPath}:HeartbeatIntervalMs", "must be lower than SessionTimeoutMs");
        }
        foreach (var key in Client.Keys)
        {
            if (string.IsNullOrWhiteSpace(key))
            {
                throw new ConfigurationException($"{sectionPath}:Client", "property names must not be empty");
            }
        }
    }

    /// <summary>A consumer of group <paramref name="groupId"/> that stores offsets only when told
    /// (<c>StoreOffset</c> after the durable write) and auto-commits what was stored.</summary>
    public ConsumerConfig BuildConsumerConfig(string groupId)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(groupId);
        var config = new ConsumerConfig
        {
            GroupId = groupId,
            EnableAutoOffsetStore = false,
            EnableAutoCommit = true,
            AutoCommitIntervalMs = AutoCommitIntervalMs,
            AutoOffsetReset = AutoOffsetReset,
            FetchQueueBackoffMs = FetchQueueBackoffMs,
            FetchWaitMaxMs = FetchWaitMaxMs,
            PartitionAssignmentStrategy = PartitionAssignmentStrategy,
            SessionTimeoutMs = SessionTimeoutMs,
            HeartbeatIntervalMs = HeartbeatIntervalMs,
            MaxPollIntervalMs = MaxPollIntervalMs,
            EnablePartitionEof = false,
        };
        Apply(config);
        return config;
    }

    /// <summary>
    /// The engine's consumer: as <see cref="BuildConsumerConfig"/>, except that Confluent.Kafka does not marshal each
    /// message's topic name into a new string (<c>dotnet.consumer.consume.result.fields</c> = timestamp,headers): the
    /// engine reads one topic and knows its name. Timestamps (the consume-delay metric) and headers (the original headers a
    /// DLQ record carries, the mark of a DLQ replay) stay on. A <see cref="Client"/> value for the property still wins.
    /// </summary>
    public ConsumerConfig BuildEngineConsumerConfig(string groupId)
    {
        var config = BuildConsumerConfig(groupId);
        if (!Client.ContainsKey(ConfigPropertyNames.Consumer.ConsumeResultFields))
        {
            config.ConsumeResultFields = "timestamp,headers";
        }
        return config;
    }

    /// <summary>An idempotent producer: acks from all replicas, lz4 batches, ordered retries.</summary>
    public ProducerConfig BuildProducerConfig() => BuildProducerConfig(LingerMs);

    private ProducerConfig BuildProducerConfig(double lingerMs)
    {
        var config = new ProducerConfig
        {
            EnableIdempotence = true,
            Acks = Acks.All,
            CompressionType = CompressionType,
            LingerMs = lingerMs,
            BatchSize = BatchSize,
            BatchNumMessages = BatchNumMessages,
            QueueBufferingMaxMessages = QueueBufferingMaxMessages,
            MessageTimeoutMs = MessageTimeoutMs,
        };
        Apply(config);
        return config;
    }

    /// <summary>The producer of alert events: as <see cref="BuildProducerConfig()"/>, with <see cref="AlertLingerMs"/>
    /// (a <see cref="Client"/> <c>linger.ms</c> still wins, as it does for every client).</summary>
    public ProducerConfig BuildAlertProducerConfig() => BuildProducerConfig(AlertLingerMs);

    public AdminClientConfig BuildAdminClientConfig()
    {
        var config = new AdminClientConfig();
        Apply(config);
        return config;
    }

    /// <summary>Connection and security settings, then <see cref="Client"/> overrides.</summary>
    private void Apply(ClientConfig config)
    {
        config.BootstrapServers = BootstrapServers;
        config.ClientId = ClientId;
        config.SecurityProtocol = SecurityProtocol;
        config.SocketNagleDisable = SocketNagleDisable;
        if (SaslMechanism is { } mechanism)
        {
            config.SaslMechanism = mechanism;
        }
        SetIfPresent(config, "sasl.username", SaslUsername);
        SetIfPresent(config, "sasl.password", SaslPassword);
        SetIfPresent(config, "ssl.ca.location", SslCaLocation);
        SetIfPresent(config, "ssl.certificate.location", SslCertificateLocation);
        SetIfPresent(config, "ssl.key.location", SslKeyLocation);
        SetIfPresent(config, "ssl.key.password", SslKeyPassword);
        foreach (var (key, value) in Client)
        {
            config.Set(key, value);
        }
    }

    private static void SetIfPresent(ClientConfig config, string key, string? value)
    {
        if (!string.IsNullOrEmpty(value))
        {
            config.Set(key, value);
        }
    }

    /// <summary>The options with secrets masked, for start-up logs.</summary>
    public override string ToString() =>
        $"BootstrapServers={BootstrapServers}, SecurityProtocol={SecurityProtocol}, SaslMechanism={SaslMechanism?.ToString() ?? "-"}, " +
        $"SaslUsername={SaslUsername ?? "-"}, SaslPassword={(string.IsNullOrEmpty(SaslPassword) ? "-" : "***")}, Client properties={Client.Count}";
}
