using Npgsql;
using SmartMaintenance.Streams.Testing;
using Xunit;

namespace SmartMaintenance.Streams.Storage.Tests;

[Collection(PostgresFixture.Collection)]
public sealed class RetryTests(PostgresFixture fx)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task A_backend_terminated_during_a_write_is_retried_and_the_batch_committed_once()
    {
        var cs = await fx.CreateDatabaseAsync();
        var options = TestData.Options(cs);
        options.ApplicationName = "victim-writer";
        var inner = new PostgresSink(options);
        await using var sink = new RetryingSink(inner, options);
        var retries = 0;
        sink.Retrying += (_, e) => { Assert.True(e.Error.IsTransient); Interlocked.Increment(ref retries); };
        var recovered = 0;
        sink.Recovered += (_, _) => Interlocked.Increment(ref recovered);
        var batch = new StorageBatch();
        TestData.AddReadings(batch, 0, 0, 20_000);

        // Hold the offsets table so the writer blocks inside its transaction, then kill its backend there.
        await using var locker = new NpgsqlConnection(cs + ";Pooling=false");
        await locker.OpenAsync();
        var tx = await locker.BeginTransactionAsync();
        await using (var lk = new NpgsqlCommand("LOCK TABLE stream_offsets IN EXCLUSIVE MODE", locker, tx))
        {
            await lk.ExecuteNonQueryAsync();
        }
        var write = sink.WriteAsync(batch, default);
        var pid = await WaitForAsync(cs, "SELECT pid FROM pg_stat_activity WHERE application_name = 'victim-writer' AND wait_event_type = 'Lock'");
        await TestData.ExecAsync(cs, $"SELECT pg_terminate_backend({pid})");
        await WaitUntilAsync(() => Volatile.Read(ref retries) > 0);
        await tx.RollbackAsync();

        await write.WaitAsync(Patience);

        Assert.True(retries >= 1);
        Assert.Equal(1, recovered);
        Assert.False(sink.IsRetrying);
        Assert.Equal(1, inner.BatchesCommitted);
        Assert.Equal(20_000L, await TestData.ScalarAsync<long>(cs, "SELECT count(*) FROM readings"));
        Assert.Equal(20_000L, await TestData.ScalarAsync<long>(cs, "SELECT count(DISTINCT kafka_offset) FROM readings"));
        Assert.Equal(20_000L, await TestData.ScalarAsync<long>(cs, "SELECT next_offset FROM stream_offsets"));
    }

    [Fact]
    public async Task Writes_during_a_database_outage_retry_until_it_is_back_and_commit_exactly_once()
    {
        var cs = await fx.CreateDatabaseAsync();
        var options = TestData.Options(cs);
        var inner = new PostgresSink(options);
        await using var sink = new RetryingSink(inner, options);
        var batch = new StorageBatch();
        TestData.AddReadings(batch, 1, 0, 5_000);
        await sink.WriteAsync(batch, default);

        await fx.Cluster.StopAsync();
        Task write;
        try
        {
            batch.Clear();
            TestData.AddReadings(batch, 1, 5_000, 5_000);
            write = sink.WriteAsync(batch, default);
            await WaitUntilAsync(() => sink.IsRetrying);
            await Task.Delay(TimeSpan.FromSeconds(2));
            Assert.False(write.IsCompleted);
            Assert.True(sink.RetryCount >= 1);
        }
        finally
        {
            await fx.Cluster.StartAsync();
        }

        await write.WaitAsync(Patience);

        Assert.False(sink.IsRetrying);
        Assert.Equal(2, inner.BatchesCommitted);
        Assert.Equal(10_000L, await TestData.ScalarAsync<long>(cs, "SELECT count(*) FROM readings"));
        Assert.Equal(10_000L, await TestData.ScalarAsync<long>(cs, "SELECT count(DISTINCT kafka_offset) FROM readings"));
        Assert.Equal(10_000L, await TestData.ScalarAsync<long>(cs, "SELECT next_offset FROM stream_offsets WHERE partition = 1"));
    }

    [Fact]
    public async Task A_bounded_retry_gives_up_with_the_transient_error()
    {
        var options = TestData.Options("Host=127.0.0.1;Port=1;Username=postgres;Database=postgres;Timeout=2");
        options.RetryMaxAttempts = 2;
        await using var sink = new RetryingSink(new PostgresSink(options), options);
        var batch = new StorageBatch();
        TestData.AddReadings(batch, 0, 0, 1);

        var error = await Assert.ThrowsAsync<StorageException>(() => sink.WriteAsync(batch, default));

        Assert.True(error.IsTransient);
        Assert.Equal(2, sink.RetryCount);
        Assert.False(sink.IsRetrying);
    }

    private static async Task<int> WaitForAsync(string cs, string sql)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (DateTime.UtcNow < deadline)
        {
            await using var conn = new NpgsqlConnection(cs + ";Pooling=false");
            await conn.OpenAsync();
            await using var cmd = new NpgsqlCommand(sql, conn);
            if (await cmd.ExecuteScalarAsync() is int pid)
            {
                return pid;
            }
            await Task.Delay(50);
        }
        throw new TimeoutException($"Nothing matched: {sql}");
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("Condition not reached.");
            }
            await Task.Delay(20);
        }
    }
}
