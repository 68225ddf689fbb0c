using SmartMaintenance.Streams.Alerting;
using SmartMaintenance.Streams.Engine;
using SmartMaintenance.Streams.Engine.Stages;
using SmartMaintenance.Streams.Ingest;
using SmartMaintenance.Streams.Kafka;
using SmartMaintenance.Streams.Scoring;
using SmartMaintenance.Streams.Storage;
using SmartMaintenance.Streams.Testing;
using SmartMaintenance.Streams.Windowing;

namespace SmartMaintenance.Streams.Operations.Tests;

/// <summary>Unique topics and consumer group for one test.</summary>
internal sealed record TestTopics(string Input, string Dlq, string Alerts, string Group)
{
    public static TestTopics Create(KafkaFixture kafka, int partitions = 3) => new(
        kafka.CreateUniqueTopic("ops-readings", partitions),
        kafka.CreateUniqueTopic("ops-readings-dlq", 2),
        kafka.CreateUniqueTopic("ops-alerts", 1),
        "ops-engine-" + Guid.NewGuid().ToString("N")[..10]);

    public TopicNames Names => new() { Readings = Input, ReadingsDlq = Dlq, Alerts = Alerts };

    /// <summary>Environment that points a smstream process at these topics.</summary>
    public Dictionary<string, string> Environment(KafkaFixture kafka, string database) => new()
    {
        ["SMSTREAM_BOOTSTRAP"] = kafka.BootstrapServers,
        ["SMSTREAM_DATABASE"] = database,
        ["SMSTREAM_TOPICS__READINGS"] = Input,
        ["SMSTREAM_TOPICS__READINGSDLQ"] = Dlq,
        ["SMSTREAM_TOPICS__ALERTS"] = Alerts,
    };
}

/// <summary>The engine running in-process on a test's topics and database, stopped gracefully on dispose.</summary>
internal sealed class EngineHost : IAsyncDisposable
{
    private readonly CancellationTokenSource _cts = new();
    private readonly PostgresSink _sink;

    public EngineHost(KafkaFixture kafka, TestTopics topics, string database)
    {
        var storage = new StorageOptions { ConnectionString = database, BatchMaxDelay = TimeSpan.FromMilliseconds(100) };
        _sink = new PostgresSink(storage);
        var stages = new PipelineStages(new RxWindowStage(new WindowingSettings()), new DetectorPipeline(new ScoringOptions()), new AlertTracker(new AlertOptions()));
        Engine = new StreamEngine(new EngineOptions { ConsumerGroup = topics.Group }, storage, kafka.Options, topics.Names, new ValidationOptions(), _sink, stages);
        Run = Engine.RunAsync(_cts.Token);
    }

    public StreamEngine Engine { get; }

    public Task Run { get; }

    /// <summary>Waits until the engine has stored or dead-lettered <paramref name="outcomes"/> records in total.</summary>
    public Task WaitForOutcomes(long outcomes, string what) =>
        Wait.Until(() => Engine.Counters.Stored + Engine.Counters.RejectedTotal >= outcomes, Run, TimeSpan.FromSeconds(60), what);

    public async ValueTask DisposeAsync()
    {
        await _cts.CancelAsync();
        try
        {
            await Run;
        }
        finally
        {
            await _sink.DisposeAsync();
            _cts.Dispose();
        }
    }
}
