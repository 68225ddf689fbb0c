using System.Globalization;
using System.Text;
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

namespace SmartMaintenance.Streams.Integration.Tests.Docs;

/// <summary>
/// One real engine run whose output the documentation examples are checked against: 8 sensors on 4 assets, one
/// reading every 10 s over the last 3 hours (so the 24-hour queries see them), spikes that open alerts (close to now,
/// so they are still open), and one invalid message per DLQ reason with headers of its own. Run once
/// per test process and shared by the doc-example tests.
/// </summary>
internal sealed class EngineWrittenData
{
    public const int Sensors = 8;
    public const int ReadingsPerSensor = 1_080;
    private static readonly SemaphoreSlim s_gate = new(1, 1);
    private static EngineWrittenData? s_data;

    private EngineWrittenData(string database, string readings, string dlq, string alerts, string group, IReadOnlyList<(TestMessage Message, string Reason)> invalid)
    {
        Database = database;
        ReadingsTopic = readings;
        DlqTopic = dlq;
        AlertsTopic = alerts;
        Group = group;
        Invalid = invalid;
    }

    public string Database { get; }
    public string ReadingsTopic { get; }
    public string DlqTopic { get; }
    public string AlertsTopic { get; }
    public string Group { get; }

    /// <summary>The invalid messages sent, each with its expected <c>dlq.reason</c>; each carries header <c>origin</c> = its index.</summary>
    public IReadOnlyList<(TestMessage Message, string Reason)> Invalid { get; }

    public static async Task<EngineWrittenData> GetAsync(KafkaFixture kafka, PostgresFixture postgres)
    {
        await s_gate.WaitAsync();
        try
        {
            return s_data ??= await RunAsync(kafka, postgres);
        }
        finally
        {
            s_gate.Release();
        }
    }

    private static async Task<EngineWrittenData> RunAsync(KafkaFixture kafka, PostgresFixture postgres)
    {
        // One input partition: the watermark never waits for an idle partition (Windows:IdleTimeout).
        var readings = kafka.CreateUniqueTopic("doc-readings", 1);
        var dlq = kafka.CreateUniqueTopic("doc-readings-dlq", 2);
        var alerts = kafka.CreateUniqueTopic("doc-alerts", 2);
        var group = "doc-engine-" + Guid.NewGuid().ToString("N")[..8];
        var db = await postgres.CreateDatabaseAsync();

        var messages = new List<TestMessage>(Sensors * ReadingsPerSensor + 16);
        var start = DateTimeOffset.UtcNow.AddSeconds(-10L * ReadingsPerSensor);
        var noise = new Random(19);
        for (var i = 0; i < ReadingsPerSensor; i++)
        {
            for (var s = 0; s < Sensors; s++)
            {
                var value = 50 + s + noise.NextDouble();
                // Spikes a minute before the end: their alerts are still open when the engine stops.
                if (i == ReadingsPerSensor - 6 && s % 2 == 0)
                {
                    value += 40;
                }
                var ts = start.AddSeconds(10 * i).ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture);
                var json = string.Create(CultureInfo.InvariantCulture,
                    $$"""{"sensor_id":"pump-{{s / 2}}.s{{s}}","asset_id":"pump-{{s / 2}}","ts":"{{ts}}","value":{{value:R}},"sensor_type":"temperature","unit":"C","seq":{{i}}}""");
                messages.Add(TestMessage.Utf8($"pump-{s / 2}.s{s}", json));
            }
        }
        var now = DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture);
        var invalid = new List<(TestMessage, string)>();
        (string? Key, string Json, string Reason)[] bad =
        [
            ("bad-0", """{"sensor_id":"bad","ts":""", "malformed_json"),
            (null, """{"ts":"2026-01-01T00:00:00Z","value":1}""", "missing_field"),
            ("bad-2", $$"""{"sensor_id":"bad","ts":"{{now}}","value":"NaN"}""", "non_finite_value"),
            ("bad-3", $$"""{"sensor_id":"bad","ts":"{{now}}","value":-500,"sensor_type":"temperature"}""", "out_of_range"),
            ("bad-4", $$"""{"sensor_id":"bad","ts":"{{DateTimeOffset.UtcNow.AddDays(2):O}}","value":1}""", "future_timestamp"),
            ("bad-5", $$"""{"sensor_id":"bad","ts":"{{now}}","value":"12"}""", "invalid_field"),
            ("gw-1", $$"""{"readings":[{"sensor_id":"gw.ok","ts":"{{now}}","value":1},{"sensor_id":"gw.bad","ts":"{{now}}"}]}""", "missing_field"),
        ];
        for (var i = 0; i < bad.Length; i++)
        {
            var m = TestMessage.Utf8(bad[i].Key, bad[i].Json, ("origin", i.ToString(CultureInfo.InvariantCulture)));
            invalid.Add((m, bad[i].Reason));
            messages.Add(m); // last: the envelope's valid reading is stamped now and would make older readings late
        }
        await kafka.ProduceAsync(readings, messages);

        var storage = new StorageOptions { ConnectionString = db, BatchMaxDelay = TimeSpan.FromMilliseconds(100) };
        await using var sink = new PostgresSink(storage);
        var stages = new PipelineStages(new RxWindowStage(new WindowingSettings()), new DetectorPipeline(new ScoringOptions()), new AlertTracker(new AlertOptions()));
        var engine = new StreamEngine(new EngineOptions { ConsumerGroup = group }, storage, kafka.Options,
            new TopicNames { Readings = readings, ReadingsDlq = dlq, Alerts = alerts }, new ValidationOptions(), [sink], stages);
        using var cts = new CancellationTokenSource();
        var run = engine.RunAsync(cts.Token);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(120);
        // Envelope: two readings in one message, so records consumed = messages; outcomes = readings + rejects.
        while (engine.Counters.Stored + engine.Counters.RejectedTotal < messages.Count + 1)
        {
            if (run.IsCompleted)
            {
                await run;
                throw new InvalidOperationException("the engine stopped before consuming the input");
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"engine: {engine.Counters.Stored} stored + {engine.Counters.RejectedTotal} rejected of {messages.Count + 1}");
            }
            await Task.Delay(100);
        }
        await cts.CancelAsync();
        await run;
        return new EngineWrittenData(db, readings, dlq, alerts, group, invalid);
    }

    public static async Task<T> ScalarAsync<T>(NpgsqlConnection conn, string sql)
    {
        await using var cmd = new NpgsqlCommand(sql, conn);
        return (T)(await cmd.ExecuteScalarAsync())!;
    }

    public static string Text(byte[]? bytes) => bytes is null ? "" : Encoding.UTF8.GetString(bytes);
}
