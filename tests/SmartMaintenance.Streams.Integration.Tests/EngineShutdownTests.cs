using System.Diagnostics;
using Confluent.Kafka;
using SmartMaintenance.Streams.Alerting;
using SmartMaintenance.Streams.Engine;
using SmartMaintenance.Streams.Engine.Stages;
using SmartMaintenance.Streams.Ingest;
using SmartMaintenance.Streams.Kafka;
using SmartMaintenance.Streams.Kafka.Embedded;
using SmartMaintenance.Streams.Scoring;
using SmartMaintenance.Streams.Storage;
using SmartMaintenance.Streams.Testing;
using SmartMaintenance.Streams.Windowing;
using Xunit;

namespace SmartMaintenance.Streams.Integration.Tests;

[Collection(ServicesCollection.Name)]
public sealed class EngineShutdownTests(PostgresFixture postgres)
{
    [Fact]
    public async Task A_graceful_stop_with_every_broker_gone_ends_cleanly_within_its_timeouts()
    {
        // A broker of this test's own: it is shut down under the running engine.
        var broker = await EmbeddedKafkaBroker.StartAsync(new EmbeddedBrokerOptions { BasePort = 0, Brokers = 3, InitialRebalanceDelayMs = 0 });
        var kafka = new KafkaOptions { BootstrapServers = broker.BootstrapServers, ClientId = "shutdown-test" };
        var topics = new TopicNames { Readings = "readings-" + Guid.NewGuid().ToString("N")[..8], ReadingsDlq = "dlq", Alerts = "alerts" };
        broker.CreateTopic(topics.Readings, 3);
        broker.CreateTopic(topics.ReadingsDlq, 1);
        broker.CreateTopic(topics.Alerts, 1);
        using (var producer = new ProducerBuilder<byte[], byte[]>(kafka.BuildProducerConfig()).Build())
        {
            for (var i = 0; i < 100_000; i++)
            {
                var m = ReadingFactory.ValidMessage(i % 10, i);
                producer.Produce(topics.Readings, new Message<byte[], byte[]> { Key = m.Key!, Value = m.Value });
                if (i % 100 == 0)
                {
                    // DLQ records keep the engine's producer busy, so records are in flight when the brokers go.
                    producer.Produce(topics.Readings, new Message<byte[], byte[]> { Key = m.Key!, Value = "{\"sensor_id\":\"bad\",\"value\":\"NaN\"}"u8.ToArray() });
                }
            }
            producer.Flush(TimeSpan.FromSeconds(30));
        }

        var storage = new StorageOptions { ConnectionString = await postgres.CreateDatabaseAsync(), BatchMaxDelay = TimeSpan.FromMilliseconds(100) };
        await using var sink = new PostgresSink(storage);
        var options = new EngineOptions
        {
            ConsumerGroup = "shutdown-" + Guid.NewGuid().ToString("N")[..8],
            CloseTimeout = TimeSpan.FromSeconds(3),
            ShutdownTimeout = TimeSpan.FromSeconds(3),
            RevokeDrainTimeout = TimeSpan.FromSeconds(3),
        };
        var stages = new PipelineStages(new RxWindowStage(new WindowingSettings()), new DetectorPipeline(new ScoringOptions()), new AlertTracker(new AlertOptions()));
        var engine = new StreamEngine(options, storage, kafka, topics, new ValidationOptions(), sink, stages);
        using var cts = new CancellationTokenSource();
        var run = engine.RunAsync(cts.Token);
        var waited = Stopwatch.StartNew();
        while (engine.Counters.Stored < 2_000)
        {
            Assert.False(run.IsCompleted, "the engine stopped before storing the input");
            Assert.True(waited.Elapsed < TimeSpan.FromSeconds(90), $"only {engine.Counters.Stored} of 200 readings stored");
            await Task.Delay(50);
        }

        await broker.DisposeAsync();
        await cts.CancelAsync();
        // Bounded by Engine:ShutdownTimeout (the last batch cannot commit: its DLQ records are never acknowledged), the
        // close timeout and the producers' final flush; the generous limit only tells a hang from a slow box.
        var finished = await Task.WhenAny(run, Task.Delay(TimeSpan.FromSeconds(120)));
        Assert.Same(run, finished);
        // A stop, not a fatal error: the writer is told to give up before the producers it flushes are disposed.
        await run;
    }
}
