using System.Globalization;
using Npgsql;
using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Operations.Dlq;
using SmartMaintenance.Streams.Testing;
using Xunit;

namespace SmartMaintenance.Streams.Operations.Tests;

/// <summary>The claim protocol of <see cref="DlqReplayer"/> on the real broker and database, without the engine.</summary>
[Collection(ServicesCollection.Name)]
public sealed class ReplayLedgerTests(KafkaFixture kafka, PostgresFixture postgres)
{
    private async Task<(string Source, string Dlq)> DeadLetters(int count)
    {
        var source = kafka.CreateUniqueTopic("ledger-src", 2);
        var dlq = kafka.CreateUniqueTopic("ledger-dlq", 3);
        await kafka.ProduceAsync(dlq, Enumerable.Range(0, count).Select(i => TestMessage.Utf8($"k{i % 7}", $$"""{"sensor_id":"x-{{i}}","value":{{i}}}""",
            (DlqHeaders.Reason, "out_of_range"), (DlqHeaders.Detail, "test"), (DlqHeaders.SourceTopic, source),
            (DlqHeaders.SourcePartition, "0"), (DlqHeaders.SourceOffset, i.ToString(CultureInfo.InvariantCulture)), ("trace-id", "t" + i))));
        return (source, dlq);
    }

    private static DlqFilter OutOfRange => new() { Reasons = new HashSet<string>(StringComparer.Ordinal) { "out_of_range" } };

    [Fact]
    public async Task Concurrent_replays_publish_each_record_exactly_once()
    {
        const int n = 300;
        var (source, dlq) = await DeadLetters(n);
        await using var db = NpgsqlDataSource.Create(await postgres.CreateDatabaseAsync());
        var request = new ReplayRequest { DlqTopic = dlq, Filter = OutOfRange, BatchSize = 40 };
        var replays = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => Task.Run(() => new DlqReplayer(kafka.Options, new ReplayLedger(db)).ReplayAsync(request))));

        Assert.Equal(n, replays.Sum(r => r.Replayed));
        Assert.All(replays, r => Assert.Equal(n, r.Replayed + r.AlreadyReplayed));
        var published = await kafka.ConsumeAllAsync(source, idle: TimeSpan.FromSeconds(2));
        Assert.Equal(n, published.Count);
        Assert.Equal(n, published.Select(m => m.Header(DlqHeaders.ReplayedFrom)).Distinct().Count());
        // Original headers travel along; the DLQ's own are removed.
        Assert.All(published, m =>
        {
            Assert.StartsWith("t", m.Header("trace-id"), StringComparison.Ordinal);
            Assert.Null(m.Header(DlqHeaders.Reason));
            Assert.StartsWith("k", m.KeyText, StringComparison.Ordinal);
        });
    }

    [Fact]
    public async Task A_claim_left_by_a_crash_blocks_the_record_until_replayed_with_force()
    {
        var (source, dlq) = await DeadLetters(5);
        await using var db = NpgsqlDataSource.Create(await postgres.CreateDatabaseAsync());
        // A replay that crashed after committing its claim of dlq partition/offset (0..2, 0) and before producing.
        var records = new DlqReader(kafka.Options).Read(dlq).ToList();
        var crashed = records[0];
        await using (var cmd = db.CreateCommand("INSERT INTO dlq_replays (topic, partition, kafka_offset, kafka_index) VALUES ($1, $2, $3, 0)"))
        {
            cmd.Parameters.Add(new NpgsqlParameter { Value = dlq });
            cmd.Parameters.Add(new NpgsqlParameter { Value = crashed.Partition });
            cmd.Parameters.Add(new NpgsqlParameter { Value = crashed.Offset });
            await cmd.ExecuteNonQueryAsync();
        }
        var replayer = new DlqReplayer(kafka.Options, new ReplayLedger(db));

        var first = await replayer.ReplayAsync(new ReplayRequest { DlqTopic = dlq, Filter = OutOfRange });
        Assert.Equal(4, first.Replayed);
        Assert.Equal(1, first.AlreadyReplayed);

        var published = await kafka.ConsumeAllAsync(source, idle: TimeSpan.FromSeconds(2));
        Assert.DoesNotContain(published, m => m.Header(DlqHeaders.ReplayedFrom) == crashed.Coordinates);

        // --force ignores every claim of the selection, so in practice it is narrowed (--since, --reason) to the crashed batch.
        var forced = await replayer.ReplayAsync(new ReplayRequest { DlqTopic = dlq, Filter = OutOfRange, Force = true });
        Assert.Equal(5, forced.Replayed);
        published = await kafka.ConsumeAllAsync(source, idle: TimeSpan.FromSeconds(2));
        Assert.Equal(9, published.Count);
        Assert.Single(published, m => m.Header(DlqHeaders.ReplayedFrom) == crashed.Coordinates);
    }

    [Fact]
    public async Task Dry_run_claims_and_publishes_nothing()
    {
        var (source, dlq) = await DeadLetters(10);
        await using var db = NpgsqlDataSource.Create(await postgres.CreateDatabaseAsync());
        var report = await new DlqReplayer(kafka.Options, new ReplayLedger(db)).ReplayAsync(new ReplayRequest { DlqTopic = dlq, Filter = OutOfRange, DryRun = true });
        Assert.Equal(10, report.Replayed);
        Assert.Equal(source, Assert.Single(report.ByTarget).Key);
        await using var cmd = db.CreateCommand("SELECT count(*) FROM dlq_replays");
        Assert.Equal(0L, (long)(await cmd.ExecuteScalarAsync())!);
        Assert.Empty(await kafka.ConsumeAllAsync(source, idle: TimeSpan.FromSeconds(1)));
    }
}
