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
}
