using System.Text;
using Confluent.Kafka;
using SmartMaintenance.Streams.Kafka;
using SmartMaintenance.Streams.Kafka.Embedded;
using Xunit;

namespace SmartMaintenance.Streams.Testing;

/// <summary>
/// One embedded Kafka broker (librdkafka mock cluster over TCP, free ports) shared by a test collection.
/// Use it from any test project by declaring, in that project (xunit only finds collection definitions
/// in the test assembly itself):
/// <code>[CollectionDefinition(KafkaFixture.Collection)] public sealed class KafkaCollection : ICollectionFixture&lt;KafkaFixture&gt;;</code>
/// and marking test classes <c>[Collection(KafkaFixture.Collection)]</c>. Give every test its own topic
/// (<see cref="CreateUniqueTopic"/>). If the broker cannot start, every test of the collection fails.
/// </summary>
public sealed class KafkaFixture : IAsyncLifetime
{
    public const string Collection = "kafka";

    private static int s_topicCounter;
    private EmbeddedKafkaBroker? _broker;

    public EmbeddedKafkaBroker Broker => _broker ?? throw new InvalidOperationException("KafkaFixture is not initialised");

    public string BootstrapServers => Broker.BootstrapServers;

    /// <summary>Client options pointing at this broker, with the project's defaults.</summary>
    public KafkaOptions Options => new() { BootstrapServers = BootstrapServers, ClientId = "smstream-tests" };

    public async Task InitializeAsync()
    {
        try
        {
            _broker = await EmbeddedKafkaBroker.StartAsync(new EmbeddedBrokerOptions { BasePort = 0, Brokers = 3, InitialRebalanceDelayMs = 0 });
        }
        catch (Exception ex)
        {
            throw new InvalidOperationException(
                "KafkaFixture: the embedded Kafka broker (librdkafka mock cluster) could not start, so Kafka tests cannot run: " + ex.Message, ex);
        }
    }

    public async Task DisposeAsync()
    {
        if (_broker is not null)
        {
            await _broker.DisposeAsync();
        }
    }

    /// <summary>A topic name no other test uses, created with <paramref name="partitions"/> partitions.</summary>
    public string CreateUniqueTopic(string prefix, int partitions = 3)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(prefix);
        var name = $"{prefix}-{Interlocked.Increment(ref s_topicCounter)}-{Guid.NewGuid().ToString("N")[..12]}";
        Broker.CreateTopic(name, partitions);
        return name;
    }

    public IProducer<byte[], byte[]> CreateProducer(Action<ProducerConfig>? configure = null)
    {
        var config = Options.BuildProducerConfig();
        configure?.Invoke(config);
        return new ProducerBuilder<byte[], byte[]>(config).Build();
    }

    public IConsumer<byte[], byte[]> CreateConsumer(string groupId, Action<ConsumerConfig>? configure = null)
    {
        var config = Options.BuildConsumerConfig(groupId);
        configure?.Invoke(config);
        return new ConsumerBuilder<byte[], byte[]>(config).Build();
    }

    /// <summary>Produces the messages in order and waits until all are acknowledged.</summary>
    public async Task ProduceAsync(string topic, IEnumerable<TestMessage> messages, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        using var producer = CreateProducer();
        var errors = new List<Error>();
        foreach (var m in messages)
        {
            var message = new Message<byte[], byte[]> { Key = m.Key!, Value = m.Value, Headers = ToHeaders(m.Headers) };
            producer.Produce(topic, message, report =>
            {
                if (report.Error.IsError)
                {
                    lock (errors)
                    {
                        errors.Add(report.Error);
                    }
                }
            });
        }
        await Task.Run(() => producer.Flush(cancellationToken), cancellationToken);
        if (errors.Count > 0)
        {
            throw new InvalidOperationException($"KafkaFixture: {errors.Count} messages failed, first: {errors[0]}");
        }
    }

    public Task ProduceAsync(string topic, params TestMessage[] messages) => ProduceAsync(topic, (IEnumerable<TestMessage>)messages);

    /// <summary>Reads every partition of <paramref name="topic"/> from the beginning (no consumer group)
    /// until nothing new arrives for <paramref name="idle"/> (default 1 s), or <paramref name="timeout"/> passes.</summary>
    public Task<IReadOnlyList<ConsumedMessage>> ConsumeAllAsync(string topic, TimeSpan? idle = null, TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        Task.Run(() => ConsumeAll(topic, idle ?? TimeSpan.FromSeconds(1), timeout ?? TimeSpan.FromSeconds(60), cancellationToken), cancellationToken);

    /// <summary>Like <see cref="ConsumeAllAsync"/> but returns as soon as <paramref name="count"/> messages
    /// arrived (fails if they do not within <paramref name="timeout"/>, default 60 s): no idle wait.</summary>
    public async Task<IReadOnlyList<ConsumedMessage>> ConsumeAsync(string topic, int count, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        var limit = timeout ?? TimeSpan.FromSeconds(60);
        var result = await Task.Run(() => ConsumeAll(topic, limit, limit, cancellationToken, count), cancellationToken);
        if (result.Count < count)
        {
            throw new TimeoutException($"KafkaFixture: {result.Count} of {count} messages arrived on {topic} within {limit}");
        }
        return result;
    }

    private IReadOnlyList<ConsumedMessage> ConsumeAll(string topic, TimeSpan idle, TimeSpan timeout, CancellationToken cancellationToken, int stopAt = int.MaxValue)
    {
        var partitions = PartitionCount(topic);
        using var consumer = CreateConsumer("kafka-fixture-reader", c => c.EnableAutoCommit = false);
        var assignment = new List<TopicPartitionOffset>(partitions);
        for (var p = 0; p < partitions; p++)
        {
            assignment.Add(new TopicPartitionOffset(topic, p, Offset.Beginning));
        }
        consumer.Assign(assignment);
        // Read at least up to the high watermarks seen now, however slow the first fetch is on a loaded machine;
        // only then does the idle window (for messages still arriving) start to count.
        var targets = new long[partitions];
        var next = new long[partitions];
        for (var p = 0; p < partitions; p++)
        {
            var w = consumer.QueryWatermarkOffsets(new TopicPartition(topic, p), TimeSpan.FromSeconds(30));
            targets[p] = w.High.Value;
            next[p] = w.Low.Value;
        }
        var result = new List<ConsumedMessage>();
        var deadline = DateTime.UtcNow + timeout;
        var lastMessage = DateTime.UtcNow;
        while (result.Count < stopAt && DateTime.UtcNow < deadline)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var cr = consumer.Consume(TimeSpan.FromMilliseconds(100));
            if (cr is null)
            {
                if (CaughtUp(next, targets) && DateTime.UtcNow - lastMessage >= idle)
                {
                    break;
                }
                continue;
            }
            lastMessage = DateTime.UtcNow;
            next[cr.Partition.Value] = Math.Max(next[cr.Partition.Value], cr.Offset.Value + 1);
            var headers = new List<KeyValuePair<string, byte[]>>();
            if (cr.Message.Headers is { } hs)
            {
                foreach (var h in hs)
                {
                    headers.Add(new KeyValuePair<string, byte[]>(h.Key, h.GetValueBytes()));
                }
            }
            result.Add(new ConsumedMessage(cr.Topic, cr.Partition.Value, cr.Offset.Value, cr.Message.Key, cr.Message.Value, headers, cr.Message.Timestamp.UnixTimestampMs));
        }
        consumer.Close();
        return result;
    }

    private static bool CaughtUp(long[] next, long[] targets)
    {
        for (var p = 0; p < next.Length; p++)
        {
            if (next[p] < targets[p])
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>Partition count from the cluster's metadata (AdminClient).</summary>
    public int PartitionCount(string topic)
    {
        using var admin = new AdminClientBuilder(Options.BuildAdminClientConfig()).Build();
        var metadata = admin.GetMetadata(topic, TimeSpan.FromSeconds(10));
        var t = metadata.Topics.Single(x => x.Topic == topic);
        if (t.Error.IsError)
        {
            throw new KafkaException(t.Error);
        }
        return t.Partitions.Count;
    }

    private static Headers? ToHeaders(IReadOnlyList<KeyValuePair<string, byte[]>>? headers)
    {
        if (headers is null)
        {
            return null;
        }
        var result = new Headers();
        foreach (var (k, v) in headers)
        {
            result.Add(k, v);
        }
        return result;
    }
}

/// <summary>A message to produce in a test.</summary>
public sealed record TestMessage(byte[]? Key, byte[] Value, IReadOnlyList<KeyValuePair<string, byte[]>>? Headers = null)
{
    public static TestMessage Utf8(string? key, string value, params (string Name, string Value)[] headers) =>
        new(key is null ? null : Encoding.UTF8.GetBytes(key), Encoding.UTF8.GetBytes(value),
            headers.Length == 0 ? null : Array.ConvertAll(headers, h => new KeyValuePair<string, byte[]>(h.Name, Encoding.UTF8.GetBytes(h.Value))));
}

/// <summary>A message read back by <see cref="KafkaFixture.ConsumeAllAsync"/>.</summary>
public sealed record ConsumedMessage(
    string Topic, int Partition, long Offset, byte[]? Key, byte[] Value,
    IReadOnlyList<KeyValuePair<string, byte[]>> Headers, long TimestampMs)
{
    public string KeyText => Key is null ? "" : Encoding.UTF8.GetString(Key);
    public string ValueText => Encoding.UTF8.GetString(Value);

    /// <summary>Last value of header <paramref name="name"/> as UTF-8, or null.</summary>
    public string? Header(string name)
    {
        for (var i = Headers.Count - 1; i >= 0; i--)
        {
            if (Headers[i].Key == name)
            {
                return Encoding.UTF8.GetString(Headers[i].Value);
            }
        }
        return null;
    }
}
