using SmartMaintenance.Streams.Testing;
using Xunit;

namespace SmartMaintenance.Streams.Storage.Tests;

[Collection(PostgresFixture.Collection)]
public sealed class WatermarkAndRetractionTests(PostgresFixture fx)
{
    [Fact]
    public async Task Stored_watermark_round_trips_and_never_moves_backwards()
    {
        var cs = await fx.CreateDatabaseAsync();
        await using var sink = new PostgresSink(TestData.Options(cs));
        var batch = new StorageBatch();
        batch.Offsets.Add(new OffsetMark(TestData.Group, TestData.Topic, 1, 10, 5, Watermark: 1_000_000));
        await sink.WriteAsync(batch, default);
        batch.Clear();
        // A replayed batch carrying an older watermark must not lower the floor.
        batch.Offsets.Add(new OffsetMark(TestData.Group, TestData.Topic, 1, 12, 6, Watermark: 999_000));
        await sink.WriteAsync(batch, default);

        var mark = (await sink.LoadOffsetsAsync(TestData.Group, TestData.Topic, default))[1];
        Assert.Equal(1_000_000, mark.Watermark);
        Assert.Equal(12, mark.NextOffset);
    }

    [Fact]
    public async Task Offsets_written_without_a_watermark_load_as_unknown()
    {
        var cs = await fx.CreateDatabaseAsync();
        await using var sink = new PostgresSink(TestData.Options(cs));
        var batch = new StorageBatch();
        batch.Offsets.Add(new OffsetMark(TestData.Group, TestData.Topic, 0, 3, 3));
        await sink.WriteAsync(batch, default);

        Assert.Equal(long.MinValue, (await sink.LoadOffsetsAsync(TestData.Group, TestData.Topic, default))[0].Watermark);
    }

    [Fact]
    public async Task Retracted_session_row_is_deleted_in_the_same_transaction_as_the_merged_one_is_upserted()
    {
        var cs = await fx.CreateDatabaseAsync();
        await using var sink = new PostgresSink(TestData.Options(cs));
        var first = TestData.Aggregate("s-1", TestData.BaseMs, 0, 1.0, kind: "session:30s");
        var second = TestData.Aggregate("s-1", TestData.BaseMs + 120_000, 0, 2.0, kind: "session:30s");
        var batch = new StorageBatch();
        batch.Aggregates.Add(first);
        batch.Aggregates.Add(second);
        await sink.WriteAsync(batch, default);
        Assert.Equal(2L, await TestData.ScalarAsync<long>(cs, "SELECT count(*) FROM window_aggregates"));

        batch.Clear();
        batch.Retractions.Add(second);
        batch.Aggregates.Add(first with { Revision = 1, WindowEnd = second.WindowEnd, Mean = 1.5 });
        await sink.WriteAsync(batch, default);

        Assert.Equal(1L, await TestData.ScalarAsync<long>(cs, "SELECT count(*) FROM window_aggregates"));
        Assert.Equal(1.5, await TestData.ScalarAsync<double>(cs, "SELECT mean FROM window_aggregates"));
    }
}
