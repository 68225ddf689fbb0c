using SmartMaintenance.Streams.Testing;
using Xunit;

namespace SmartMaintenance.Streams.Storage.Tests;

/// <summary>The readings COPY encoded ahead (<see cref="PostgresSink.Prepare"/>) and the commit held for the caller's
/// work (<see cref="IStorageSink.WriteAsync(StorageBatch, Task, CancellationToken)"/>).</summary>
[Collection(PostgresFixture.Collection)]
public sealed class PreparedWriteTests(PostgresFixture fx)
{
    private const string RowsDigestSql = """
        SELECT md5(string_agg(concat_ws('|', sensor_id, ts, value, asset_id, sensor_type, unit, quality, seq, attributes::text,
                                        kafka_partition, kafka_offset, kafka_index), ',' ORDER BY kafka_partition, kafka_offset))
        FROM readings
        """;

    [Fact]
    public async Task A_prepared_batch_of_several_chunks_stores_exactly_the_rows_a_write_time_encoding_stores()
    {
        var preparedDb = await fx.CreateDatabaseAsync();
        var plainDb = await fx.CreateDatabaseAsync();
        // ≈ 100 bytes per row: 8,000 rows are several 256 KiB chunks; a second partition, and a non-ASCII unit.
        var batch = new StorageBatch();
        TestData.AddReadings(batch, partition: 1, firstOffset: 0, count: 5000);
        TestData.AddReadings(batch, partition: 4, firstOffset: 70, count: 3000);
        batch.Readings[7] = batch.Readings[7] with { Unit = "°C", Attributes = """{"ß":[1,2]}""" };

        await using (var sink = new RetryingSink(new PostgresSink(TestData.Options(preparedDb)), TestData.Options(preparedDb)))
        {
            sink.Prepare(batch);
            await sink.WriteAsync(batch, Task.CompletedTask, default);
        }
        await using var plain = new PostgresSink(TestData.Options(plainDb));
        await plain.WriteAsync(batch, default);

        Assert.Equal(8000L, await TestData.ScalarAsync<long>(preparedDb, "SELECT count(*) FROM readings"));
        Assert.Equal(await TestData.ScalarAsync<string>(plainDb, RowsDigestSql), await TestData.ScalarAsync<string>(preparedDb, RowsDigestSql));
        Assert.Equal(0, plain.PreparedCopiesSent);
    }

    [Fact]
    public async Task The_prepared_copy_is_sent_when_it_fits_and_a_batch_whose_first_rows_are_stored_skips_them_instead()
    {
        var cs = await fx.CreateDatabaseAsync();
        await using var sink = new PostgresSink(TestData.Options(cs));
        var first = new StorageBatch();
        TestData.AddReadings(first, partition: 3, firstOffset: 0, count: 2000);
        sink.Prepare(first);
        await sink.WriteAsync(first, default);
        Assert.Equal(1, sink.PreparedCopiesSent);

        // Offsets 1000..2999: the first half is stored already (e.g. the retry of a commit that did succeed).
        var overlapping = new StorageBatch();
        TestData.AddReadings(overlapping, partition: 3, firstOffset: 1000, count: 2000);
        sink.Prepare(overlapping);
        await sink.WriteAsync(overlapping, default);

        Assert.Equal(1, sink.PreparedCopiesSent);
        Assert.Equal(1000, sink.ReadingsSkipped);
        Assert.Equal(3000L, await TestData.ScalarAsync<long>(cs, "SELECT count(*) FROM readings"));
        Assert.Equal(3000L, await TestData.ScalarAsync<long>(cs, "SELECT count(DISTINCT kafka_offset) FROM readings"));
    }

    [Fact]
    public async Task The_commit_waits_for_the_before_commit_task()
    {
        var cs = await fx.CreateDatabaseAsync();
        await using var sink = new PostgresSink(TestData.Options(cs));
        var batch = new StorageBatch();
        TestData.AddReadings(batch, partition: 0, firstOffset: 0, count: 500);
        var flushed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var write = sink.WriteAsync(batch, flushed.Task, default);
        // Everything but the commit is sent: the backend sits in its open transaction until the task completes.
        await WaitForIdleInTransactionAsync(cs);
        Assert.False(write.IsCompleted);
        Assert.Equal(0L, await TestData.ScalarAsync<long>(cs, "SELECT count(*) FROM readings"));

        flushed.SetResult();
        await write;
        Assert.Equal(500L, await TestData.ScalarAsync<long>(cs, "SELECT count(*) FROM readings"));
        Assert.Equal(500L, (await sink.LoadOffsetsAsync(TestData.Group, TestData.Topic, default))[0].NextOffset);
    }

    [Fact]
    public async Task A_failed_before_commit_task_rolls_the_batch_back_and_fails_the_write_with_its_own_error_unretried()
    {
        var cs = await fx.CreateDatabaseAsync();
        await using var sink = new RetryingSink(new PostgresSink(TestData.Options(cs)), TestData.Options(cs));
        var batch = new StorageBatch();
        TestData.AddReadings(batch, partition: 0, firstOffset: 0, count: 500);
        sink.Prepare(batch);

        // A timeout would be a transient storage error if it were classified as one; here it is the caller's own.
        var error = await Assert.ThrowsAsync<TimeoutException>(() => sink.WriteAsync(batch, Task.FromException(new TimeoutException("flush")), default));

        Assert.Equal("flush", error.Message);
        Assert.Equal(0, sink.RetryCount);
        Assert.Equal(0L, await TestData.ScalarAsync<long>(cs, "SELECT count(*) FROM readings"));
        Assert.Empty(await sink.LoadOffsetsAsync(TestData.Group, TestData.Topic, default));
        // The same batch goes through afterwards (encoded at write time: its prepared copy went with the failed attempt).
        await sink.WriteAsync(batch, Task.CompletedTask, default);
        Assert.Equal(500L, await TestData.ScalarAsync<long>(cs, "SELECT count(*) FROM readings"));
    }

    private static async Task WaitForIdleInTransactionAsync(string cs)
    {
        var database = new Npgsql.NpgsqlConnectionStringBuilder(cs).Database;
        var sql = $"SELECT count(*) FROM pg_stat_activity WHERE datname = '{database}' AND state = 'idle in transaction' AND query LIKE '%stream_offsets%'";
        // Bounded only so that a broken sink fails the test instead of hanging it; no timing is asserted.
        for (var i = 0; i < 3000; i++)
        {
            if (await TestData.ScalarAsync<long>(cs, sql) > 0)
            {
                return;
            }
            await Task.Delay(10);
        }
        Assert.Fail("the sink's transaction never reached its commit");
    }
}
