using SmartMaintenance.Streams.Kafka;
using SmartMaintenance.Streams.Load;
using SmartMaintenance.Streams.Testing;
using Xunit;

namespace SmartMaintenance.Streams.Load.Tests;

[CollectionDefinition(KafkaFixture.Collection)]
public sealed class KafkaCollection : ICollectionFixture<KafkaFixture>;

[Collection(KafkaFixture.Collection)]
public sealed class LoadRunnerTests(KafkaFixture kafka)
{
    [Fact]
    public async Task A_constant_run_against_the_embedded_broker_sends_what_was_offered_and_sees_every_message_as_lag_without_an_engine()
    {
        var topic = kafka.CreateUniqueTopic("load-readings", partitions: 3);
        var alerts = kafka.CreateUniqueTopic("load-alerts", partitions: 1);
        var options = new LoadOptions
        {
            Rate = 400, Duration = TimeSpan.FromSeconds(3), WarmUp = TimeSpan.FromSeconds(1), Batch = 4, ProbesPerSecond = 0,
            DrainTimeout = TimeSpan.FromSeconds(2), MaxLag = 0, MaxErrorRate = 0,
        };
        var samples = 0;
        var target = new LoadTarget(kafka.Options, new TopicNames { Readings = topic, Alerts = alerts }, "no-engine-" + Guid.NewGuid().ToString("N")[..8], Database: null);
        var result = await new LoadRunner(options, target, _ => Interlocked.Increment(ref samples)).RunAsync(CancellationToken.None);

        // 4 s at 400 readings/s in envelopes of 4 ≈ 400 messages; the pacer may round the last slice.
        Assert.InRange(result.ReadingsSent, 1500, 1700);
        Assert.Equal(result.ReadingsSent / 4, result.MessagesSent);
        Assert.Equal(0, result.DeliveryFailures);
        Assert.True(result.Ack.Total.TotalCount > 0);
        // One progress sample per second of a 4 s run; a loaded machine can delay the last tick past the end.
        Assert.True(samples >= 2, $"{samples} progress samples in a 4 s run");
        // Nobody consumes: the lag is every message produced, so the lag threshold fails and the run is not drained.
        Assert.Equal(result.MessagesSent, result.FinalLag);
        Assert.False(result.Drained);
        Assert.Contains(result.Thresholds, t => t.Name.Contains("lag", StringComparison.Ordinal) && !t.Passed);
        Assert.Contains(result.Thresholds, t => t.Name.Contains("error rate", StringComparison.Ordinal) && t.Passed);
        var consumed = await kafka.ConsumeAllAsync(topic, idle: TimeSpan.FromSeconds(2));
        Assert.Equal(result.MessagesSent, consumed.Count);
    }
}
