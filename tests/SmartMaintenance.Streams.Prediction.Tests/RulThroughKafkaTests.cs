using System.Diagnostics;
using System.Globalization;
using System.Text;
using Npgsql;
using SmartMaintenance.Streams.Alerting;
using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Engine;
using SmartMaintenance.Streams.Engine.Stages;
using SmartMaintenance.Streams.Ingest;
using SmartMaintenance.Streams.Kafka;
using SmartMaintenance.Streams.Prediction.Cmapss;
using SmartMaintenance.Streams.Prediction.Rul;
using SmartMaintenance.Streams.Prediction.Stream;
using SmartMaintenance.Streams.Scoring;
using SmartMaintenance.Streams.Storage;
using SmartMaintenance.Streams.Testing;
using SmartMaintenance.Streams.Windowing;
using Xunit;

namespace SmartMaintenance.Streams.Prediction.Tests;

/// <summary>The engine estimates RUL with exactly the code `smstream eval cmapss` replays offline.</summary>
[Collection(ServicesCollection.Name)]
public sealed class RulThroughKafkaTests(KafkaFixture kafka, PostgresFixture postgres, TrainedModelFixture fixture)
{
    private const double Horizon = 30;

    [Fact]
    public async Task Engines_replayed_through_Kafka_get_the_offline_estimates_stored_and_predicted_failure_alerts()
    {
        // Run-to-failure engines the fixture's model did not learn from: their estimates fall into the horizon.
        var units = fixture.Train.Skip(80).Take(3).ToList();
        var readings = new CmapssReadings("kafka", CmapssEvaluator.ReplayStart, TimeSpan.FromMinutes(1));

        // Offline: every estimate, through the predictor alone.
        var offline = new RulPredictor(fixture.Model);
        var expected = new SortedDictionary<string, double>(StringComparer.Ordinal);
        var expectAlerts = new SortedSet<string>(StringComparer.Ordinal);
        var batch = new List<SensorReading>();
        var messages = new List<TestMessage>();
        var total = 0;
        // Cycle by cycle across engines, one envelope per engine cycle, keyed by asset: the asset's channels stay together.
        for (var c = 0; c < units.Max(u => u.Cycles); c++)
        {
            foreach (var u in units.Where(u => c < u.Cycles))
            {
                batch.Clear();
                readings.Cycle(u.Unit, u.Rows[c], batch);
                foreach (var r in batch)
                {
                    if (offline.OnReading(r, out var e))
                    {
                        expected[Key(e.AssetId, e.Cycle)] = e.Rul;
                        if (e.Lower < Horizon)
                        {
                            expectAlerts.Add(e.AssetId);
                        }
                    }
                }
                messages.Add(TestMessage.Utf8(readings.AssetId(u.Unit), Envelope(batch)));
                total += batch.Count;
            }
        }
        Assert.NotEmpty(expectAlerts);

        var topics = (Input: kafka.CreateUniqueTopic("rul", 2), Dlq: kafka.CreateUniqueTopic("rul-dlq", 1), Alerts: kafka.CreateUniqueTopic("rul-alerts", 1));
        await kafka.ProduceAsync(topics.Input, messages);
        var db = await postgres.CreateDatabaseAsync();
        var storage = new StorageOptions { ConnectionString = db, BatchMaxDelay = TimeSpan.FromMilliseconds(100) };
        await using var sink = new PostgresSink(storage);
        await using var dataSource = NpgsqlDataSource.Create(db);
        var stages = new PredictionStages(
            new PipelineStages(new RxWindowStage(new WindowingSettings()), new DetectorPipeline(new ScoringOptions()), new AlertTracker(new AlertOptions())),
            new RulPredictor(fixture.Model), new PostgresRulEstimateStore(dataSource), new AlertTracker(new AlertOptions()), Horizon);
        var engine = new StreamEngine(new EngineOptions { ConsumerGroup = "rul-" + Guid.NewGuid().ToString("N")[..8] }, storage, kafka.Options,
            new TopicNames { Readings = topics.Input, ReadingsDlq = topics.Dlq, Alerts = topics.Alerts },
            new ValidationOptions { MaxPastAge = TimeSpan.FromDays(365 * 30) }, sink, stages);
        using var cts = new CancellationTokenSource();
        var run = engine.RunAsync(cts.Token);
        var sw = Stopwatch.StartNew();
        while (engine.Counters.Stored + engine.Counters.RejectedTotal < total)
        {
            Assert.False(run.IsCompleted, "engine stopped early");
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(120), "engine did not finish the engines in time");
            await Task.Delay(50);
        }
        await cts.CancelAsync();
        await run;
        Assert.Equal(total, engine.Counters.Stored);

        var actual = new SortedDictionary<string, double>(StringComparer.Ordinal);
        await using (var cmd = dataSource.CreateCommand("SELECT asset_id, cycle, rul, rul_lower, rul_upper, model_version FROM rul_estimates"))
        await using (var reader = await cmd.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                actual[Key(reader.GetString(0), reader.GetDouble(1))] = reader.GetDouble(2);
                Assert.True(reader.GetDouble(3) <= reader.GetDouble(2) && reader.GetDouble(2) <= reader.GetDouble(4));
                Assert.Equal(fixture.Model.Version, reader.GetInt32(5));
            }
        }
        Assert.Equal(expected, actual);

        // The final estimates are those `eval cmapss` writes for the same engines.
        var finals = CmapssEvaluator.FinalEstimates(units, fixture.Model, "kafka");
        Assert.All(finals, f => Assert.Equal(f.Rul, actual[Key(readings.AssetId(f.Unit), f.Cycles)]));

        var alerted = new SortedSet<string>(StringComparer.Ordinal);
        await using (var cmd = dataSource.CreateCommand("SELECT asset_id, sensor_id, payload::text FROM alerts WHERE detector = 'predicted_failure'"))
        await using (var reader = await cmd.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                alerted.Add(reader.GetString(0));
                Assert.Equal(reader.GetString(0) + PredictionStages.SensorSuffix, reader.GetString(1));
                Assert.Contains("\"rul_lower\"", reader.GetString(2), StringComparison.Ordinal);
                Assert.Contains("\"model_version\"", reader.GetString(2), StringComparison.Ordinal);
            }
        }
        Assert.Equal(expectAlerts, alerted);
    }

    private static string Key(string asset, double cycle) => string.Create(CultureInfo.InvariantCulture, $"{asset}#{cycle:0000}");

    private static string Envelope(List<SensorReading> cycle)
    {
        var sb = new StringBuilder("{\"readings\":[");
        for (var i = 0; i < cycle.Count; i++)
        {
            var r = cycle[i];
            sb.Append(i == 0 ? "" : ",").Append(CultureInfo.InvariantCulture,
                $"{{\"sensor_id\":\"{r.SensorId}\",\"ts\":{r.Timestamp},\"value\":{r.Value:R},\"asset_id\":\"{r.AssetId}\",\"sensor_type\":\"{r.SensorType}\"}}");
        }
        return sb.Append("]}").ToString();
    }
}
