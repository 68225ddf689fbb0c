using Npgsql;
using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Testing;
using Xunit;

namespace SmartMaintenance.Streams.Storage.Tests;

/// <summary>Compression, retention and continuous aggregates on a real TimescaleDB. The test service runs no background
/// workers, so each policy is run the way an operator would run it by hand: <c>CALL run_job(id)</c>.</summary>
[Collection(TimescaleDbFixture.Collection)]
public sealed class TimescaleDbPolicyTests(TimescaleDbFixture fx)
{
    private static readonly long NowMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 3_600_000 * 3_600_000;

    private static SensorReading Reading(int i, long ts, int partition) =>
        new($"s-{i % 7}", ts, i * 0.25, "asset-1", "vibration", "mm/s", Position: new SourcePosition(partition, i, 0));

    [Fact]
    public async Task Compression_job_compresses_old_chunks_keeps_counts_and_sums_and_accepts_upserts_into_them()
    {
        var cs = await fx.CreateSchemaAsync();
        await using var sink = new PostgresSink(TimescaleDbFixture.Options(cs));
        var old = NowMs - TimeSpan.FromDays(5).Ticks / TimeSpan.TicksPerMillisecond;
        var batch = new StorageBatch();
        for (var i = 0; i < 3000; i++)
        {
            batch.Readings.Add(Reading(i, old + (i * 1000L), 0));
        }
        for (var i = 3000; i < 4000; i++)
        {
            batch.Readings.Add(Reading(i, NowMs - 600_000 + i, 0));
        }
        for (var m = 0; m < 60; m++)
        {
            batch.Aggregates.Add(TestData.Aggregate("s-1", old + (m * 60_000L), 0, m));
        }
        batch.Offsets.Add(new OffsetMark(TestData.Group, TestData.Topic, 0, 4000, 4000));
        await sink.WriteAsync(batch, default);
        const string totals = "SELECT (SELECT count(*) FROM readings) || '/' || (SELECT sum(value) FROM readings) || '/' || (SELECT count(*) FROM window_aggregates) || '/' || (SELECT sum(sum) FROM window_aggregates)";
        var before = await TestData.ScalarAsync<string>(cs, totals);

        await RunJobsAsync(cs, "policy_compression");

        Assert.Equal(1L, await CompressedChunksAsync(cs, "readings"));
        Assert.Equal(1L, await CompressedChunksAsync(cs, "window_aggregates"));
        Assert.Equal(before, await TestData.ScalarAsync<string>(cs, totals));
        var status = await StorageStatus.ReadAsync(cs);
        var readings = status.Tables.Single(t => t.Table == "readings");
        Assert.Equal(2, readings.Partitions);
        Assert.Equal(1, readings.CompressedChunks);
        Assert.True(readings.BytesBeforeCompression > 0 && readings.BytesAfterCompression > 0);
        Assert.Equal(7, status.Jobs.Count);
        Assert.Equal(StorageMode.TimescaleDb, status.Mode);

        // Late data for the compressed range: a newer revision of a window and more readings (docs/storage.md).
        var late = new StorageBatch();
        late.Aggregates.Add(TestData.Aggregate("s-1", old, 1, 1000.0));
        late.Readings.Add(Reading(4000, old + 500, 0));
        late.Offsets.Add(new OffsetMark(TestData.Group, TestData.Topic, 0, 4001, 4001));
        await sink.WriteAsync(late, default);

        Assert.Equal(1000.0, await TestData.ScalarAsync<double>(cs, $"SELECT mean FROM window_aggregates WHERE sensor_id = 's-1' AND window_start = to_timestamp({old} / 1000.0)"));
        Assert.Equal(60L, await TestData.ScalarAsync<long>(cs, "SELECT count(*) FROM window_aggregates"));
        Assert.Equal(4001L, await TestData.ScalarAsync<long>(cs, "SELECT count(*) FROM readings"));
    }

    [Fact]
    public async Task Retention_job_drops_expired_chunks_and_leaves_offsets_and_alerts_alone()
    {
        var cs = await fx.CreateSchemaAsync();
        await using var sink = new PostgresSink(TimescaleDbFixture.Options(cs));
        var expired = NowMs - TimeSpan.FromDays(40).Ticks / TimeSpan.TicksPerMillisecond;
        var batch = new StorageBatch();
        for (var i = 0; i < 500; i++)
        {
            batch.Readings.Add(Reading(i, i < 200 ? expired + i : NowMs - 1000 + i, 0));
        }
        batch.Aggregates.Add(TestData.Aggregate("s-1", expired, 0, 1.0));
        batch.Aggregates.Add(TestData.Aggregate("s-1", NowMs - 120_000, 0, 2.0));
        batch.Anomalies.Add(TestData.Anomaly("s-1", expired));
        batch.Alerts.Add(TestData.OpenAlert("s-1", expired));
        batch.Offsets.Add(new OffsetMark(TestData.Group, TestData.Topic, 0, 500, 500));
        await sink.WriteAsync(batch, default);
        var chunksBefore = await TestData.ScalarAsync<long>(cs, "SELECT count(*) FROM show_chunks('readings')");

        await RunJobsAsync(cs, "policy_retention");

        Assert.Equal(2L, chunksBefore);
        Assert.Equal(1L, await TestData.ScalarAsync<long>(cs, "SELECT count(*) FROM show_chunks('readings')"));
        Assert.Equal(300L, await TestData.ScalarAsync<long>(cs, "SELECT count(*) FROM readings"));
        Assert.Equal(2.0, await TestData.ScalarAsync<double>(cs, "SELECT mean FROM window_aggregates"));
        Assert.Equal(0L, await TestData.ScalarAsync<long>(cs, "SELECT count(*) FROM anomalies"));
        Assert.Equal(1L, await TestData.ScalarAsync<long>(cs, "SELECT count(*) FROM alerts"));
        Assert.Equal(500L, (await sink.LoadOffsetsAsync(TestData.Group, TestData.Topic, default))[0].NextOffset);
    }

    [Fact]
    public async Task Continuous_aggregates_refreshed_by_their_jobs_equal_a_recompute_and_follow_corrections()
    {
        var cs = await fx.CreateSchemaAsync();
        var options = TimescaleDbFixture.Options(cs);
        await using var sink = new PostgresSink(options);
        var start = NowMs - (3 * 3_600_000L);
        var batch = new StorageBatch();
        // The same two hours of minutes as the native RollupTests: minute m has 10 samples, mean m, sample stddev 1.
        for (var m = 0; m < 120; m++)
        {
            batch.Aggregates.Add(TestData.Aggregate("s-1", start + (m * 60_000L), 0, m) with { StdDev = 1, First = m, Last = m + 0.5 });
            batch.Aggregates.Add(TestData.Aggregate("s-2", start + (m * 60_000L), 0, 2 * m, count: 3));
        }
        batch.Aggregates.Add(TestData.Aggregate("s-1", start, 0, 99, kind: "hopping:5m/1m")); // not the rollups' kind
        await sink.WriteAsync(batch, default);

        await RunJobsAsync(cs, "policy_refresh_continuous_aggregate");
        await TestData.ExecAsync(cs, "ALTER MATERIALIZED VIEW window_rollups_hourly SET (timescaledb.materialized_only = true)");
        var materialized = await TestData.ScalarAsync<long>(cs, "SELECT count(*) FROM window_rollups_hourly");
        await TestData.ExecAsync(cs, "ALTER MATERIALIZED VIEW window_rollups_hourly SET (timescaledb.materialized_only = false)");

        Assert.Equal(4L, materialized);
        // docs/queries.md's rollup query, against a recompute from window_aggregates.
        const string recompute = """
            SELECT string_agg(format('%s %s %s %s %s %s', sensor_id, bucket, count, round(mean::numeric, 9), min, max), E'\n' ORDER BY sensor_id, bucket)
            FROM (SELECT sensor_id, time_bucket(INTERVAL '1 hour', window_start) AS bucket, sum(count) AS count, sum(sum) / sum(count) AS mean, min(min) AS min, max(max) AS max
                  FROM window_aggregates WHERE window_kind = 'tumbling:1m' GROUP BY 1, 2) r
            """;
        const string rollup = """
            SELECT string_agg(format('%s %s %s %s %s %s', sensor_id, bucket, count, round(mean::numeric, 9), min, max), E'\n' ORDER BY sensor_id, bucket)
            FROM (SELECT sensor_id, bucket, count, mean, stddev, min, max FROM window_rollups_hourly
                  WHERE bucket >= now() - INTERVAL '7 days') r
            """;
        Assert.Equal(await TestData.ScalarAsync<string>(cs, recompute), await TestData.ScalarAsync<string>(cs, rollup));
        var firstHour = $"to_timestamp({start / 1000})";
        Assert.Equal(600L, await TestData.ScalarAsync<long>(cs, $"SELECT count FROM window_rollups_hourly WHERE sensor_id = 's-1' AND bucket = {firstHour}"));
        Assert.Equal(29.5, await TestData.ScalarAsync<double>(cs, $"SELECT mean FROM window_rollups_hourly WHERE sensor_id = 's-1' AND bucket = {firstHour}"), 9);
        Assert.Equal(0.0, await TestData.ScalarAsync<double>(cs, $"SELECT first FROM window_rollups_hourly WHERE sensor_id = 's-1' AND bucket = {firstHour}"));
        Assert.Equal(59.5, await TestData.ScalarAsync<double>(cs, $"SELECT last FROM window_rollups_hourly WHERE sensor_id = 's-1' AND bucket = {firstHour}"));
        var means = Enumerable.Range(0, 60).Select(m => (double)m).ToArray();
        var expected = Math.Sqrt((means.Sum(m => (9.0 * 1 * 1) + (10 * m * m)) - (Math.Pow(means.Sum() * 10, 2) / 600)) / 599);
        Assert.Equal(expected, await TestData.ScalarAsync<double>(cs, $"SELECT stddev FROM window_rollups_hourly WHERE sensor_id = 's-1' AND bucket = {firstHour}"), 6);

        var correction = new StorageBatch();
        correction.Aggregates.Add(TestData.Aggregate("s-1", start, 1, 1000) with { StdDev = 1 });
        await sink.WriteAsync(correction, default);
        var from = DateTimeOffset.FromUnixTimeMilliseconds(start);
        await new RollupRefresher(cs, options).RefreshAsync(from, from.AddHours(2));

        Assert.Equal(1001.0, await TestData.ScalarAsync<double>(cs, $"SELECT max FROM window_rollups_hourly WHERE sensor_id = 's-1' AND bucket = {firstHour}"));
        Assert.Equal(await TestData.ScalarAsync<string>(cs, recompute), await TestData.ScalarAsync<string>(cs, rollup));
        var day = $"time_bucket(INTERVAL '1 day', to_timestamp({start / 1000}))";
        Assert.Equal(
            await TestData.ScalarAsync<long>(cs, $"SELECT sum(count)::bigint FROM window_aggregates WHERE sensor_id = 's-1' AND window_kind = 'tumbling:1m' AND time_bucket(INTERVAL '1 day', window_start) = {day}"),
            await TestData.ScalarAsync<long>(cs, $"SELECT count FROM window_rollups_daily WHERE sensor_id = 's-1' AND bucket = {day}"));
    }

    private static async Task<long> CompressedChunksAsync(string cs, string table) =>
        await TestData.ScalarAsync<long>(cs,
            $"SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_schema = current_schema() AND hypertable_name = '{table}' AND is_compressed");

    /// <summary>Runs every job of this schema with the given procedure, as a background worker would.</summary>
    private static async Task RunJobsAsync(string cs, string procedure)
    {
        await using var conn = new NpgsqlConnection(cs + ";Pooling=false");
        await conn.OpenAsync();
        var ids = new List<int>();
        await using (var cmd = new NpgsqlCommand(
            "SELECT job_id FROM timescaledb_information.jobs WHERE hypertable_schema = current_schema() AND proc_name = $1 ORDER BY job_id", conn))
        {
            cmd.Parameters.AddWithValue(procedure);
            await using var reader = await cmd.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                ids.Add(reader.GetInt32(0));
            }
        }
        Assert.NotEmpty(ids);
        foreach (var id in ids)
        {
            await using var run = new NpgsqlCommand($"CALL run_job({id})", conn);
            await run.ExecuteNonQueryAsync();
        }
    }
}
