using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
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
using Xunit.Abstractions;

namespace SmartMaintenance.Streams.Reliability.Tests;

[Collection(ServicesCollection.Name)]
public sealed partial class HostileInputTests(KafkaFixture kafka, PostgresFixture postgres, ITestOutputHelper output)
{
    private static ValidationOptions Limits() => new()
    {
        MaxMessageBytes = HostileCorpus.MaxMessageBytes,
        MaxReadingsPerMessage = HostileCorpus.MaxReadingsPerMessage,
    };

    [Fact]
    public void Corpus_covers_every_hostile_kind_with_at_least_ten_thousand_messages()
    {
        var corpus = HostileCorpus.Generate(Scale.Hostile, Scale.Seed, DateTimeOffset.UtcNow);
        Assert.True(corpus.Count >= 10_000);
        var kinds = corpus.Select(c => c.Kind).ToHashSet();
        foreach (var kind in new[] { "random_bytes", "truncated_json", "wrong_type", "huge", "deep_nesting", "nan_infinity", "far_future",
                     "far_past", "unknown_fields", "empty_key", "duplicate", "oversized_envelope" })
        {
            Assert.Contains(kind, kinds);
        }
        Assert.Contains(corpus, c => c.Message.Value.Length > HostileCorpus.MaxMessageBytes);
    }

    [Fact]
    public void Decoder_gives_each_hostile_message_its_expected_reason()
    {
        var now = DateTimeOffset.UtcNow;
        var corpus = HostileCorpus.Generate(Scale.Hostile, Scale.Seed, now);
        var decoder = new ReadingDecoder(Limits());
        var readings = new List<SensorReading>();
        var rejects = new List<Rejection>();
        var wrong = new List<string>();
        foreach (var m in corpus.Where(c => c.Expected != "duplicate"))
        {
            readings.Clear();
            rejects.Clear();
            decoder.Decode(m.Message.Value, new SourcePosition(0, 0, 0), readings, rejects);
            var got = rejects.Count > 0 ? rejects[0].Reason.ToCode() : readings.Count == 1 ? HostileCorpus.Stored : "nothing";
            if (got != m.Expected || rejects.Count + readings.Count != 1)
            {
                wrong.Add($"{m.Kind} {m.Marker}: expected {m.Expected}, got {got} ({rejects.Count} rejects, {readings.Count} readings) " +
                          Encoding.UTF8.GetString(m.Message.Value.AsSpan(0, Math.Min(160, m.Message.Value.Length))));
            }
        }
        Assert.True(wrong.Count == 0, string.Join('\n', wrong.Take(20)));
    }

    [Fact]
    public async Task Engine_dead_letters_every_hostile_message_with_its_reason_never_crashes_and_its_counters_reconcile()
    {
        var corpus = HostileCorpus.Generate(Scale.Hostile, Scale.Seed, DateTimeOffset.UtcNow);
        var input = kafka.CreateUniqueTopic("hostile", 6);
        // The embedded broker keeps 5 MiB per partition and drops older batches: the DLQ (which carries each
        // original payload, huge ones included) gets a partition per MiB of corpus so nothing is dropped at full size.
        var corpusMiB = corpus.Sum(c => (long)c.Message.Value.Length + (c.Message.Key?.Length ?? 0)) >> 20;
        var dlqTopic = kafka.CreateUniqueTopic("hostile-dlq", (int)Math.Max(3, corpusMiB + 1));
        var alerts = kafka.CreateUniqueTopic("hostile-alerts", 1);
        var db = await postgres.CreateDatabaseAsync();
        await kafka.ProduceAsync(input, corpus.Select(c => c.Message));

        var storage = new StorageOptions { ConnectionString = db, BatchMaxDelay = TimeSpan.FromMilliseconds(100) };
        await using var sink = new PostgresSink(storage);
        var engine = new StreamEngine(new EngineOptions { ConsumerGroup = "hostile-" + Guid.NewGuid().ToString("N")[..8] }, storage, kafka.Options,
            new TopicNames { Readings = input, ReadingsDlq = dlqTopic, Alerts = alerts }, Limits(), sink,
            new PipelineStages(new RxWindowStage(new WindowingSettings()), new DetectorPipeline(new ScoringOptions()), new AlertTracker(new AlertOptions())));
        using var cts = new CancellationTokenSource();
        var run = engine.RunAsync(cts.Token);
        var expectedDlq = corpus.Count(c => c.Expected != HostileCorpus.Stored);
        var expectedStored = corpus.Count - expectedDlq;
        var sw = Stopwatch.StartNew();
        while (engine.Counters.Stored + engine.Counters.RejectedTotal < corpus.Count)
        {
            Assert.False(run.IsCompleted, "the engine stopped on hostile input: " + run.Exception?.GetBaseException().Message);
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(120), $"only {engine.Counters.Stored + engine.Counters.RejectedTotal} of {corpus.Count} outcomes after 120 s");
            await Task.Delay(100);
        }
        // Never crashed: still consuming after the last hostile message, and it stops cleanly.
        Assert.False(run.IsCompleted);
        await cts.CancelAsync();
        await run;

        var c = engine.Counters;
        output.WriteLine($"corpus {corpus.Count}: consumed {c.Messages}, stored {c.Stored}, dead-lettered {c.RejectedTotal}");
        Assert.Equal(corpus.Count, c.Messages);
        Assert.Equal(c.Readings, c.Stored + c.RejectedTotal);
        Assert.Equal(expectedStored, c.Stored);
        Assert.Equal(expectedDlq, c.RejectedTotal);

        // One by one: every DLQ record carries the expected reason for its marker; every stored reading is expected stored.
        var expected = corpus.GroupBy(m => m.Marker).ToDictionary(g => g.Key, g => g.Select(m => m.Expected).Order(StringComparer.Ordinal).ToList());
        var observed = new Dictionary<string, List<string>>();
        var dlq = await kafka.ConsumeAsync(dlqTopic, expectedDlq, TimeSpan.FromSeconds(60));
        foreach (var m in dlq)
        {
            Assert.Equal(input, m.Header(DlqHeaders.SourceTopic));
            Assert.False(string.IsNullOrEmpty(m.Header(DlqHeaders.Detail)));
            var marker = m.KeyText.Length > 0 ? m.KeyText : MarkerPattern().Match(m.ValueText).Value;
            Add(observed, marker, m.Header(DlqHeaders.Reason)!);
        }
        await using (var conn = new NpgsqlConnection(db))
        {
            await conn.OpenAsync();
            await using var cmd = new NpgsqlCommand("SELECT sensor_id FROM readings", conn);
            await using var reader = await cmd.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                Add(observed, reader.GetString(0), HostileCorpus.Stored);
            }
        }
        var mismatches = expected
            .Where(e => !observed.TryGetValue(e.Key, out var got) || !got.Order(StringComparer.Ordinal).SequenceEqual(e.Value))
            .Select(e => $"{e.Key}: expected [{string.Join(',', e.Value)}], got [{string.Join(',', observed.GetValueOrDefault(e.Key) ?? [])}]")
            .ToList();
        Assert.True(mismatches.Count == 0, $"{mismatches.Count} messages with the wrong fate:\n" + string.Join('\n', mismatches.Take(20)));
        Assert.Equal(expected.Count, observed.Count);
    }

    private static void Add(Dictionary<string, List<string>> map, string key, string value)
    {
        if (!map.TryGetValue(key, out var list))
        {
            map[key] = list = [];
        }
        list.Add(value);
    }

    [GeneratedRegex(@"h-\d+")]
    private static partial Regex MarkerPattern();
}
