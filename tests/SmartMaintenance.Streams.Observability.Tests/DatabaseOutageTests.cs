using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using SmartMaintenance.Streams.Alerting;
using SmartMaintenance.Streams.Engine;
using SmartMaintenance.Streams.Engine.Stages;
using SmartMaintenance.Streams.Ingest;
using SmartMaintenance.Streams.Kafka;
using SmartMaintenance.Streams.Scoring;
using SmartMaintenance.Streams.Storage;
using SmartMaintenance.Streams.Windowing;
using SmartMaintenance.Streams.Testing;
using Xunit;

namespace SmartMaintenance.Streams.Observability.Tests;

/// <summary>The failure side: a database that goes away makes the engine not ready and shows up in the error metrics
/// and in the dashboard panels that only have data during failures.</summary>
[Collection(StackCollection.Name)]
public sealed class DatabaseOutageTests(StackFixture stack)
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(20) };

    [Fact]
    public async Task Stopping_the_database_makes_the_engine_not_ready_and_fills_the_failure_panels()
    {
        var dataDir = Path.Combine(Path.GetTempPath(), $"smstream-obs-pg-{Guid.NewGuid():N}"[..36]);
        await using var cluster = new PostgresCluster(new PostgresClusterOptions { DataDirectory = dataDir, Port = 0 });
        var database = await cluster.StartAsync();
        var storage = new StorageOptions
        {
            ConnectionString = database,
            UseTimescaleDb = false,
            BatchMaxDelay = TimeSpan.FromMilliseconds(100),
            RetryBaseDelay = TimeSpan.FromMilliseconds(100),
            RetryMaxDelay = TimeSpan.FromMilliseconds(300),
            CommandTimeout = 5,
        };
        await SchemaMigrator.MigrateAsync(database, storage);

        var topics = new TopicNames
        {
            Readings = stack.Kafka.CreateUniqueTopic("outage-readings", 2),
            ReadingsDlq = stack.Kafka.CreateUniqueTopic("outage-dlq", 1),
            Alerts = stack.Kafka.CreateUniqueTopic("outage-alerts", 1),
        };
        await using var sink = new RetryingSink(new PostgresSink(storage), storage);
        var engine = new StreamEngine(new EngineOptions { ConsumerGroup = "outage-" + Guid.NewGuid().ToString("N")[..8], ShutdownTimeout = TimeSpan.FromSeconds(1) },
            storage, stack.KafkaOptions, topics, new ValidationOptions(), sink,
            new PipelineStages(new RxWindowStage(new WindowingSettings()), new DetectorPipeline(new ScoringOptions()), new AlertTracker(new AlertOptions())));
        var http = new HttpOptions { Listen = "127.0.0.1:0", CheckTimeout = TimeSpan.FromMilliseconds(700) };
        await using var endpoint = await ObservabilityServer.StartAsync("engine", http, EngineHealth.Checks(engine, stack.KafkaOptions, topics.Readings, database, http));
        await using var prometheus = await PrometheusServer.StartAsync(new Dictionary<string, Uri> { ["smstream-engine"] = endpoint.BaseAddress });
        using var stop = new CancellationTokenSource();
        var run = engine.RunAsync(stop.Token);
        try
        {
            await stack.Kafka.ProduceAsync(topics.Readings, Readings(0, 200));
            await WaitUntil(() => engine.Counters.Stored >= 200, TimeSpan.FromSeconds(60), run);
            var (status, _) = await Ready(endpoint);
            Assert.Equal(HttpStatusCode.OK, status);

            await cluster.StopAsync();
            await stack.Kafka.ProduceAsync(topics.Readings, Readings(200, 100));

            JsonElement body = default;
            await WaitUntilAsync(async () =>
            {
                (status, body) = await Ready(endpoint);
                return status == HttpStatusCode.ServiceUnavailable;
            }, TimeSpan.FromSeconds(30));
            Assert.Equal("not_ready", body.GetProperty("status").GetString());
            var database503 = body.GetProperty("checks").EnumerateArray().Single(c => c.GetProperty("name").GetString() == "database");
            Assert.False(database503.GetProperty("ok").GetBoolean());
            Assert.Equal(200, engine.Counters.Stored);

            // Prometheus sees the transient errors and the failing readiness check (evaluated at each scrape).
            await prometheus.WaitForAsync("sum(rate(smstream_db_errors_total{kind=\"transient\"}[15s]))", v => v > 0, TimeSpan.FromSeconds(30));
            await prometheus.WaitForAsync("min(smstream_ready{component=\"engine\", check=\"database\"})", v => v == 0, TimeSpan.FromSeconds(30));

            var failurePanels = Dashboards.Queries().Where(q => q.DatasourceUid == Dashboards.PrometheusUid && Dashboards.IsFailurePanel(q)).ToList();
            Assert.Contains(failurePanels, q => q.Panel == "Database errors by kind");
            foreach (var q in failurePanels)
            {
                var result = await prometheus.QueryAsync(Dashboards.ExpandPromQl(q.Query));
                Assert.True(result.Error is null, $"{q}: {result.Error}");
                Assert.True(result.Series.Count > 0, $"{q}: no series during the outage");
            }
            var storageErrors = failurePanels.Single(q => q.Panel == "Database errors by kind");
            var errors = await prometheus.QueryAsync(Dashboards.ExpandPromQl(storageErrors.Query));
            Assert.Contains(errors.Series, s => s.Labels["kind"] == "transient" && s.Value > 0);
            var retries = failurePanels.Single(q => q.Panel == "Retries");
            var retried = await prometheus.QueryAsync(Dashboards.ExpandPromQl(retries.Query));
            var raw = await prometheus.QueryAsync("smstream_db_retries_total");
            var rawErrors = await prometheus.QueryAsync("smstream_db_errors_total");
            Assert.True(retried.Series.Single().Value > 0, $"retries {retried.Series.Single().Value}; raw {string.Join(",", raw.Series.Select(s => s.Value))}; errors {string.Join(",", rawErrors.Series.Select(s => s.Labels["kind"] + "=" + s.Value))}");
        }
        finally
        {
            await stop.CancelAsync();
            try
            {
                await run;
            }
            catch (Exception ex) when (ex is OperationCanceledException or EngineFatalException)
            {
            }
            await cluster.DestroyAsync();
        }
    }

    private static async Task<(HttpStatusCode, JsonElement)> Ready(ObservabilityServer endpoint)
    {
        using var response = await Http.GetAsync(new Uri(endpoint.BaseAddress, "health/ready"));
        var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
        return (response.StatusCode, json);
    }

    private static IEnumerable<TestMessage> Readings(int from, int count)
    {
        var now = DateTimeOffset.UtcNow.AddMinutes(-1);
        for (var i = from; i < from + count; i++)
        {
            var sensor = "outage-" + (i % 5).ToString(CultureInfo.InvariantCulture);
            var ts = now.AddMilliseconds(i * 10).ToString("O", CultureInfo.InvariantCulture);
            yield return TestMessage.Utf8(sensor, $$"""{"sensor_id":"{{sensor}}","ts":"{{ts}}","value":{{(20 + i % 7).ToString(CultureInfo.InvariantCulture)}},"seq":{{i}}}""");
        }
    }

    private static async Task WaitUntil(Func<bool> condition, TimeSpan timeout, Task run)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            if (run.IsCompleted)
            {
                await run;
                throw new InvalidOperationException("the engine stopped");
            }
            Assert.True(sw.Elapsed < timeout, "timed out");
            await Task.Delay(100);
        }
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(sw.Elapsed < timeout, "timed out");
            await Task.Delay(200);
        }
    }
}
