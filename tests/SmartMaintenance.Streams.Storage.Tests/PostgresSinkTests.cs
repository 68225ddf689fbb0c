using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Testing;
using Xunit;

namespace SmartMaintenance.Streams.Storage.Tests;

[Collection(PostgresFixture.Collection)]
public sealed class PostgresSinkTests(PostgresFixture fx)
{
    [Fact]
    public async Task A_batch_stores_readings_with_optional_fields_aggregates_anomalies_alerts_and_offsets()
    {
        var cs = await fx.CreateDatabaseAsync();
        await using var sink = new PostgresSink(TestData.Options(cs));
        var batch = new StorageBatch();
        TestData.AddReadings(batch, partition: 2, firstOffset: 100, count: 1000);
        batch.Aggregates.Add(TestData.Aggregate("s-1", TestData.BaseMs, 0, 4.0));
        batch.Anomalies.Add(TestData.Anomaly("s-1", TestData.BaseMs));
        batch.Alerts.Add(TestData.OpenAlert("s-1", TestData.BaseMs));

        await sink.WriteAsync(batch, default);

        Assert.Equal(1000L, await TestData.ScalarAsync<long>(cs, "SELECT count(*) FROM readings"));
        Assert.Equal(500L, await TestData.ScalarAsync<long>(cs, "SELECT count(*) FROM readings WHERE quality IS NULL"));
        Assert.Equal(334L, await TestData.ScalarAsync<long>(cs, "SELECT count(*) FROM readings WHERE seq IS NOT NULL"));
        Assert.Equal(200L, await TestData.ScalarAsync<long>(cs, "SELECT count(*) FROM readings WHERE attributes->>'fw' = '1.2'"));
        Assert.Equal(TestData.BaseMs + 100, await TestData.ScalarAsync<long>(cs,
            "SELECT (extract(epoch FROM ts) * 1000)::bigint FROM readings WHERE kafka_partition = 2 AND kafka_offset = 100 AND kafka_index = 0"));
        Assert.Equal(0.9f, await TestData.ScalarAsync<float>(cs, "SELECT quality FROM readings WHERE kafka_offset = 100"));
        Assert.Equal(4.0, await TestData.ScalarAsync<double>(cs, "SELECT mean FROM window_aggregates WHERE sensor_id = 's-1'"));
        Assert.Equal(4.2, await TestData.ScalarAsync<double>(cs, "SELECT (evidence->>'z')::float8 FROM anomalies"));
        Assert.Equal("open", await TestData.ScalarAsync<string>(cs, "SELECT status FROM alerts"));
        Assert.Equal("s-1", await TestData.ScalarAsync<string>(cs, "SELECT payload->>'sensor_id' FROM alerts"));
        var offsets = await sink.LoadOffsetsAsync(TestData.Group, TestData.Topic, default);
        Assert.Equal(new OffsetMark(TestData.Group, TestData.Topic, 2, 1100, 100), offsets[2]);
        Assert.Equal(1000, sink.ReadingsWritten);
        Assert.Equal(1, sink.BatchesCommitted);
    }

    [Fact]
    public async Task The_sinks_own_binary_copy_encoding_stores_exactly_what_NpgsqlBinaryImporter_stores()
    {
        var cs = await fx.CreateDatabaseAsync();
        var readings = new List<SensorReading>
        {
            new("pump-7.temp", TestData.BaseMs + 1, 71.3, "pump-7", "temperature", "°C", 0.98, 48213, """{"fw":"1.2","ß":[1,2]}""", new SourcePosition(3, 17, 0)),
            new("pump-7.temp", TestData.BaseMs + 2, -1e300, Position: new SourcePosition(3, 18, 5)),
            new("ünïcode-✓", TestData.BaseMs + 3, double.Epsilon, null, "vibration", null, 0, 0, null, SourcePosition.None),
            new("s", TestData.BaseMs + 4, 0.1 + 0.2, "a", "b", "c", 1.0, long.MaxValue, "{}", new SourcePosition(int.MaxValue, long.MaxValue, int.MaxValue)),
        };
        await using (var sink = new PostgresSink(TestData.Options(cs)))
        {
            var batch = new StorageBatch();
            batch.Readings.AddRange(readings);
            await sink.WriteAsync(batch, default);
        }
        await TestData.ExecAsync(cs, "CREATE TABLE expected (LIKE readings)");
        await using (var conn = new Npgsql.NpgsqlConnection(cs + ";Pooling=false"))
        {
            await conn.OpenAsync();
            await using var importer = await conn.BeginBinaryImportAsync(PostgresSink.CopyReadingsSql.Replace("COPY readings", "COPY expected", StringComparison.Ordinal));
            foreach (var r in readings)
            {
                await importer.StartRowAsync();
                await importer.WriteAsync(r.SensorId, NpgsqlTypes.NpgsqlDbType.Text);
                await importer.WriteAsync(DateTime.UnixEpoch.AddMilliseconds(r.Timestamp), NpgsqlTypes.NpgsqlDbType.TimestampTz);
                await importer.WriteAsync(r.Value, NpgsqlTypes.NpgsqlDbType.Double);
                foreach (var text in new[] { r.AssetId, r.SensorType, r.Unit })
                {
                    await (text is null ? importer.WriteNullAsync() : importer.WriteAsync(text, NpgsqlTypes.NpgsqlDbType.Text));
                }
                await (r.HasQuality ? importer.WriteAsync((float)r.Quality, NpgsqlTypes.NpgsqlDbType.Real) : importer.WriteNullAsync());
                await (r.HasSeq ? importer.WriteAsync(r.Seq, NpgsqlTypes.NpgsqlDbType.Bigint) : importer.WriteNullAsync());
                await (r.Attributes is null ? importer.WriteNullAsync() : importer.WriteAsync(r.Attributes, NpgsqlTypes.NpgsqlDbType.Jsonb));
                if (r.Position.Partition >= 0)
                {
                    await importer.WriteAsync(r.Position.Partition, NpgsqlTypes.NpgsqlDbType.Integer);
                    await importer.WriteAsync(r.Position.Offset, NpgsqlTypes.NpgsqlDbType.Bigint);
                    await importer.WriteAsync(r.Position.Index, NpgsqlTypes.NpgsqlDbType.Integer);
                }
                else
                {
                    await importer.WriteNullAsync();
                    await importer.WriteNullAsync();
                    await importer.WriteNullAsync();
                }
            }
            await importer.CompleteAsync();
        }

        const string columns = "sensor_id, ts, value, asset_id, sensor_type, unit, quality, seq, attributes::text, kafka_partition, kafka_offset, kafka_index";
        Assert.Equal(4L, await TestData.ScalarAsync<long>(cs, $"SELECT count(*) FROM (SELECT {columns} FROM readings INTERSECT SELECT {columns} FROM expected) both_sides"));
        Assert.Equal(0L, await TestData.ScalarAsync<long>(cs, $"SELECT count(*) FROM (SELECT {columns} FROM readings EXCEPT SELECT {columns} FROM expected) only_ours"));
        Assert.Equal(-1e300, await TestData.ScalarAsync<double>(cs, "SELECT value FROM readings WHERE kafka_offset = 18"));
        Assert.Equal("°C", await TestData.ScalarAsync<string>(cs, "SELECT unit FROM readings WHERE kafka_offset = 17"));
    }

    [Fact]
    public async Task A_readings_copy_rejected_by_the_server_after_several_sent_chunks_stores_none_of_them()
    {
        var cs = await fx.CreateDatabaseAsync();
        await using var sink = new PostgresSink(TestData.Options(cs));
        var bad = new StorageBatch();
        // ≈ 100 bytes per row: 5,000 rows go out in two chunks before the last row, which PostgreSQL refuses (NUL in text).
        TestData.AddReadings(bad, 0, 0, 5000);
        bad.Readings[^1] = bad.Readings[^1] with { SensorId = "s-\0-nul" };

        var error = await Assert.ThrowsAsync<StorageException>(() => sink.WriteAsync(bad, default));

        Assert.False(error.IsTransient);
        Assert.Equal(0L, await TestData.ScalarAsync<long>(cs, "SELECT count(*) FROM readings"));
        Assert.Empty(await sink.LoadOffsetsAsync(TestData.Group, TestData.Topic, default));
        bad.Readings[^1] = bad.Readings[^1] with { SensorId = "s-ok" };
        await sink.WriteAsync(bad, default);
        Assert.Equal(5000L, await TestData.ScalarAsync<long>(cs, "SELECT count(*) FROM readings"));
    }

    [Fact]
    public async Task A_batch_that_fails_midway_commits_nothing_and_leaves_offsets_unchanged()
    {
        var cs = await fx.CreateDatabaseAsync();
        await using var sink = new PostgresSink(TestData.Options(cs));
        var first = new StorageBatch();
        TestData.AddReadings(first, 0, 0, 100);
        await sink.WriteAsync(first, default);

        var bad = new StorageBatch();
        TestData.AddReadings(bad, 0, 100, 5000);
        bad.Aggregates.Add(TestData.Aggregate("s-1", TestData.BaseMs, 0, 1.0));
        bad.Aggregates.Add(TestData.Aggregate("s-2", TestData.BaseMs, 0, 1.0) with { WindowEnd = TestData.BaseMs - 1 }); // violates the CHECK
        var error = await Assert.ThrowsAsync<StorageException>(() => sink.WriteAsync(bad, default));

        Assert.False(error.IsTransient);
        Assert.Equal("23514", error.SqlState);
        Assert.Contains("window_aggregates", error.Message, StringComparison.Ordinal);
        Assert.Equal(100L, await TestData.ScalarAsync<long>(cs, "SELECT count(*) FROM readings"));
        Assert.Equal(0L, await TestData.ScalarAsync<long>(cs, "SELECT count(*) FROM window_aggregates"));
        Assert.Equal(100L, (await sink.LoadOffsetsAsync(TestData.Group, TestData.Topic, default))[0].NextOffset);

        // The sink is usable again afterwards (fresh connection, staging recreated).
        bad.Aggregates.Clear();
        bad.Aggregates.Add(TestData.Aggregate("s-1", TestData.BaseMs, 0, 1.0));
        await sink.WriteAsync(bad, default);
        Assert.Equal(5100L, await TestData.ScalarAsync<long>(cs, "SELECT count(*) FROM readings"));
    }

    [Fact]
    public async Task Aggregate_upserts_take_the_highest_revision_within_a_batch_and_the_latest_batch_across_batches()
    {
        var cs = await fx.CreateDatabaseAsync();
        await using var sink = new PostgresSink(TestData.Options(cs));
        var batch = new StorageBatch();
        // Same window twice in one batch: the higher revision wins regardless of order.
        batch.Aggregates.Add(TestData.Aggregate("s-1", TestData.BaseMs, 2, 20.0));
        batch.Aggregates.Add(TestData.Aggregate("s-1", TestData.BaseMs, 1, 10.0));
        batch.Aggregates.Add(TestData.Aggregate("s-2", TestData.BaseMs, 0, 5.0));
        batch.Offsets.Add(new OffsetMark(TestData.Group, TestData.Topic, 0, 10, 0));
        await sink.WriteAsync(batch, default);

        batch.Clear();
        // A later batch wins even with a lower revision: revisions restart when the operator resumes after a crash.
        batch.Aggregates.Add(TestData.Aggregate("s-1", TestData.BaseMs, 0, 21.0) with { IsFinal = true });
        batch.Offsets.Add(new OffsetMark(TestData.Group, TestData.Topic, 0, 20, 10));
        await sink.WriteAsync(batch, default);

        Assert.Equal(21.0, await TestData.ScalarAsync<double>(cs, "SELECT mean FROM window_aggregates WHERE sensor_id = 's-1'"));
        Assert.True(await TestData.ScalarAsync<bool>(cs, "SELECT is_final FROM window_aggregates WHERE sensor_id = 's-1'"));
        Assert.Equal(5.0, await TestData.ScalarAsync<double>(cs, "SELECT mean FROM window_aggregates WHERE sensor_id = 's-2'"));
        Assert.Equal(2L, await TestData.ScalarAsync<long>(cs, "SELECT count(*) FROM window_aggregates"));
    }

    [Fact]
    public async Task A_stale_batch_whose_offsets_are_already_stored_changes_no_window_row()
    {
        var cs = await fx.CreateDatabaseAsync();
        await using var sink = new PostgresSink(TestData.Options(cs));
        var batch = new StorageBatch();
        batch.Aggregates.Add(TestData.Aggregate("s-1", TestData.BaseMs, 3, 30.0) with { IsFinal = true });
        batch.Offsets.Add(new OffsetMark(TestData.Group, TestData.Topic, 0, 100, 100));
        await sink.WriteAsync(batch, default);

        // What a previous owner of the partition still had queued: older offsets, older window state.
        batch.Clear();
        batch.Aggregates.Add(TestData.Aggregate("s-1", TestData.BaseMs, 0, 12.0));
        batch.Offsets.Add(new OffsetMark(TestData.Group, TestData.Topic, 0, 60, 40));
        await sink.WriteAsync(batch, default);

        Assert.Equal(30.0, await TestData.ScalarAsync<double>(cs, "SELECT mean FROM window_aggregates WHERE sensor_id = 's-1'"));
        Assert.Equal(1, sink.StaleBatchesSkipped);
        Assert.Equal(100L, (await sink.LoadOffsetsAsync(TestData.Group, TestData.Topic, default))[0].NextOffset);
    }

    [Fact]
    public async Task Offsets_round_trip_and_never_move_backwards()
    {
        var cs = await fx.CreateDatabaseAsync();
        await using var sink = new PostgresSink(TestData.Options(cs));
        var batch = new StorageBatch();
        batch.Offsets.Add(new OffsetMark(TestData.Group, TestData.Topic, 0, 500, 450));
        batch.Offsets.Add(new OffsetMark(TestData.Group, TestData.Topic, 1, 70, 70));
        batch.Offsets.Add(new OffsetMark(TestData.Group, TestData.Topic, 0, 400, 300)); // lower mark of the same partition: covered
        batch.Offsets.Add(new OffsetMark("other-group", TestData.Topic, 0, 9, 1));
        await sink.WriteAsync(batch, default);

        batch.Clear();
        batch.Offsets.Add(new OffsetMark(TestData.Group, TestData.Topic, 1, 60, 60)); // behind what is stored
        await sink.WriteAsync(batch, default);

        var loaded = await sink.LoadOffsetsAsync(TestData.Group, TestData.Topic, default);
        Assert.Equal(2, loaded.Count);
        Assert.Equal(new OffsetMark(TestData.Group, TestData.Topic, 0, 500, 450), loaded[0]);
        Assert.Equal(70, loaded[1].NextOffset);
        Assert.True(loaded[1].ReplayFrom <= loaded[1].NextOffset);
        Assert.Equal(9, (await sink.LoadOffsetsAsync("other-group", TestData.Topic, default))[0].NextOffset);
        Assert.Empty(await sink.LoadOffsetsAsync(TestData.Group, "unknown-topic", default));
    }

    [Fact]
    public async Task Stored_watermarks_round_trip_and_only_move_forward()
    {
        var cs = await fx.CreateDatabaseAsync();
        await using var sink = new PostgresSink(TestData.Options(cs));
        var batch = new StorageBatch();
        batch.Offsets.Add(new OffsetMark(TestData.Group, TestData.Topic, 0, 10, 5, Watermark: 1_000));
        batch.Offsets.Add(new OffsetMark(TestData.Group, TestData.Topic, 1, 10, 5)); // unknown watermark
        await sink.WriteAsync(batch, default);
        batch.Clear();
        batch.Offsets.Add(new OffsetMark(TestData.Group, TestData.Topic, 0, 20, 15, Watermark: 900)); // behind: kept at 1,000
        await sink.WriteAsync(batch, default);

        var loaded = await sink.LoadOffsetsAsync(TestData.Group, TestData.Topic, default);

        Assert.Equal(new OffsetMark(TestData.Group, TestData.Topic, 0, 20, 15, 1_000), loaded[0]);
        Assert.Equal(long.MinValue, loaded[1].Watermark);
    }

    [Fact]
    public async Task Retracted_windows_are_deleted_in_the_transaction_that_stores_their_replacement()
    {
        var cs = await fx.CreateDatabaseAsync();
        await using var sink = new PostgresSink(TestData.Options(cs));
        var batch = new StorageBatch();
        var first = TestData.Aggregate("s-1", TestData.BaseMs, 0, 1.0, kind: "session");
        var second = TestData.Aggregate("s-1", TestData.BaseMs + 120_000, 0, 2.0, kind: "session");
        batch.Aggregates.Add(first);
        batch.Aggregates.Add(second);
        await sink.WriteAsync(batch, default);

        batch.Clear();
        batch.Retractions.Add(second); // merged into the first session
        batch.Aggregates.Add(first with { WindowEnd = second.WindowEnd, Revision = 1, Mean = 1.5 });
        await sink.WriteAsync(batch, default);

        Assert.Equal(1L, await TestData.ScalarAsync<long>(cs, "SELECT count(*) FROM window_aggregates"));
        Assert.Equal(1.5, await TestData.ScalarAsync<double>(cs, "SELECT mean FROM window_aggregates"));
    }

    [Fact]
    public async Task Writing_the_same_batch_again_stores_its_readings_once()
    {
        var cs = await fx.CreateDatabaseAsync();
        await using var sink = new PostgresSink(TestData.Options(cs));
        var batch = new StorageBatch();
        TestData.AddReadings(batch, 3, 1000, 2000);
        batch.Aggregates.Add(TestData.Aggregate("s-1", TestData.BaseMs, 0, 1.0));

        await sink.WriteAsync(batch, default);
        await sink.WriteAsync(batch, default); // e.g. a retry after the connection dropped during COMMIT

        Assert.Equal(2000L, await TestData.ScalarAsync<long>(cs, "SELECT count(*) FROM readings"));
        Assert.Equal(2000, sink.ReadingsSkipped);
        Assert.Equal(1L, await TestData.ScalarAsync<long>(cs, "SELECT count(*) FROM window_aggregates"));
    }

    [Fact]
    public async Task Writing_to_an_unmigrated_database_fails_fatally_with_the_migrate_hint()
    {
        var cs = await fx.CreateDatabaseAsync(migrated: false);
        await using var sink = new RetryingSink(new PostgresSink(TestData.Options(cs)), TestData.Options(cs));
        var batch = new StorageBatch();
        TestData.AddReadings(batch, 0, 0, 10);

        var error = await Assert.ThrowsAsync<StorageException>(() => sink.WriteAsync(batch, default));

        Assert.False(error.IsTransient);
        Assert.Equal("42P01", error.SqlState);
        Assert.Contains("smstream db migrate", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, sink.RetryCount);
    }

    [Fact]
    public async Task Two_writers_over_one_data_source_split_by_partition_store_everything_with_ordered_offsets()
    {
        var cs = await fx.CreateDatabaseAsync();
        var options = TestData.Options(cs);
        await using var dataSource = PostgresSink.CreateDataSource(options);
        var readings = StorageBench.Readings(24_000, DateTimeOffset.UtcNow.AddMinutes(-30));
        var perWriter = StorageBench.Batches(readings, batchRows: 2_000, writers: 2);

        await StorageBench.SinkAsync(dataSource, options, perWriter);

        Assert.Equal(24_000L, await TestData.ScalarAsync<long>(cs, "SELECT count(*) FROM readings"));
        Assert.Equal(24_000L, await TestData.ScalarAsync<long>(cs, "SELECT count(DISTINCT (kafka_partition, kafka_offset)) FROM readings"));
        await using var sink = new PostgresSink(dataSource, options);
        var offsets = await sink.LoadOffsetsAsync(Topics.EngineGroup, Topics.Readings, default);
        Assert.Equal(12, offsets.Count);
        foreach (var (partition, mark) in offsets)
        {
            var stored = await TestData.ScalarAsync<long>(cs, $"SELECT max(kafka_offset) + 1 FROM readings WHERE kafka_partition = {partition}");
            Assert.Equal(stored, mark.NextOffset);
        }
    }

    [Fact]
    public void Batch_counters_track_rows_and_bytes_and_reset_on_clear()
    {
        var batch = new StorageBatch();
        TestData.AddReadings(batch, 0, 0, 10);
        var afterReadings = batch.EstimatedBytes;
        batch.Aggregates.Add(TestData.Aggregate("s-1", TestData.BaseMs, 0, 1.0));

        Assert.Equal(11, batch.RowCount);
        Assert.True(afterReadings > 10 * 50);
        Assert.True(batch.EstimatedBytes > afterReadings);

        batch.Clear();
        Assert.True(batch.IsEmpty);
        Assert.Equal(0, batch.EstimatedBytes);
    }
}
