using SmartMaintenance.Streams.Testing;
using Xunit;

namespace SmartMaintenance.Streams.Storage.Tests;

/// <summary>The real sink on a real TimescaleDB: binary COPY into hypertables, upserts, offsets, fences.</summary>
[Collection(TimescaleDbFixture.Collection)]
public sealed class TimescaleDbSinkTests(TimescaleDbFixture fx)
{
    [Fact]
    public async Task A_batch_stores_readings_aggregates_anomalies_alerts_and_offsets_in_hypertable_chunks()
    {
        var cs = await fx.CreateSchemaAsync();
        await using var sink = new PostgresSink(TimescaleDbFixture.Options(cs));
        var batch = new StorageBatch();
        TestData.AddReadings(batch, partition: 2, firstOffset: 100, count: 5000);
        batch.Aggregates.Add(TestData.Aggregate("s-1", TestData.BaseMs, 0, 4.0));
        batch.Anomalies.Add(TestData.Anomaly("s-1", TestData.BaseMs));
        batch.Alerts.Add(TestData.OpenAlert("s-1", TestData.BaseMs));

        await sink.WriteAsync(batch, default);

        Assert.Equal(5000L, await TestData.ScalarAsync<long>(cs, "SELECT count(*) FROM readings"));
        Assert.Equal(2500L, await TestData.ScalarAsync<long>(cs, "SELECT count(*) FROM readings WHERE quality IS NULL"));
        Assert.Equal(1000L, await TestData.ScalarAsync<long>(cs, "SELECT count(*) FROM readings WHERE attributes->>'fw' = '1.2'"));
        Assert.Equal(Enumerable.Range(100, 5000).Sum(o => o * 0.5), await TestData.ScalarAsync<double>(cs, "SELECT sum(value) FROM readings"), 6);
        Assert.Equal(4.0, await TestData.ScalarAsync<double>(cs, "SELECT mean FROM window_aggregates WHERE sensor_id = 's-1'"));
        Assert.Equal(4.2, await TestData.ScalarAsync<double>(cs, "SELECT (evidence->>'z')::float8 FROM anomalies"));
        Assert.Equal("open", await TestData.ScalarAsync<string>(cs, "SELECT status FROM alerts"));
        Assert.True(await TestData.ScalarAsync<long>(cs, "SELECT count(*) FROM show_chunks('readings')") >= 1);
        var offsets = await sink.LoadOffsetsAsync(TestData.Group, TestData.Topic, default);
        Assert.Equal(new OffsetMark(TestData.Group, TestData.Topic, 2, 5100, 100), offsets[2]);
    }

    [Fact]
    public async Task Upserts_take_the_highest_revision_within_a_batch_the_later_batch_across_batches_and_a_replay_stores_readings_once()
    {
        var cs = await fx.CreateSchemaAsync();
        await using var sink = new PostgresSink(TimescaleDbFixture.Options(cs));
        var batch = new StorageBatch();
        TestData.AddReadings(batch, 0, 0, 300);
        batch.Aggregates.Add(TestData.Aggregate("s-1", TestData.BaseMs, 2, 20.0));
        batch.Aggregates.Add(TestData.Aggregate("s-1", TestData.BaseMs, 5, 50.0));
        batch.Aggregates.Add(TestData.Aggregate("s-1", TestData.BaseMs, 1, 10.0));
        await sink.WriteAsync(batch, default);
        var afterFirst = await TestData.ScalarAsync<double>(cs, "SELECT mean FROM window_aggregates WHERE sensor_id = 's-1'");
        await sink.WriteAsync(batch, default); // an ambiguous commit retried: offsets say it is stored

        var correction = new StorageBatch();
        correction.Aggregates.Add(TestData.Aggregate("s-1", TestData.BaseMs, 4, 40.0));
        correction.Aggregates.Add(TestData.Aggregate("s-2", TestData.BaseMs, 0, 7.0));
        await sink.WriteAsync(correction, default);

        Assert.Equal(50.0, afterFirst);
        Assert.Equal(300L, await TestData.ScalarAsync<long>(cs, "SELECT count(*) FROM readings"));
        Assert.Equal(300, sink.ReadingsSkipped);
        // Across batches the later one wins (revisions restart after a crash; docs/storage.md).
        Assert.Equal(40.0, await TestData.ScalarAsync<double>(cs, "SELECT mean FROM window_aggregates WHERE sensor_id = 's-1'"));
        Assert.Equal(7.0, await TestData.ScalarAsync<double>(cs, "SELECT mean FROM window_aggregates WHERE sensor_id = 's-2'"));
    }

    [Fact]
    public async Task A_batch_that_fails_midway_commits_nothing_and_leaves_offsets_unchanged()
    {
        var cs = await fx.CreateSchemaAsync();
        await using var sink = new PostgresSink(TimescaleDbFixture.Options(cs));
        var batch = new StorageBatch();
        TestData.AddReadings(batch, 0, 0, 2000);
        batch.Aggregates.Add(TestData.Aggregate("s-1", TestData.BaseMs, 0, 1.0) with { Count = -1 }); // CHECK violation, last step

        var error = await Assert.ThrowsAsync<StorageException>(() => sink.WriteAsync(batch, default));

        Assert.False(error.IsTransient);
        Assert.Equal(0L, await TestData.ScalarAsync<long>(cs, "SELECT count(*) FROM readings"));
        Assert.Equal(0L, await TestData.ScalarAsync<long>(cs, "SELECT count(*) FROM stream_offsets"));

        // The sink recovers on a fresh connection.
        batch.Aggregates.Clear();
        await sink.WriteAsync(batch, default);
        Assert.Equal(2000L, await TestData.ScalarAsync<long>(cs, "SELECT count(*) FROM readings"));
    }

    [Fact]
    public async Task Stale_batches_and_slices_whose_offsets_another_owner_moved_on_change_no_window_row()
    {
        var cs = await fx.CreateSchemaAsync();
        await using var sink = new PostgresSink(TimescaleDbFixture.Options(cs));
        var newer = new StorageBatch();
        newer.Aggregates.Add(TestData.Aggregate("s-1", TestData.BaseMs, 3, 30.0) with { IsFinal = true });
        newer.Offsets.Add(new OffsetMark(TestData.Group, TestData.Topic, 0, 100, 100));
        await sink.WriteAsync(newer, default);

        var stale = new StorageBatch();
        stale.Aggregates.Add(TestData.Aggregate("s-1", TestData.BaseMs, 0, 12.0));
        stale.Offsets.Add(new OffsetMark(TestData.Group, TestData.Topic, 0, 60, 40));
        await sink.WriteAsync(stale, default);
        var slice = new StorageBatch();
        slice.Aggregates.Add(TestData.Aggregate("s-1", TestData.BaseMs, 0, 13.0));
        slice.Aggregates.Add(TestData.Aggregate("s-9", TestData.BaseMs, 0, 9.0));
        slice.Fences.Add(new OffsetMark(TestData.Group, TestData.Topic, 0, 60, 60));
        await sink.WriteAsync(slice, default);

        Assert.Equal(30.0, await TestData.ScalarAsync<double>(cs, "SELECT mean FROM window_aggregates WHERE sensor_id = 's-1'"));
        Assert.Equal(0L, await TestData.ScalarAsync<long>(cs, "SELECT count(*) FROM window_aggregates WHERE sensor_id = 's-9'"));
        Assert.Equal(1, sink.StaleBatchesSkipped);
        Assert.Equal(1, sink.StaleSlicesSkipped);
        Assert.Equal(100L, (await sink.LoadOffsetsAsync(TestData.Group, TestData.Topic, default))[0].NextOffset);
    }

    [Fact]
    public async Task Two_writers_over_one_data_source_take_turns_on_the_one_backend_and_store_everything()
    {
        var cs = await fx.CreateSchemaAsync();
        var options = TimescaleDbFixture.Options(cs);
        await using var dataSource = PostgresSink.CreateDataSource(options);
        await using var a = new PostgresSink(dataSource, options);
        await using var b = new PostgresSink(dataSource, options);

        await Task.WhenAll(
            Task.Run(async () =>
            {
                for (var i = 0; i < 5; i++)
                {
                    var batch = new StorageBatch();
                    TestData.AddReadings(batch, 0, i * 400, 400);
                    await a.WriteAsync(batch, default);
                }
            }),
            Task.Run(async () =>
            {
                for (var i = 0; i < 5; i++)
                {
                    var batch = new StorageBatch();
                    TestData.AddReadings(batch, 1, i * 400, 400);
                    await b.WriteAsync(batch, default);
                }
            }));

        Assert.Equal(4000L, await TestData.ScalarAsync<long>(cs, "SELECT count(*) FROM readings"));
        Assert.Equal(4000L, await TestData.ScalarAsync<long>(cs, "SELECT count(DISTINCT (kafka_partition, kafka_offset)) FROM readings"));
        var offsets = await a.LoadOffsetsAsync(TestData.Group, TestData.Topic, default);
        Assert.Equal(2000, offsets[0].NextOffset);
        Assert.Equal(2000, offsets[1].NextOffset);
    }
}
