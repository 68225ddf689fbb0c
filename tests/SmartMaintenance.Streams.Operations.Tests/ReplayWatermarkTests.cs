using System.Globalization;
using Npgsql;
using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Operations.Dlq;
using SmartMaintenance.Streams.Testing;
using Xunit;

namespace SmartMaintenance.Streams.Operations.Tests;

[Collection(ServicesCollection.Name)]
public sealed class ReplayWatermarkTests(KafkaFixture kafka, PostgresFixture postgres)
{
    [Fact]
    public async Task Readings_older_than_the_stored_watermark_are_counted_as_likely_late()
    {
        var source = kafka.CreateUniqueTopic("wm-src", 1);
        var dlq = kafka.CreateUniqueTopic("wm-dlq", 1);
        var watermark = DateTimeOffset.Parse("2026-11-25T12:00:00Z", CultureInfo.InvariantCulture);
        string[] payloads =
        [
            $$"""{"sensor_id":"a","ts":"{{watermark.AddMinutes(-10):O}}","value":1}""",
            $$"""{"sensor_id":"a","value":1,"ts":{{watermark.AddMinutes(-1).ToUnixTimeMilliseconds()}}}""",
            $$"""{"sensor_id":"a","ts":"{{watermark.AddMinutes(1):O}}","value":1}""",
            """{"sensor_id":"a","value":1}""",
        ];
        await kafka.ProduceAsync(dlq, payloads.Select(p => TestMessage.Utf8("a", p, (DlqHeaders.Reason, "out_of_range"), (DlqHeaders.SourceTopic, source))));
        await using var db = NpgsqlDataSource.Create(await postgres.CreateDatabaseAsync());
        await using (var cmd = db.CreateCommand("INSERT INTO stream_offsets (consumer_group, topic, partition, next_offset, replay_from, watermark) VALUES ('g', $1, 0, 10, 10, $2)"))
        {
            cmd.Parameters.Add(new NpgsqlParameter { Value = source });
            cmd.Parameters.Add(new NpgsqlParameter { Value = watermark.ToUnixTimeMilliseconds() });
            await cmd.ExecuteNonQueryAsync();
        }
        var filter = new DlqFilter { Reasons = new HashSet<string>(StringComparer.Ordinal) { "out_of_range" } };
        var report = await new DlqReplayer(kafka.Options, new ReplayLedger(db)).ReplayAsync(new ReplayRequest { DlqTopic = dlq, Filter = filter, DryRun = true });
        Assert.Equal(4, report.Replayed);
        Assert.Equal(2, report.BehindWatermark);
    }
}
