using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using SmartMaintenance.Streams.Alerting;
using SmartMaintenance.Streams.Alerting.Notifier;
using SmartMaintenance.Streams.Engine;
using SmartMaintenance.Streams.Engine.Stages;
using SmartMaintenance.Streams.Ingest;
using SmartMaintenance.Streams.Kafka;
using SmartMaintenance.Streams.Kafka.Simulation;
using SmartMaintenance.Streams.Scoring;
using SmartMaintenance.Streams.Storage;
using SmartMaintenance.Streams.Windowing;
using SmartMaintenance.Streams.Testing;
using Xunit;

namespace SmartMaintenance.Streams.Observability.Tests;

/// <summary>
/// The observed system, in process: embedded Kafka broker, throwaway PostgreSQL, the engine and the notifier with
/// their HTTP endpoints on free loopback ports, fed by the simulator (anomalies and malformed records), and a real
/// Prometheus scraping both every second with the repository's rules loaded.
/// </summary>
public sealed class StackFixture : IAsyncLifetime
{
    private readonly CancellationTokenSource _stop = new();
    private readonly StringWriter _console = new();
    private Task? _engineRun;
    private Task? _notifierRun;
    private RetryingSink? _sink;
    private NpgsqlDataSource? _notifierData;
    private KafkaDeadLetterSink? _notifierDlq;

    public KafkaFixture Kafka { get; } = new();
    public PostgresFixture Postgres { get; } = new();
    public string Database { get; private set; } = "";
    public StreamEngine Engine { get; private set; } = null!;
    public KafkaOptions KafkaOptions { get; private set; } = null!;
    public ObservabilityServer EngineEndpoint { get; private set; } = null!;
    public ObservabilityServer NotifierEndpoint { get; private set; } = null!;
    internal PrometheusServer Prometheus { get; private set; } = null!;
    public SimulationSummary Sent { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await Kafka.InitializeAsync();
        await Postgres.InitializeAsync();
        Database = await Postgres.CreateDatabaseAsync();
        var topics = new TopicNames
        {
            Readings = Kafka.CreateUniqueTopic("obs-readings", 6),
            ReadingsDlq = Kafka.CreateUniqueTopic("obs-readings-dlq", 2),
            Alerts = Kafka.CreateUniqueTopic("obs-alerts", 2),
            AlertsDlq = Kafka.CreateUniqueTopic("obs-alerts-dlq", 1),
        };
        // Lag statistics every second instead of every 5 s, so the short run has several samples.
        KafkaOptions = Kafka.Options;
        KafkaOptions.Client["statistics.interval.ms"] = "1000";

        var storage = new StorageOptions { ConnectionString = Database, BatchMaxDelay = TimeSpan.FromMilliseconds(100) };
        _sink = new RetryingSink(new PostgresSink(storage), storage);
        Engine = new StreamEngine(new EngineOptions { ConsumerGroup = "obs-engine-" + Guid.NewGuid().ToString("N")[..8] }, storage, KafkaOptions, topics,
            new ValidationOptions(), _sink, new PipelineStages(new RxWindowStage(Windows()), new DetectorPipeline(new ScoringOptions()), new AlertTracker(new AlertOptions())));
        var engineHttp = new HttpOptions { Listen = "127.0.0.1:0", SensorSilentAfter = TimeSpan.FromMinutes(5) };
        EngineEndpoint = await ObservabilityServer.StartAsync("engine", engineHttp, EngineHealth.Checks(Engine, KafkaOptions, topics.Readings, Database, engineHttp));
        _engineRun = Engine.RunAsync(_stop.Token);

        var notifier = new NotifierOptions
        {
            BootstrapServers = Kafka.BootstrapServers,
            ConnectionString = Database,
            GroupId = "obs-notifier-" + Guid.NewGuid().ToString("N")[..8],
            Topic = topics.Alerts,
            DlqTopic = topics.AlertsDlq,
            Channels = { ["console"] = new ChannelOptions { Type = ChannelTypes.Console } },
            Routes = { new RouteOptions { Name = "everything", Channels = ["console"] } },
        };
        notifier.Validate();
        _notifierData = NpgsqlDataSource.Create(Database);
        _notifierDlq = new KafkaDeadLetterSink(NotifierService.ProducerConfig(notifier), notifier.DlqTopic);
        var dispatcher = new AlertDispatcher(notifier, AlertDispatcher.CreateChannels(notifier, TextWriter.Synchronized(_console)),
            new PostgresDeliveryLog(_notifierData), _notifierDlq, NullLogger.Instance);
        var notifierHttp = new HttpOptions { Listen = "127.0.0.1:0" };
        NotifierEndpoint = await ObservabilityServer.StartAsync("notifier", notifierHttp, NotifierHealth.Checks(notifier, notifierHttp));
        _notifierRun = new NotifierService(notifier, dispatcher, NullLogger.Instance).RunAsync(_stop.Token);

        Prometheus = await PrometheusServer.StartAsync(new Dictionary<string, Uri>
        {
            ["smstream-engine"] = EngineEndpoint.BaseAddress,
            ["smstream-notifier"] = NotifierEndpoint.BaseAddress,
        });

        Sent = await SensorSimulator.RunAsync(new SimulatorOptions
        {
            Sensors = 40,
            Rate = 2000,
            Duration = TimeSpan.FromSeconds(8),
            AnomalyRate = 0.02,
            BadRate = 0.01,
            Topic = topics.Readings,
            Seed = 11,
        }, KafkaOptions);

        await WaitUntil(() => Engine.Counters.Stored + Engine.Counters.RejectedTotal >= Sent.Readings, TimeSpan.FromSeconds(90), "the engine to store or dead-letter every reading");
        await WaitUntil(() => Engine.Counters.AlertsPublished > 0 && _console.ToString().Length > 0, TimeSpan.FromSeconds(30), "an alert to be delivered");
        await WaitUntil(() => Engine.Probe.SinceLastStatistics is not null, TimeSpan.FromSeconds(30), "librdkafka statistics (consumer lag)");
        // Several scrapes and rule evaluations after the data arrived.
        await Prometheus.WaitForAsync("count_over_time(smstream_sensors_active[1m])", v => v >= 5, TimeSpan.FromSeconds(30));
    }

    /// <summary>Windows that fire within the short run: 2 s tumbling (on time and final) and 1 min with early firings.</summary>
    private static WindowingSettings Windows() => new()
    {
        MaxOutOfOrderness = TimeSpan.FromMilliseconds(500),
        Specs =
        {
            new WindowSpecSettings { Kind = "tumbling", Size = TimeSpan.FromSeconds(2), AllowedLateness = TimeSpan.FromSeconds(1) },
            new WindowSpecSettings { Kind = "tumbling", Size = TimeSpan.FromMinutes(1), EarlyEveryReadings = 20 },
        },
    };

    private async Task WaitUntil(Func<bool> condition, TimeSpan timeout, string what)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            if (_engineRun is { IsCompleted: true })
            {
                await _engineRun;
                throw new InvalidOperationException("the engine stopped while waiting for " + what);
            }
            if (sw.Elapsed > timeout)
            {
                throw new TimeoutException($"timed out after {timeout} waiting for {what} (stored {Engine.Counters.Stored}, rejected {Engine.Counters.RejectedTotal}, sent {Sent?.Readings}, alerts {Engine.Counters.AlertsPublished})");
            }
            await Task.Delay(100);
        }
    }

    public async Task DisposeAsync()
    {
        await _stop.CancelAsync();
        foreach (var run in new[] { _engineRun, _notifierRun })
        {
            if (run is not null)
            {
                try
                {
                    await run;
                }
                catch (OperationCanceledException)
                {
                }
            }
        }
        if (Prometheus is not null)
        {
            await Prometheus.DisposeAsync();
        }
        if (EngineEndpoint is not null)
        {
            await EngineEndpoint.DisposeAsync();
        }
        if (NotifierEndpoint is not null)
        {
            await NotifierEndpoint.DisposeAsync();
        }
        _notifierDlq?.Dispose();
        if (_notifierData is not null)
        {
            await _notifierData.DisposeAsync();
        }
        if (_sink is not null)
        {
            await _sink.DisposeAsync();
        }
        await Postgres.DisposeAsync();
        await Kafka.DisposeAsync();
        _stop.Dispose();
        _console.Dispose();
    }
}
