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

/// <summary>Offsets of record that cannot belong to the topic (stored by an earlier incarnation of it, or of another
/// cluster) stop the engine with a message saying what happened and how to choose, instead of waiting silently.</summary>
[Collection(ServicesCollection.Name)]
public sealed class StaleOffsetsTests(KafkaFixture kafka, PostgresFixture postgres)
{
    [Theory]
    [InlineData(0, 8_100L, "beyond its end 20")]
    [InlineData(5, 3L, "has no such partition")]
    public async Task Engine_refuses_to_start_on_offsets_the_topic_cannot_have(int partition, long stored, string expected)
    {
        var input = kafka.CreateUniqueTopic("stale-readings", 1);
        var group = "stale-" + Guid.NewGuid().ToString("N")[..8];
        var db = await postgres.CreateDatabaseAsync();
        await kafka.ProduceAsync(input, Enumerable.Range(0, 20).Select(i => ReadingFactory.ValidMessage(1, i)));
        await using (var conn = new NpgsqlConnection(db))
        {
            await conn.OpenAsync();
            // As an earlier broker's run left them: the demo against a kept database saw 8,100 per partition.
            await using var cmd = new NpgsqlCommand(
                $"INSERT INTO stream_offsets (consumer_group, topic, partition, next_offset, replay_from) VALUES ('{group}', '{input}', {partition}, {stored}, {stored})", conn);
            await cmd.ExecuteNonQueryAsync();
        }
        var storage = new StorageOptions { ConnectionString = db };
        await using var sink = new PostgresSink(storage);
        var engine = new StreamEngine(new EngineOptions { ConsumerGroup = group }, storage, kafka.Options,
            new TopicNames { Readings = input, ReadingsDlq = kafka.CreateUniqueTopic("stale-dlq", 1), Alerts = kafka.CreateUniqueTopic("stale-alerts", 1) },
            new ValidationOptions(), [sink],
            new PipelineStages(new RxWindowStage(new WindowingSettings()), new DetectorPipeline(new ScoringOptions()), new AlertTracker(new AlertOptions())));
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        var ex = await Assert.ThrowsAsync<StaleOffsetsException>(() => engine.RunAsync(cts.Token));

        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
        Assert.Contains("smstream db offsets reset", ex.Message, StringComparison.Ordinal);
        Assert.Equal(0, engine.Counters.Messages);
    }

    [Fact]
    public async Task Offsets_inside_the_topic_pass_the_check()
    {
        var input = kafka.CreateUniqueTopic("fresh-readings", 1);
        var db = await postgres.CreateDatabaseAsync();
        await kafka.ProduceAsync(input, Enumerable.Range(0, 5).Select(i => ReadingFactory.ValidMessage(1, i)));
        await using (var conn = new NpgsqlConnection(db))
        {
            await conn.OpenAsync();
            await using var cmd = new NpgsqlCommand($"INSERT INTO stream_offsets (consumer_group, topic, partition, next_offset, replay_from) VALUES ('g', '{input}', 0, 5, 2)", conn);
            await cmd.ExecuteNonQueryAsync();
        }
        Assert.Empty(await StoredOffsetCheck.FindAsync(db, "g", input, kafka.Options, CancellationToken.None));
    }

    [Fact]
    public async Task Offsets_reset_dry_run_changes_nothing_and_the_reset_moves_the_group_to_the_topic()
    {
        var input = kafka.CreateUniqueTopic("reset-readings", 2);
        var db = await postgres.CreateDatabaseAsync();
        await kafka.ProduceAsync(input, Enumerable.Range(0, 10).Select(i => ReadingFactory.ValidMessage(i, i)));
        await Exec(db, $"INSERT INTO stream_offsets (consumer_group, topic, partition, next_offset, replay_from) VALUES ('g', '{input}', 0, 8100, 8100), ('g', '{input}', 7, 5, 5)");
        string[] common = ["db", "offsets", "reset", "--database", db, "--bootstrap", kafka.BootstrapServers, "--group", "g", "--topic", input];

        var (exit, stdout, stderr) = await SmstreamCli.RunAsync(null, TimeSpan.FromSeconds(60), [.. common, "--to", "latest", "--dry-run"]);
        Assert.True(exit == 0, stderr + stdout);
        Assert.Contains($"{input}[0]: 8100 -> ", stdout, StringComparison.Ordinal);
        Assert.Contains($"{input}[7]: 5 -> removed", stdout, StringComparison.Ordinal);
        Assert.Single(await StoredOffsetCheck.FindAsync(db, "g", input, kafka.Options, CancellationToken.None), f => f.Kind == "beyond_end");

        (exit, stdout, stderr) = await SmstreamCli.RunAsync(null, TimeSpan.FromSeconds(60), [.. common, "--to", "earliest"]);
        Assert.True(exit == 0, stderr + stdout);
        Assert.Empty(await StoredOffsetCheck.FindAsync(db, "g", input, kafka.Options, CancellationToken.None));
        await using var conn = new NpgsqlConnection(db);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand($"SELECT string_agg(partition || ':' || next_offset, ',' ORDER BY partition) FROM stream_offsets WHERE consumer_group = 'g' AND topic = '{input}'", conn);
        Assert.Equal("0:0,1:0", (string)(await cmd.ExecuteScalarAsync())!);

        (exit, _, stderr) = await SmstreamCli.RunAsync(null, TimeSpan.FromSeconds(60), [.. common, "--to", "yesterday"]);
        Assert.Equal(2, exit);
        Assert.Contains("yesterday", stderr, StringComparison.Ordinal);
    }

    private static async Task Exec(string db, string sql)
    {
        await using var conn = new NpgsqlConnection(db);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, conn);
        await cmd.ExecuteNonQueryAsync();
    }
}
