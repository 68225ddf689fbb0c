using SmartMaintenance.Streams.Testing;
using Xunit;

namespace SmartMaintenance.Streams.Storage.Tests;

/// <summary>Slices: aggregates written ahead of the batch that commits their offsets (StorageBatch.Fences).</summary>
[Collection(PostgresFixture.Collection)]
public sealed class SliceTests(PostgresFixture fx)
{
    private static StorageBatch Slice(long expectedNext, params (string Sensor, int Revision, double Mean)[] rows)
    {
        var slice = new StorageBatch();
        foreach (var (sensor, revision, mean) in rows)
        {
            slice.Aggregates.Add(TestData.Aggregate(sensor, TestData.BaseMs, revision, mean));
        }
        slice.Fences.Add(new OffsetMark(TestData.Group, TestData.Topic, 0, expectedNext, expectedNext));
        slice.Fences.Add(new OffsetMark(TestData.Group, TestData.Topic, 1, expectedNext, expectedNext));
        return slice;
    }

    private static async Task CommitOffsets(PostgresSink sink, int partition, long next)
    {
        var batch = new StorageBatch();
        batch.Offsets.Add(new OffsetMark(TestData.Group, TestData.Topic, partition, next, next));
        await sink.WriteAsync(batch, default);
    }

    [Fact]
    public async Task A_slice_stores_its_aggregates_without_touching_the_offsets()
    {
        var cs = await fx.CreateDatabaseAsync();
        await using var sink = new PostgresSink(TestData.Options(cs));
        await CommitOffsets(sink, 0, 50);

        await sink.WriteAsync(Slice(50, ("s-1", 0, 1.0), ("s-2", 0, 2.0)), default);

        Assert.Equal(2L, await TestData.ScalarAsync<long>(cs, "SELECT count(*) FROM window_aggregates"));
        var offsets = await sink.LoadOffsetsAsync(TestData.Group, TestData.Topic, default);
        Assert.Equal(50, offsets[0].NextOffset);
        // A fence is checked, never stored: partition 1 still has no row.
        Assert.False(offsets.ContainsKey(1));
        Assert.Equal(0, sink.StaleSlicesSkipped);
    }

    [Fact]
    public async Task A_slice_of_a_partition_with_no_stored_offsets_is_applied()
    {
        var cs = await fx.CreateDatabaseAsync();
        await using var sink = new PostgresSink(TestData.Options(cs));

        await sink.WriteAsync(Slice(-1, ("s-1", 0, 1.0)), default);

        Assert.Equal(1.0, await TestData.ScalarAsync<double>(cs, "SELECT mean FROM window_aggregates WHERE sensor_id = 's-1'"));
    }

    [Fact]
    public async Task A_slice_whose_partitions_another_owner_has_moved_on_changes_no_window_row()
    {
        var cs = await fx.CreateDatabaseAsync();
        await using var sink = new PostgresSink(TestData.Options(cs));
        var newer = new StorageBatch();
        newer.Aggregates.Add(TestData.Aggregate("s-1", TestData.BaseMs, 3, 30.0) with { IsFinal = true });
        newer.Offsets.Add(new OffsetMark(TestData.Group, TestData.Topic, 0, 100, 100));
        newer.Offsets.Add(new OffsetMark(TestData.Group, TestData.Topic, 1, 80, 80));
        await sink.WriteAsync(newer, default);

        // What the previous owner still had queued: it expected offsets 60 stored, another owner committed beyond.
        await sink.WriteAsync(Slice(60, ("s-1", 0, 12.0), ("s-9", 0, 9.0)), default);

        Assert.Equal(30.0, await TestData.ScalarAsync<double>(cs, "SELECT mean FROM window_aggregates WHERE sensor_id = 's-1'"));
        Assert.Equal(0L, await TestData.ScalarAsync<long>(cs, "SELECT count(*) FROM window_aggregates WHERE sensor_id = 's-9'"));
        Assert.Equal(1, sink.StaleSlicesSkipped);
    }

    [Fact]
    public async Task A_slice_is_applied_while_one_of_its_partitions_is_still_where_the_engine_left_it()
    {
        var cs = await fx.CreateDatabaseAsync();
        await using var sink = new PostgresSink(TestData.Options(cs));
        await CommitOffsets(sink, 0, 100);
        await CommitOffsets(sink, 1, 60);

        // Partition 0 moved on, partition 1 did not: like a batch, the slice is stale only when all have.
        await sink.WriteAsync(Slice(60, ("s-1", 0, 12.0)), default);

        Assert.Equal(12.0, await TestData.ScalarAsync<double>(cs, "SELECT mean FROM window_aggregates WHERE sensor_id = 's-1'"));
        Assert.Equal(0, sink.StaleSlicesSkipped);
    }

    [Fact]
    public async Task Writing_a_slice_again_and_then_its_batch_gives_the_rows_of_the_batch_alone()
    {
        var cs = await fx.CreateDatabaseAsync();
        await using var sink = new PostgresSink(TestData.Options(cs));
        await CommitOffsets(sink, 0, 10);
        await CommitOffsets(sink, 1, 10);
        var slice = Slice(10, ("s-1", 0, 1.0), ("s-2", 1, 2.0));

        // An ambiguous commit retried, then a crash before the batch: the replay writes the same windows again.
        await sink.WriteAsync(slice, default);
        await sink.WriteAsync(slice, default);
        var batch = new StorageBatch();
        batch.Aggregates.Add(TestData.Aggregate("s-1", TestData.BaseMs, 0, 1.0));
        batch.Aggregates.Add(TestData.Aggregate("s-2", TestData.BaseMs, 1, 2.0));
        batch.Offsets.Add(new OffsetMark(TestData.Group, TestData.Topic, 0, 20, 10));
        await sink.WriteAsync(batch, default);

        Assert.Equal(2L, await TestData.ScalarAsync<long>(cs, "SELECT count(*) FROM window_aggregates"));
        Assert.Equal(2.0, await TestData.ScalarAsync<double>(cs, "SELECT mean FROM window_aggregates WHERE sensor_id = 's-2'"));
        Assert.Equal(1, await TestData.ScalarAsync<int>(cs, "SELECT revision FROM window_aggregates WHERE sensor_id = 's-2'"));
    }

    [Fact]
    public async Task A_slice_carrying_anything_but_aggregates_is_refused_as_fatal()
    {
        var cs = await fx.CreateDatabaseAsync();
        await using var sink = new PostgresSink(TestData.Options(cs));
        var slice = Slice(-1, ("s-1", 0, 1.0));
        slice.Offsets.Add(new OffsetMark(TestData.Group, TestData.Topic, 0, 5, 5));

        var ex = await Assert.ThrowsAsync<StorageException>(() => sink.WriteAsync(slice, default));

        Assert.False(ex.IsTransient);
        Assert.Equal(0L, await TestData.ScalarAsync<long>(cs, "SELECT count(*) FROM window_aggregates"));
    }
}
