using SmartMaintenance.Streams.Testing;
using Xunit;

namespace SmartMaintenance.Streams.Storage.Tests;

/// <summary>detector_state rows: written in the batch's transaction, newest position wins, loaded per partition.</summary>
[Collection(PostgresFixture.Collection)]
public sealed class DetectorStateTests(PostgresFixture fx)
{
    [Fact]
    public async Task State_rows_are_upserted_with_the_batch_and_loaded_back_byte_for_byte_per_partition()
    {
        var cs = await fx.CreateDatabaseAsync();
        await using var sink = new PostgresSink(TestData.Options(cs));
        var batch = new StorageBatch();
        TestData.AddReadings(batch, partition: 0, firstOffset: 0, count: 10);
        TestData.AddReadings(batch, partition: 1, firstOffset: 0, count: 10);
        AddState(batch, 0, "s-a", 10, Bytes(1, 3000));
        AddState(batch, 1, "s-b", 10, Bytes(2, 40));
        AddState(batch, 0, "s-c", 10, []);

        await sink.WriteAsync(batch, default);

        Assert.Equal(3, sink.StatesUpserted);
        var p0 = await LoadAsync(sink, 0);
        Assert.Equal(["s-a", "s-c"], p0.Keys.Order(StringComparer.Ordinal));
        AssertRow(10, Bytes(1, 3000), p0["s-a"]);
        Assert.Empty(p0["s-c"].State);
        var both = await LoadAsync(sink, 0, 1);
        AssertRow(10, Bytes(2, 40), both["s-b"]);
        Assert.Empty(await LoadAsync(sink, 7));
    }

    [Fact]
    public async Task A_state_from_an_earlier_position_never_replaces_a_later_one()
    {
        var cs = await fx.CreateDatabaseAsync();
        await using var sink = new PostgresSink(TestData.Options(cs));
        var first = new StorageBatch();
        AddState(first, 0, "s-a", 500, Bytes(1, 100));
        await sink.WriteAsync(first, default);

        // An instance that lost the partition writes what it had at offset 400; the same position again is accepted.
        var older = new StorageBatch();
        AddState(older, 0, "s-a", 400, Bytes(9, 100));
        await sink.WriteAsync(older, default);
        AssertRow(500, Bytes(1, 100), (await LoadAsync(sink, 0))["s-a"]);

        var same = new StorageBatch();
        AddState(same, 0, "s-a", 500, Bytes(3, 100));
        AddState(same, 0, "s-a", 600, Bytes(4, 100));
        AddState(same, 0, "s-a", 550, Bytes(5, 100));
        await sink.WriteAsync(same, default);
        AssertRow(600, Bytes(4, 100), (await LoadAsync(sink, 0))["s-a"]);
    }

    [Fact]
    public async Task State_rows_of_a_stale_batch_are_not_applied_and_a_failed_batch_writes_none()
    {
        var cs = await fx.CreateDatabaseAsync();
        await using var sink = new PostgresSink(TestData.Options(cs));
        var first = new StorageBatch();
        TestData.AddReadings(first, 0, 0, 100);
        AddState(first, 0, "s-a", 100, Bytes(1, 10));
        await sink.WriteAsync(first, default);

        // Every offset of this batch is stored already (a retried commit, or a previous owner): nothing of it applies.
        var stale = new StorageBatch();
        TestData.AddReadings(stale, 0, 0, 100);
        AddState(stale, 0, "s-a", 100, Bytes(2, 10));
        AddState(stale, 0, "s-new", 100, Bytes(2, 10));
        await sink.WriteAsync(stale, default);
        var loaded = await LoadAsync(sink, 0);
        Assert.Equal(Bytes(1, 10), loaded["s-a"].State);
        Assert.False(loaded.ContainsKey("s-new"));

        var bad = new StorageBatch();
        TestData.AddReadings(bad, 0, 100, 10);
        AddState(bad, 0, "s-b", 110, Bytes(3, 10));
        bad.Offsets.Add(new OffsetMark(TestData.Group, TestData.Topic, 0, 50, 60)); // replay_from above next_offset: refused
        await Assert.ThrowsAsync<StorageException>(() => sink.WriteAsync(bad, default));
        Assert.False((await LoadAsync(sink, 0)).ContainsKey("s-b"));
    }

    private static void AssertRow(long offset, byte[] state, (long Offset, byte[] State) actual)
    {
        Assert.Equal(offset, actual.Offset);
        Assert.Equal(state, actual.State);
    }

    private static void AddState(StorageBatch batch, int partition, string sensor, long offset, byte[] state)
    {
        var start = (int)batch.StateData.Length;
        batch.StateData.Write(state);
        batch.DetectorStates.Add(new DetectorStateRow(TestData.Group, TestData.Topic, partition, sensor, offset, start, state.Length));
    }

    private static byte[] Bytes(int seed, int length)
    {
        var b = new byte[length];
        new Random(seed).NextBytes(b);
        return b;
    }

    private static async Task<Dictionary<string, (long Offset, byte[] State)>> LoadAsync(PostgresSink sink, params int[] partitions)
    {
        var rows = new Dictionary<string, (long, byte[])>(StringComparer.Ordinal);
        var n = await sink.LoadDetectorStateAsync(TestData.Group, TestData.Topic, partitions, (_, sensor, offset, state) => rows.Add(sensor, (offset, state)), default);
        Assert.Equal(n, rows.Count);
        return rows;
    }
}
