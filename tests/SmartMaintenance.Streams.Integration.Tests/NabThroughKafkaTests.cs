using System.Diagnostics;
using System.Globalization;
using Npgsql;
using SmartMaintenance.Streams.Alerting;
using SmartMaintenance.Streams.Engine;
using SmartMaintenance.Streams.Engine.Stages;
using SmartMaintenance.Streams.Ingest;
using SmartMaintenance.Streams.Kafka;
using SmartMaintenance.Streams.Scoring;
using SmartMaintenance.Streams.Scoring.Nab;
using SmartMaintenance.Streams.Storage;
using SmartMaintenance.Streams.Testing;
using SmartMaintenance.Streams.Windowing;
using Xunit;

namespace SmartMaintenance.Streams.Integration.Tests;

/// <summary>The engine scores with exactly the detector code `smstream eval nab` replays offline.</summary>
[Collection(ServicesCollection.Name)]
public sealed class NabThroughKafkaTests(KafkaFixture kafka, PostgresFixture postgres)
{
    [Theory]
    [InlineData("artificialWithAnomaly/art_daily_jumpsup.csv")]
    [InlineData("realKnownCause/ambient_temperature_system_failure.csv")]
    public async Task Series_replayed_through_Kafka_and_the_engine_fires_the_same_detections_as_the_offline_replay(string file)
    {
        var root = RepositoryPaths.NabDev();
        var series = NabCorpus.Load(root).Single(s => s.Name == file);
        var options = new ScoringOptions();
        var (_, detectors, fired) = NabEvaluator.Replay(series, options);
        var expected = new SortedSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < fired.Length; i++)
        {
            if (fired[i])
            {
                expected.Add($"{series.Timestamps[i]}/{detectors[i]}");
            }
        }
        Assert.NotEmpty(expected);

        var topics = (Input: kafka.CreateUniqueTopic("nab", 1), Dlq: kafka.CreateUniqueTopic("nab-dlq", 1), Alerts: kafka.CreateUniqueTopic("nab-alerts", 1));
        var sensor = "nab-" + Path.GetFileNameWithoutExtension(file);
        await kafka.ProduceAsync(topics.Input, series.Values.Select((v, i) => TestMessage.Utf8(sensor, string.Create(CultureInfo.InvariantCulture,
            $$"""{"sensor_id":"{{sensor}}","ts":{{series.Timestamps[i]}},"value":{{v:R}}}"""))));

        var db = await postgres.CreateDatabaseAsync();
        var storage = new StorageOptions { ConnectionString = db, BatchMaxDelay = TimeSpan.FromMilliseconds(100) };
        await using var sink = new PostgresSink(storage);
        var stages = new PipelineStages(new RxWindowStage(new WindowingSettings()), new DetectorPipeline(options), new AlertTracker(new AlertOptions()));
        var engine = new StreamEngine(new EngineOptions { ConsumerGroup = "nab-" + Guid.NewGuid().ToString("N")[..8] }, storage, kafka.Options,
            new TopicNames { Readings = topics.Input, ReadingsDlq = topics.Dlq, Alerts = topics.Alerts },
            new ValidationOptions { MaxPastAge = TimeSpan.FromDays(365 * 30) }, sink, stages);
        using var cts = new CancellationTokenSource();
        var run = engine.RunAsync(cts.Token);
        var sw = Stopwatch.StartNew();
        while (engine.Counters.Stored + engine.Counters.RejectedTotal < series.Values.Length)
        {
            Assert.False(run.IsCompleted, "engine stopped early");
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(90), "engine did not finish the series in time");
            await Task.Delay(50);
        }
        await cts.CancelAsync();
        await run;

        Assert.Equal(series.Values.Length, engine.Counters.Stored);
        var actual = new SortedSet<string>(StringComparer.Ordinal);
        await using var conn = new NpgsqlConnection(db);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(
            "SELECT (extract(epoch FROM ts) * 1000)::bigint, detector FROM anomalies WHERE sensor_id = $1 AND detector NOT LIKE 'window/%'", conn);
        cmd.Parameters.Add(new NpgsqlParameter<string> { TypedValue = sensor });
        await using var reader = await cmd.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            actual.Add($"{reader.GetInt64(0)}/{reader.GetString(1)}");
        }
        Assert.Equal(expected, actual);
    }
}
