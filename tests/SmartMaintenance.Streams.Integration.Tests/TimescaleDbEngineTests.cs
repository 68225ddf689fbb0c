using Npgsql;
using SmartMaintenance.Streams.Storage;
using SmartMaintenance.Streams.Testing;
using Xunit;

namespace SmartMaintenance.Streams.Integration.Tests;

/// <summary>The embedded broker and the TimescaleDB test service (scripts/timescaledb-service).</summary>
[CollectionDefinition(Name)]
public sealed class TimescaleDbServicesCollection : ICollectionFixture<KafkaFixture>, ICollectionFixture<TimescaleDbFixture>
{
    public const string Name = "services-timescaledb";
}

/// <summary>`smstream run` into TimescaleDB: killed mid-stream, restarted, every reading stored once; then the
/// continuous aggregates and `smstream db status` on what it wrote.</summary>
[Collection(TimescaleDbServicesCollection.Name)]
public sealed class TimescaleDbEngineTests(KafkaFixture kafka, TimescaleDbFixture timescale)
{
    [Fact]
    public async Task Engine_killed_mid_stream_into_TimescaleDB_and_restarted_stores_every_reading_once_and_rollups_match_a_recompute()
    {
        var input = kafka.CreateUniqueTopic("readings", 6);
        var dlq = kafka.CreateUniqueTopic("readings-dlq", 2);
        var alerts = kafka.CreateUniqueTopic("alerts", 2);
        var group = "engine-" + Guid.NewGuid().ToString("N")[..10];
        var db = await timescale.CreateSchemaAsync();
        const int total = 30_000;
        await kafka.ProduceAsync(input, Enumerable.Range(0, total).Select(i => ReadingFactory.ValidMessage(i % 200, i)));
        var cs = db + ";Pooling=false";
        // The test service writes slower than PostgreSQL, so the engine pauses partitions for backpressure longer: a 2 s
        // idle timeout then lets the watermark run ahead of paused partitions (see the report on issue 21).
        var env = new Dictionary<string, string> { ["SMSTREAM_WINDOWS__IDLETIMEOUT"] = "00:00:30" };

        using (var first = EngineProcess.Start(kafka, input, dlq, alerts, group, db, env))
        {
            await EngineProcess.WaitUntilAsync(async () => await ScalarAsync<long>(cs, "SELECT count(*) FROM readings") >= 4_000, TimeSpan.FromSeconds(120), first);
            first.Kill(entireProcessTree: true);
            await first.WaitForExitAsync();
        }
        var atKill = await ScalarAsync<long>(cs, "SELECT count(*) FROM readings");
        Assert.InRange(atKill, 4_000, total);

        using (var second = EngineProcess.Start(kafka, input, dlq, alerts, group, db, env))
        {
            var deadline = DateTime.UtcNow.AddSeconds(180);
            while (await ScalarAsync<long>(cs, "SELECT count(*) FROM readings") < total && DateTime.UtcNow < deadline && !second.HasExited)
            {
                await Task.Delay(200);
            }
            await Task.Delay(5000); // a duplicate write would show now
            await EngineProcess.StopGracefullyAsync(second);
        }
        // Nothing may be dead-lettered (e.g. as late after the restart): every reading is valid and in order per sensor.
        var deadLettered = await kafka.ConsumeAllAsync(dlq);
        Assert.True(deadLettered.Count == 0,
            $"{deadLettered.Count} dead-lettered: {string.Join(", ", deadLettered.Take(3).Select(m => m.Header("dlq.reason")))}");

        Assert.Equal(total, await ScalarAsync<long>(cs, "SELECT count(*) FROM readings"));
        Assert.Equal(0L, await ScalarAsync<long>(cs, "SELECT count(*) FROM (SELECT 1 FROM readings GROUP BY kafka_partition, kafka_offset, kafka_index HAVING count(*) > 1) d"));
        Assert.Equal(Enumerable.Range(0, total).Sum(i => (long)i), await ScalarAsync<decimal>(cs, "SELECT sum(seq) FROM readings"));
        Assert.Equal(0L, await ScalarAsync<long>(cs, """
            WITH r AS (SELECT sensor_id, time_bucket(INTERVAL '1 minute', ts) AS ws, count(*) AS c, sum(value) AS s FROM readings GROUP BY 1, 2)
            SELECT count(*) FROM window_aggregates a LEFT JOIN r ON a.sensor_id = r.sensor_id AND a.window_start = r.ws
            WHERE a.window_kind = 'tumbling:1m' AND a.is_final AND (r.sensor_id IS NULL OR a.count <> r.c OR abs(a.sum - r.s) > 1e-6)
            """));

        // Rollups from what the engine wrote: refreshed, then equal to a recompute from window_aggregates.
        var options = TimescaleDbFixture.Options(db);
        var first1m = await ScalarAsync<DateTime>(cs, "SELECT min(window_start) FROM window_aggregates");
        var last1m = await ScalarAsync<DateTime>(cs, "SELECT max(window_end) FROM window_aggregates");
        await new RollupRefresher(cs, options).RefreshAsync(new DateTimeOffset(first1m, TimeSpan.Zero), new DateTimeOffset(last1m, TimeSpan.Zero));
        const string listing = "SELECT coalesce(string_agg(format('%s %s %s %s', sensor_id, bucket, count, round(sum::numeric, 6)), ',' ORDER BY sensor_id, bucket), '') FROM ";
        var expected = await ScalarAsync<string>(cs, listing + """
            (SELECT sensor_id, time_bucket(INTERVAL '1 hour', window_start) AS bucket, sum(count) AS count, sum(sum) AS sum
             FROM window_aggregates WHERE window_kind = 'tumbling:1m' GROUP BY 1, 2) r
            """);
        Assert.NotEqual("", expected);
        await NpgsqlCommandOn(cs, "ALTER MATERIALIZED VIEW window_rollups_hourly SET (timescaledb.materialized_only = true)");
        Assert.Equal(expected, await ScalarAsync<string>(cs, listing + "window_rollups_hourly"));

        var (exit, output, error) = await SmstreamCli.RunAsync(null, TimeSpan.FromSeconds(60), "db", "status", "--database", db);
        Assert.True(exit == 0, error);
        Assert.Contains("storage mode: timescaledb", output, StringComparison.Ordinal);
        Assert.Contains("chunks", output, StringComparison.Ordinal);
        Assert.Contains("policy_compression", output, StringComparison.Ordinal);
        Assert.Contains(group, output, StringComparison.Ordinal);
    }

    private static async Task NpgsqlCommandOn(string cs, string sql)
    {
        await using var conn = new NpgsqlConnection(cs);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, conn);
        await cmd.ExecuteNonQueryAsync();
    }

    private static async Task<T> ScalarAsync<T>(string cs, string sql)
    {
        await using var conn = new NpgsqlConnection(cs);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, conn);
        return (T)(await cmd.ExecuteScalarAsync())!;
    }
}
