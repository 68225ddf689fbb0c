using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using SmartMaintenance.Streams.Testing;
using Xunit;

namespace SmartMaintenance.Streams.Operations.Tests;

[Collection(ServicesCollection.Name)]
public sealed class DlqRoundTripTests(KafkaFixture kafka, PostgresFixture postgres) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("smstream-dlq-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private const int Valid = 100;
    private const int Renamed = 8;      // "val" instead of "value": missing_field
    private const int Pascal = 6;       // pressure sent in Pa: out_of_range (0..2000 kPa)
    private const int Malformed = 4;    // 3 broken JSON + 1 binary: malformed_json, not fixable

    [Fact]
    public async Task Dead_lettered_readings_fixed_by_a_transform_are_stored_exactly_once_and_a_second_replay_is_a_no_op()
    {
        var topics = TestTopics.Create(kafka);
        var db = await postgres.CreateDatabaseAsync();
        var env = topics.Environment(kafka, db);
        var messages = new List<TestMessage>();
        messages.AddRange(Enumerable.Range(0, Valid).Select(i => Readings.Valid(i % 5, i)));
        // Later event times than every valid reading, so the replayed ones are not behind the watermark (late).
        messages.AddRange(Enumerable.Range(0, Renamed).Select(i => TestMessage.Utf8($"g-{i}",
            $$"""{"sensor_id":"g-{{i}}","ts":"{{Readings.Ts(2000 + i)}}","val":{{21.5 + i}},"sensor_type":"temperature","unit":"C"}""")));
        messages.AddRange(Enumerable.Range(0, Pascal).Select(i => TestMessage.Utf8($"p-{i}",
            $$"""{"sensor_id":"p-{{i}}","ts":"{{Readings.Ts(3000 + i)}}","value":{{250_000 + i * 1000}},"sensor_type":"pressure","unit":"Pa"}""")));
        messages.AddRange(Enumerable.Range(0, Malformed - 1).Select(i => TestMessage.Utf8("m", $$"""{"sensor_id":"m-{{i}}","ts":""")));
        messages.Add(new TestMessage(Encoding.UTF8.GetBytes("bin"), [0x00, 0xFF, 0xFE, 0x01, 0x7B]));
        await kafka.ProduceAsync(topics.Input, messages);

        await using var engine = new EngineHost(kafka, topics, db);
        await engine.WaitForOutcomes(messages.Count, "every record stored or dead-lettered");
        Assert.Equal(Valid, engine.Engine.Counters.Stored);

        // stats: counts per reason, nothing replayed yet.
        var (exit, stats, err) = await Cli.Run(env, "dlq", "stats", "--topic", "readings");
        Assert.True(exit == 0, err);
        AssertStatsRow(stats, "missing_field", Renamed, 0);
        AssertStatsRow(stats, "out_of_range", Pascal, 0);
        AssertStatsRow(stats, "malformed_json", Malformed, 0);
        Assert.Contains($"total: {Renamed + Pascal + Malformed} record(s)", stats, StringComparison.Ordinal);

        // inspect (json): reason, detail, source coordinates and the original payload.
        (exit, var json, err) = await Cli.Run(env, "dlq", "inspect", "--reason", "out_of_range", "--format", "json", "--limit", "100");
        Assert.True(exit == 0, err);
        using (var doc = JsonDocument.Parse(json))
        {
            var records = doc.RootElement.GetProperty("records").EnumerateArray().ToList();
            Assert.Equal(Pascal, records.Count);
            Assert.Equal(Pascal, doc.RootElement.GetProperty("matched").GetInt32());
            Assert.All(records, r =>
            {
                Assert.Equal("out_of_range", r.GetProperty("reason").GetString());
                Assert.False(string.IsNullOrEmpty(r.GetProperty("detail").GetString()));
                Assert.Equal(topics.Input, r.GetProperty("source").GetProperty("topic").GetString());
                Assert.InRange(r.GetProperty("source").GetProperty("partition").GetInt32(), 0, 2);
                Assert.Contains("\"unit\":\"Pa\"", r.GetProperty("value").GetString(), StringComparison.Ordinal);
            });
        }
        // inspect (table): binary payloads are shown as hex, never raw.
        (exit, var table, err) = await Cli.Run(env, "dlq", "inspect", "--reason", "malformed_json", "--max-bytes", "16");
        Assert.True(exit == 0, err);
        Assert.Contains("hex:00fffe017b", table, StringComparison.Ordinal);
        Assert.Contains($"{Malformed} of {Malformed} matching record(s)", table, StringComparison.Ordinal);
        Assert.DoesNotContain('\0', table);

        var transform = Path.Combine(_dir, "fix.json");
        await File.WriteAllTextAsync(transform, """
            {"description": "gateway firmware 2.3: 'val' for 'value'; pressure in Pa",
             "steps": [
               {"op": "rename", "field": "val", "to": "value"},
               {"op": "convert", "field": "value", "from": "Pa", "to": "kPa", "unit_field": "unit"}]}
            """);

        // Dry run: reports, claims nothing.
        (exit, var dry, err) = await Cli.Run(env, "dlq", "replay", "--reason", "missing_field,out_of_range", "--transform", transform, "--dry-run");
        Assert.True(exit == 0, err);
        Assert.Matches(@"would replay\s+14 → " + Regex.Escape(topics.Input) + ": 14", dry);
        Assert.Equal(0L, await Db.Scalar<long>(db, "SELECT count(*) FROM dlq_replays"));

        (exit, var replay, err) = await Cli.Run(env, "dlq", "replay", "--reason", "missing_field,out_of_range", "--transform", transform);
        Assert.True(exit == 0, err + replay);
        Assert.Matches(@"replayed\s+14 → " + Regex.Escape(topics.Input) + ": 14", replay);
        Assert.Matches(@"already replayed 0\b", replay);

        await Wait.UntilAsync(async () => await Db.Scalar<long>(db, "SELECT count(*) FROM readings") >= Valid + Renamed + Pascal, TimeSpan.FromSeconds(30), "fixed readings stored");
        Assert.Equal(Renamed + Pascal, await Db.Scalar<long>(db, $"SELECT count(*) FROM dlq_replays WHERE topic = '{topics.Dlq}'"));
        Assert.Equal(Renamed, await Db.Scalar<long>(db, "SELECT count(*) FROM readings WHERE sensor_id LIKE 'g-%'"));
        // 250000 Pa + i*1000 → 250 + i kPa.
        Assert.Equal(Enumerable.Range(0, Pascal).Sum(i => 250.0 + i), await Db.Scalar<double>(db, "SELECT sum(value) FROM readings WHERE sensor_id LIKE 'p-%'"), 6);

        // Second replay: every record is already claimed; nothing is published.
        (exit, replay, err) = await Cli.Run(env, "dlq", "replay", "--reason", "missing_field,out_of_range", "--transform", transform);
        Assert.True(exit == 0, err);
        Assert.Matches(@"replayed\s+0\b", replay);
        Assert.Matches(@"already replayed 14\b", replay);

        // Unfixable records replayed as they are go back to the DLQ with the same reason, never lost.
        (exit, replay, err) = await Cli.Run(env, "dlq", "replay", "--reason", "malformed_json");
        Assert.True(exit == 0, err);
        Assert.Matches(@"replayed\s+4\b", replay);
        var dlq = await kafka.ConsumeAsync(topics.Dlq, Renamed + Pascal + 2 * Malformed);
        var again = dlq.Where(m => m.Header("dlq.replayed.from") is not null).ToList();
        Assert.Equal(Malformed, again.Count);
        Assert.All(again, m => Assert.Equal("malformed_json", m.Header("dlq.reason")));
        Assert.All(again, m => Assert.StartsWith(topics.Dlq + "/", m.Header("dlq.replayed.from"), StringComparison.Ordinal));

        await engine.WaitForOutcomes(messages.Count + Renamed + Pascal + Malformed, "replayed records processed");
        await Task.Delay(500);
        Assert.Equal(Valid + Renamed + Pascal, await Db.Scalar<long>(db, "SELECT count(*) FROM readings"));
        Assert.Equal(0L, await Db.Scalar<long>(db, "SELECT count(*) FROM (SELECT 1 FROM readings GROUP BY sensor_id, ts HAVING count(*) > 1) d"));

        (exit, stats, err) = await Cli.Run(env, "dlq", "stats", "--topic", "readings");
        Assert.True(exit == 0, err);
        AssertStatsRow(stats, "missing_field", Renamed, Renamed);
        AssertStatsRow(stats, "out_of_range", Pascal, Pascal);
        AssertStatsRow(stats, "malformed_json", 2 * Malformed, Malformed);
    }

    [Fact]
    public async Task Replay_requires_a_reason_and_rejects_an_invalid_transform_naming_the_step()
    {
        var (exit, _, err) = await Cli.Run(null, "dlq", "replay", "--reason", "bogus");
        Assert.Equal(2, exit);
        Assert.Contains("--reason", err, StringComparison.Ordinal);

        var transform = Path.Combine(_dir, "bad.json");
        await File.WriteAllTextAsync(transform, """{"steps":[{"op":"rename","field":"a","to":"b"},{"op":"convert","field":"value","from":"degF","to":"bar"}]}""");
        (exit, _, err) = await Cli.Run(null, "dlq", "replay", "--reason", "out_of_range", "--transform", transform);
        Assert.Equal(2, exit);
        Assert.Contains("step 1", err, StringComparison.Ordinal);
    }

    private static void AssertStatsRow(string stats, string reason, int count, int replayed) =>
        Assert.Matches(new Regex($@"(?m)^\S+\s+{reason}\s+{count.ToString(CultureInfo.InvariantCulture)}\s+{replayed.ToString(CultureInfo.InvariantCulture)}\s+\d{{4}}-"), stats);
}
