using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Confluent.Kafka;
using Npgsql;
using SmartMaintenance.Streams.Alerting;
using SmartMaintenance.Streams.Contracts;
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
/// Records at, just over and far over every size limit on the dead-letter path — the engine's
/// Validation:MaxMessageBytes, the DLQ producer's message.max.bytes, and a broker (or DLQ topic) refusing the size —
/// each followed by a restart: the engine never stops, every record ends in exactly one place (stored, or one DLQ
/// record, cut to fit with the original's size and SHA-256 when needed), and the offset moves on.
/// </summary>
[Collection(ServicesCollection.Name)]
public sealed class OversizeDeadLetterTests(KafkaFixture kafka, PostgresFixture postgres)
{
    private const int EngineLimit = 1024 * 1024;   // Validation:MaxMessageBytes default
    private const int ProducerLimit = 1_000_000;   // librdkafka's message.max.bytes default, the engine's DLQ producer

    [Fact]
    public async Task Records_over_any_size_limit_are_dead_lettered_cut_to_fit_and_the_engine_keeps_running()
    {
        var input = kafka.CreateUniqueTopic("big-readings", 1);
        var dlq = kafka.CreateUniqueTopic("big-readings-dlq", 1);
        var alerts = kafka.CreateUniqueTopic("big-alerts", 1);
        var group = "big-" + Guid.NewGuid().ToString("N")[..8];
        var db = await postgres.CreateDatabaseAsync();
        using var producer = kafka.CreateProducer(c => c.MessageMaxBytes = 8_000_000);

        // (value, expected reason or null when stored, value cut to fit, broker refuses the size)
        var cases = new List<(byte[] Value, string? Reason, bool Cut, bool BrokerRefuses)>
        {
            (Valid(EngineLimit), null, false, false),                          // valid, exactly at the engine's limit: stored
            (Malformed(ProducerLimit - 4096), "malformed_json", false, false), // fits the DLQ producer whole
            (Malformed(ProducerLimit), "malformed_json", true, false),         // at the producer's limit: framing makes it too big
            (Malformed(EngineLimit), "malformed_json", true, false),           // at the engine's limit, over the producer's
            (Malformed(EngineLimit + 1), "too_large", true, false),            // just over the engine's limit
            (Malformed(3 * EngineLimit), "too_large", true, false),            // far over
            (Malformed(2_000), "malformed_json", true, true),                  // small, but the broker refuses its size
        };
        var dlqCount = 0;
        for (var i = 0; i < cases.Count; i++)
        {
            var (value, reason, cut, refuses) = cases[i];
            var headers = new Headers { { "origin", Encoding.ASCII.GetBytes(i.ToString(CultureInfo.InvariantCulture)) } };
            var sent = await producer.ProduceAsync(input, new Message<byte[], byte[]> { Key = Encoding.ASCII.GetBytes("big-" + i), Value = value, Headers = headers });
            if (refuses)
            {
                // The broker refuses the engine's next produce request as too large (as one with a lower
                // message.max.bytes, or a DLQ topic with a lower max.message.bytes, does).
                kafka.Broker.PushRequestErrors(0, ErrorCode.MsgSizeTooLarge);
            }
            var counters = await RunEngineUntilAsync(input, dlq, alerts, group, db, consumed: 1);
            Assert.Equal(reason is null ? 1 : 0, counters.Stored);
            Assert.Equal(reason is null ? 0 : 1, counters.RejectedTotal);

            // The offset of record moved past the record, whatever its fate.
            await using (var conn = new NpgsqlConnection(db))
            {
                await conn.OpenAsync();
                await using var cmd = new NpgsqlCommand($"SELECT next_offset FROM stream_offsets WHERE consumer_group = '{group}' AND topic = '{input}'", conn);
                Assert.Equal(sent.Offset.Value + 1, (long)(await cmd.ExecuteScalarAsync())!);
            }
            if (reason is null)
            {
                continue;
            }
            dlqCount++;
            var records = await kafka.ConsumeAsync(dlq, dlqCount);
            Assert.Equal(dlqCount, records.Count);
            var r = records[^1];
            Assert.Equal(i.ToString(CultureInfo.InvariantCulture), r.Header("origin"));
            Assert.Equal(reason, r.Header(DlqHeaders.Reason));
            Assert.Equal(input, r.Header(DlqHeaders.SourceTopic));
            Assert.Equal(sent.Offset.Value.ToString(CultureInfo.InvariantCulture), r.Header(DlqHeaders.SourceOffset));
            Assert.Equal("big-" + i, r.KeyText);
            if (!cut)
            {
                Assert.Equal(value, r.Value);
                Assert.Null(r.Header(DlqHeaders.Truncated));
                continue;
            }
            Assert.Equal(value.Length.ToString(CultureInfo.InvariantCulture), r.Header(DlqHeaders.OriginalSize));
            Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(value)), r.Header(DlqHeaders.OriginalSha256));
            Assert.Equal(r.Value.Length.ToString(CultureInfo.InvariantCulture), r.Header(DlqHeaders.Truncated));
            Assert.True(r.Value.Length < ProducerLimit, $"case {i}: {r.Value.Length} bytes kept");
            Assert.Equal(value.AsSpan(0, r.Value.Length).ToArray(), r.Value);
            if (refuses)
            {
                Assert.Empty(r.Value);
            }
            else
            {
                Assert.True(r.Value.Length > ProducerLimit / 2, $"case {i}: only {r.Value.Length} bytes kept");
            }
        }
        // The restarts dead-lettered nothing twice.
        Assert.Equal(dlqCount, (await kafka.ConsumeAllAsync(dlq)).Count);
    }

    private async Task<EngineCounters> RunEngineUntilAsync(string input, string dlq, string alerts, string group, string db, int consumed)
    {
        var storage = new StorageOptions { ConnectionString = db, BatchMaxDelay = TimeSpan.FromMilliseconds(50) };
        await using var sink = new PostgresSink(storage);
        var stages = new PipelineStages(new RxWindowStage(new WindowingSettings()), new DetectorPipeline(new ScoringOptions()), new AlertTracker(new AlertOptions()));
        var engine = new StreamEngine(new EngineOptions { ConsumerGroup = group }, storage, kafka.Options,
            new TopicNames { Readings = input, ReadingsDlq = dlq, Alerts = alerts }, new ValidationOptions(), [sink], stages);
        using var cts = new CancellationTokenSource();
        var run = engine.RunAsync(cts.Token);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        while (engine.Counters.Stored + engine.Counters.RejectedTotal < consumed)
        {
            if (run.IsCompleted)
            {
                await run;
                Assert.Fail("the engine stopped");
            }
            Assert.True(DateTime.UtcNow < deadline, "the engine did not take the record within 90 s");
            await Task.Delay(50);
        }
        await cts.CancelAsync();
        await run; // a fatal producer error would surface here
        return engine.Counters;
    }

    /// <summary>A valid reading padded (by an unknown field, which readers ignore) to exactly <paramref name="size"/> bytes.</summary>
    private static byte[] Valid(int size)
    {
        var head = $$"""{"sensor_id":"big.s1","ts":"{{DateTimeOffset.UtcNow:O}}","value":1.5,"pad":"x""";
        const string Tail = "\"}";
        return Encoding.ASCII.GetBytes(head + new string('x', size - head.Length - Tail.Length) + Tail);
    }

    /// <summary>Not JSON: exactly <paramref name="size"/> printable bytes in a repeating pattern.</summary>
    private static byte[] Malformed(int size)
    {
        var bytes = new byte[size];
        for (var i = 0; i < size; i++)
        {
            bytes[i] = (byte)('!' + (i % 90));
        }
        return bytes;
    }
}
