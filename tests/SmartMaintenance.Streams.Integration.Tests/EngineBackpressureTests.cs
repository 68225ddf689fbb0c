using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Npgsql;
using SmartMaintenance.Streams.Alerting;
using SmartMaintenance.Streams.Engine;
using SmartMaintenance.Streams.Engine.Stages;
using SmartMaintenance.Streams.Ingest;
using SmartMaintenance.Streams.Kafka;
using SmartMaintenance.Streams.Scoring;
using SmartMaintenance.Streams.Storage;
using SmartMaintenance.Streams.Testing;
using SmartMaintenance.Streams.Windowing;
using Xunit;

namespace SmartMaintenance.Streams.Integration.Tests;

/// <summary>
/// Backpressure (Engine:PauseAfter): a writer that is merely busy is waited for, because pausing makes the Kafka client
/// drop what it prefetched; a writer stalled longer than PauseAfter pauses the partitions. Either way nothing is lost.
/// The writer is the real <see cref="PostgresSink"/> with a delay in front of each batch.
/// </summary>
[Collection(ServicesCollection.Name)]
public sealed class EngineBackpressureTests(KafkaFixture kafka, PostgresFixture postgres)
{
    private const int PausedEventId = 5;

    [Fact]
    public async Task Writer_slower_than_the_consumer_but_within_PauseAfter_never_pauses_the_partitions_and_loses_nothing()
    {
        var (paused, stored, rows) = await RunWithSlowWriterAsync(writeDelay: TimeSpan.FromMilliseconds(40), pauseAfter: TimeSpan.FromSeconds(2));

        Assert.Equal(0, paused);
        Assert.Equal(2000, stored);
        Assert.Equal(2000L, rows);
    }

    [Fact]
    public async Task Writer_stalled_longer_than_PauseAfter_pauses_the_partitions_and_loses_nothing()
    {
        var (paused, stored, rows) = await RunWithSlowWriterAsync(writeDelay: TimeSpan.FromMilliseconds(400), pauseAfter: TimeSpan.FromMilliseconds(50));

        Assert.True(paused > 0, "the engine never paused although every batch waited 8x PauseAfter for the writer");
        Assert.Equal(2000, stored);
        Assert.Equal(2000L, rows);
    }

    /// <summary>2,000 readings in 100-row batches through a one-slot queue, so the consumer is always ahead of the writer.</summary>
    private async Task<(int Paused, long Stored, long Rows)> RunWithSlowWriterAsync(TimeSpan writeDelay, TimeSpan pauseAfter)
    {
        var input = kafka.CreateUniqueTopic("readings", 4);
        var topics = new TopicNames
        {
            Readings = input,
            ReadingsDlq = kafka.CreateUniqueTopic("readings-dlq", 1),
            Alerts = kafka.CreateUniqueTopic("alerts", 1),
        };
        await kafka.ProduceAsync(input, Enumerable.Range(0, 2000).Select(i => ReadingFactory.ValidMessage(i % 20, i)).ToList());
        var db = await postgres.CreateDatabaseAsync();
        var storage = new StorageOptions { ConnectionString = db, BatchMaxRows = 100, BatchMaxDelay = TimeSpan.FromMilliseconds(100) };
        var options = new EngineOptions { ConsumerGroup = "bp-" + Guid.NewGuid().ToString("N")[..10], MaxQueuedBatches = 1, PauseAfter = pauseAfter };
        var stages = new PipelineStages(new RxWindowStage(new WindowingSettings()), new DetectorPipeline(new ScoringOptions()), new AlertTracker(new AlertOptions()));
        var logs = new EventCounter();
        using var loggerFactory = LoggerFactory.Create(b => b.AddProvider(logs));
        await using var sink = new DelayedSink(new PostgresSink(storage), writeDelay);
        var engine = new StreamEngine(options, storage, kafka.Options, topics, new ValidationOptions(), sink, stages, loggerFactory);

        using var cts = new CancellationTokenSource();
        var run = engine.RunAsync(cts.Token);
        var sw = Stopwatch.StartNew();
        while (engine.Counters.Stored < 2000)
        {
            if (run.IsCompleted)
            {
                await run;
                Assert.Fail("engine stopped before storing every reading");
            }
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(120), $"stored {engine.Counters.Stored} of 2000 within 120 s");
            await Task.Delay(50);
        }
        await cts.CancelAsync();
        await run;

        await using var conn = new NpgsqlConnection(db);
        await conn.OpenAsync();
        await using var count = new NpgsqlCommand("SELECT count(*) FROM readings", conn);
        var rows = (long)(await count.ExecuteScalarAsync())!;
        return (logs.Count(PausedEventId), engine.Counters.Stored, rows);
    }

    /// <summary>The real sink, each batch delayed first: a database that keeps up, slowly.</summary>
    private sealed class DelayedSink(IStorageSink inner, TimeSpan delay) : IStorageSink
    {
        public async Task WriteAsync(StorageBatch batch, CancellationToken ct)
        {
            await Task.Delay(delay, ct);
            await inner.WriteAsync(batch, ct);
        }

        public Task<IReadOnlyDictionary<int, OffsetMark>> LoadOffsetsAsync(string group, string topic, CancellationToken ct) =>
            inner.LoadOffsetsAsync(group, topic, ct);

        public Task<int> LoadDetectorStateAsync(string group, string topic, IReadOnlyCollection<int> partitions, DetectorStateHandler onRow, CancellationToken ct) =>
            inner.LoadDetectorStateAsync(group, topic, partitions, onRow, ct);

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }

    /// <summary>Counts log events by id (the engine's [LoggerMessage] ids).</summary>
    private sealed class EventCounter : ILoggerProvider, ILogger
    {
        private readonly ConcurrentDictionary<int, int> _counts = new();

        public int Count(int eventId) => _counts.TryGetValue(eventId, out var n) ? n : 0;

        public ILogger CreateLogger(string categoryName) => this;

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            _counts.AddOrUpdate(eventId.Id, 1, static (_, n) => n + 1);

        public void Dispose()
        {
        }
    }
}
