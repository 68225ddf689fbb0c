using System.Text;
using Confluent.Kafka;
using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Kafka.Embedded;
using SmartMaintenance.Streams.Testing;
using Xunit;

namespace SmartMaintenance.Streams.Kafka.Tests;

[Collection(KafkaFixture.Collection)]
public sealed class EmbeddedKafkaBrokerTests(KafkaFixture kafka)
{
    [Fact]
    public async Task Produced_messages_round_trip_through_the_forwarders_with_keys_and_headers()
    {
        var topic = kafka.CreateUniqueTopic("roundtrip", 6);
        var sent = Enumerable.Range(0, 500)
            .Select(i => TestMessage.Utf8($"k{i % 17}", $"v{i}", ("h", $"x{i}")))
            .ToList();

        await kafka.ProduceAsync(topic, sent);
        var received = await kafka.ConsumeAllAsync(topic);

        Assert.Equal(500, received.Count);
        Assert.Equal(
            Enumerable.Range(0, 500).Select(i => $"v{i}").Order(StringComparer.Ordinal),
            received.Select(r => r.ValueText).Order(StringComparer.Ordinal));
        Assert.All(received, r => Assert.Equal("x" + r.ValueText[1..], r.Header("h")));
        // Same key, same partition: per-key ordering is what the engine relies on.
        Assert.All(received.GroupBy(r => r.KeyText), g => Assert.Single(g.Select(r => r.Partition).Distinct()));
        Assert.True(received.Select(r => r.Partition).Distinct().Count() > 1);
    }

    [Fact]
    public async Task A_message_larger_than_the_forwarder_buffer_arrives_intact_and_watermarks_count_it()
    {
        var topic = kafka.CreateUniqueTopic("large", 1);
        var value = new byte[900_000];
        new Random(5).NextBytes(value);

        await kafka.ProduceAsync(topic, new TestMessage([7], value));
        var received = await kafka.ConsumeAsync(topic, 1);
        using var consumer = kafka.CreateConsumer("wm-" + Guid.NewGuid().ToString("N"));
        var watermarks = consumer.QueryWatermarkOffsets(new TopicPartition(topic, 0), TimeSpan.FromSeconds(10));

        Assert.Equal(value, Assert.Single(received).Value);
        Assert.Equal(0, watermarks.Low.Value);
        Assert.Equal(1, watermarks.High.Value);
    }

    [Fact]
    public void Created_topics_appear_in_metadata_with_their_partition_counts_and_leaders_on_every_broker()
    {
        var readings = kafka.CreateUniqueTopic("meta-readings", 12);
        var dlq = kafka.CreateUniqueTopic("meta-dlq", 3);

        using var admin = new AdminClientBuilder(kafka.Options.BuildAdminClientConfig()).Build();
        var metadata = admin.GetMetadata(TimeSpan.FromSeconds(10));

        Assert.Equal(12, metadata.Topics.Single(t => t.Topic == readings).Partitions.Count);
        Assert.Equal(3, metadata.Topics.Single(t => t.Topic == dlq).Partitions.Count);
        Assert.Equal(3, metadata.Brokers.Count);
        // Metadata advertises the forwarders, never the mock's random ports.
        Assert.Equal(
            kafka.Broker.Ports.Order(),
            metadata.Brokers.Select(b => b.Port).Order());
        Assert.All(metadata.Brokers, b => Assert.Equal("127.0.0.1", b.Host));
        Assert.Equal(3, metadata.Topics.Single(t => t.Topic == readings).Partitions.Select(p => p.Leader).Distinct().Count());
    }

    [Fact]
    public void Creating_an_existing_topic_fails_with_TopicAlreadyExists()
    {
        var topic = kafka.CreateUniqueTopic("dup", 1);

        var ex = Assert.Throws<KafkaException>(() => kafka.Broker.CreateTopic(topic, 1));

        Assert.Equal(ErrorCode.TopicAlreadyExists, ex.Error.Code);
    }

    [Fact]
    public async Task Starting_a_second_broker_on_a_taken_port_fails_naming_the_port()
    {
        var taken = kafka.Broker.Ports[0];

        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            EmbeddedKafkaBroker.StartAsync(new EmbeddedBrokerOptions { BasePort = taken, Brokers = 1 }));

        Assert.Contains(taken.ToString(System.Globalization.CultureInfo.InvariantCulture), ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Two_consumers_of_one_group_share_the_partitions()
    {
        var topic = kafka.CreateUniqueTopic("group", 6);
        await kafka.ProduceAsync(topic, Enumerable.Range(0, 60).Select(i => TestMessage.Utf8($"k{i}", $"v{i}")));
        var group = "g-" + Guid.NewGuid().ToString("N");

        var counts = await Task.Run(() =>
        {
            // The mock completes a rebalance only after session.timeout.ms: keep it short here.
            using var a = kafka.CreateConsumer(group, FastRebalance);
            using var b = kafka.CreateConsumer(group, FastRebalance);
            a.Subscribe(topic);
            b.Subscribe(topic);
            var seen = new HashSet<string>(StringComparer.Ordinal);
            var deadline = DateTime.UtcNow.AddSeconds(40);
            while (DateTime.UtcNow < deadline && (a.Assignment.Count == 0 || b.Assignment.Count == 0 || a.Assignment.Count + b.Assignment.Count != 6 || seen.Count < 60))
            {
                foreach (var c in new[] { a, b })
                {
                    var cr = c.Consume(TimeSpan.FromMilliseconds(50));
                    if (cr is not null)
                    {
                        seen.Add(Encoding.UTF8.GetString(cr.Message.Value));
                    }
                }
            }
            var result = (a.Assignment.ToList(), b.Assignment.ToList(), seen.Count);
            a.Close();
            b.Close();
            return result;
        });

        var (assignedA, assignedB, consumed) = counts;
        Assert.NotEmpty(assignedA);
        Assert.NotEmpty(assignedB);
        Assert.Empty(assignedA.Intersect(assignedB));
        Assert.Equal(6, assignedA.Count + assignedB.Count);
        Assert.Equal(60, consumed);
    }

    [Fact]
    public async Task Injected_retriable_produce_errors_are_retried_and_every_message_lands_once()
    {
        var topic = kafka.CreateUniqueTopic("faults", 1);
        kafka.Broker.PushRequestErrors(0 /* Produce */, ErrorCode.NotEnoughReplicas, ErrorCode.NotEnoughReplicas, ErrorCode.RequestTimedOut);
        try
        {
            using var producer = kafka.CreateProducer();
            var results = new List<DeliveryResult<byte[], byte[]>>();
            for (var i = 0; i < 20; i++)
            {
                results.Add(await producer.ProduceAsync(topic, new Message<byte[], byte[]> { Key = [1], Value = Encoding.UTF8.GetBytes($"m{i}") }));
            }

            Assert.All(results, r => Assert.Equal(PersistenceStatus.Persisted, r.Status));
            var received = await kafka.ConsumeAllAsync(topic);
            // Idempotence: retries neither duplicate nor reorder.
            Assert.Equal(Enumerable.Range(0, 20).Select(i => $"m{i}"), received.OrderBy(r => r.Offset).Select(r => r.ValueText));
        }
        finally
        {
            kafka.Broker.ClearRequestErrors(0);
        }
    }

    [Fact]
    public async Task A_broker_set_down_holds_its_partitions_until_it_is_up_again()
    {
        await using var broker = await EmbeddedKafkaBroker.StartAsync(new EmbeddedBrokerOptions { BasePort = 0, Brokers = 2, Topics = { ["t"] = 2 } });
        var config = new KafkaOptions { BootstrapServers = broker.BootstrapServers }.BuildProducerConfig();
        config.ReconnectBackoffMaxMs = 200;
        config.ReconnectBackoffMs = 50;
        using var producer = new ProducerBuilder<byte[], byte[]>(config).Build();
        await producer.ProduceAsync(new TopicPartition("t", 0), new Message<byte[], byte[]> { Value = [0] });
        await producer.ProduceAsync(new TopicPartition("t", 1), new Message<byte[], byte[]> { Value = [0] });
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = broker.BootstrapServers }).Build();
        var leader = admin.GetMetadata("t", TimeSpan.FromSeconds(10)).Topics[0].Partitions.Single(p => p.PartitionId == 0).Leader;

        broker.SetBrokerDown(leader);
        var pending = producer.ProduceAsync(new TopicPartition("t", 0), new Message<byte[], byte[]> { Value = [1] });
        var early = await Task.WhenAny(pending, Task.Delay(1500));
        broker.SetBrokerUp(leader);
        var result = await pending.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.NotSame(pending, early);
        Assert.Equal(PersistenceStatus.Persisted, result.Status);
        Assert.Equal(1, result.Offset.Value);
    }

    [Fact]
    public async Task Project_topics_are_created_with_their_default_partition_counts()
    {
        await using var broker = await EmbeddedKafkaBroker.StartAsync(new EmbeddedBrokerOptions { BasePort = 0, Topics = EmbeddedBrokerOptions.ProjectTopics() });
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = broker.BootstrapServers }).Build();

        var metadata = admin.GetMetadata(TimeSpan.FromSeconds(10));

        Assert.Equal(12, metadata.Topics.Single(t => t.Topic == Topics.Readings).Partitions.Count);
        Assert.Equal(3, metadata.Topics.Single(t => t.Topic == Topics.ReadingsDlq).Partitions.Count);
        Assert.Equal(6, metadata.Topics.Single(t => t.Topic == Topics.Alerts).Partitions.Count);
        Assert.Equal(3, metadata.Topics.Single(t => t.Topic == Topics.AlertsDlq).Partitions.Count);
        Assert.Equal(3, broker.BootstrapServers.Split(',').Length);
    }

    private static void FastRebalance(ConsumerConfig config)
    {
        config.SessionTimeoutMs = 3000;
        config.HeartbeatIntervalMs = 300;
    }
}
