using Npgsql;
using Xunit;

namespace SmartMaintenance.Streams.Reliability.Tests;

/// <summary>What the database holds, checked against the input: the assertions every fault test ends with.</summary>
internal sealed class Ledger(string connectionString)
{
    public async Task<long> CountAsync() => await ScalarAsync<long>("SELECT count(*) FROM readings");

    public async Task<T> ScalarAsync<T>(string sql)
    {
        await using var conn = new NpgsqlConnection(connectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, conn);
        return (T)(await cmd.ExecuteScalarAsync())!;
    }

    /// <summary>Readings equal the valid input 0..count-1: same count, no duplicate source position, same checksum of seq.</summary>
    public async Task AssertExactlyAsync(int count)
    {
        Assert.Equal(count, await CountAsync());
        Assert.Equal(0L, await ScalarAsync<long>(
            "SELECT count(*) FROM (SELECT 1 FROM readings GROUP BY kafka_partition, kafka_offset, kafka_index HAVING count(*) > 1) d"));
        Assert.Equal(0L, await ScalarAsync<long>("SELECT count(*) FROM (SELECT 1 FROM readings GROUP BY seq HAVING count(*) > 1) d"));
        var checksum = await ScalarAsync<string>(
            "SELECT encode(sha256(convert_to(coalesce(string_agg(seq::text, ',' ORDER BY seq), ''), 'UTF8')), 'hex') FROM readings");
        Assert.Equal(Input.ExpectedChecksum(count), checksum);
    }

    /// <summary>Every final 1-minute tumbling and 5-minute hopping aggregate equals a recompute from the stored readings; returns the tumbling (finals, windows).</summary>
    public async Task<(long Finals, long Windows)> AssertAggregatesRecomputeAsync()
    {
        const string recompute = """
            WITH r AS (
                SELECT sensor_id, to_timestamp(floor(extract(epoch FROM ts) / 60) * 60) AS ws,
                       count(*) AS c, sum(value) AS s, min(value) AS mn, max(value) AS mx
                FROM readings GROUP BY 1, 2)
            SELECT count(*) FILTER (WHERE r.sensor_id IS NULL OR a.count <> r.c OR abs(a.sum - r.s) > 1e-6 OR a.min <> r.mn OR a.max <> r.mx),
                   count(*),
                   (SELECT count(*) FROM r),
                   (SELECT count(*) FROM (SELECT 1 FROM window_aggregates WHERE window_kind = 'tumbling:1m' AND is_final
                                          GROUP BY sensor_id, window_start HAVING count(*) > 1) d)
            FROM window_aggregates a LEFT JOIN r ON a.sensor_id = r.sensor_id AND a.window_start = r.ws
            WHERE a.window_kind = 'tumbling:1m' AND a.is_final
            """;
        await using var conn = new NpgsqlConnection(connectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(recompute, conn) { CommandTimeout = 600 };
        await using var reader = await cmd.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        var (mismatched, finals, windows, doubled) = (reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3));
        await reader.DisposeAsync();
        Assert.True(mismatched == 0, $"{mismatched} of {finals} final tumbling:1m aggregates differ from a recompute:\n" + await TumblingMismatchesAsync(conn));
        Assert.Equal(0L, doubled);
        // Only each sensor's newest windows may still be open when the input ends.
        Assert.InRange(finals, windows * 8 / 10, windows);
        await AssertHoppingRecomputeAsync();
        return (finals, windows);
    }

    /// <summary>
    /// Every final 5-minute hopping aggregate (advance 1 minute, the engine's second default spec) equals a recompute:
    /// a reading belongs to the five windows starting at its minute and the four minutes before it.
    /// </summary>
    private async Task AssertHoppingRecomputeAsync()
    {
        const string recompute = """
            WITH w AS (
                SELECT sensor_id, to_timestamp(floor(extract(epoch FROM ts) / 60) * 60 - k * 60) AS ws, value
                FROM readings CROSS JOIN generate_series(0, 4) AS k),
            r AS (SELECT sensor_id, ws, count(*) AS c, sum(value) AS s, min(value) AS mn, max(value) AS mx FROM w GROUP BY 1, 2)
            SELECT count(*) FILTER (WHERE r.sensor_id IS NULL OR a.count <> r.c OR abs(a.sum - r.s) > 1e-6 OR a.min <> r.mn OR a.max <> r.mx
                                    OR a.window_end <> a.window_start + interval '5 minutes'),
                   count(*),
                   (SELECT count(*) FROM (SELECT 1 FROM window_aggregates WHERE window_kind = 'hopping:5m/1m' AND is_final
                                          GROUP BY sensor_id, window_start HAVING count(*) > 1) d)
            FROM window_aggregates a LEFT JOIN r ON a.sensor_id = r.sensor_id AND a.window_start = r.ws
            WHERE a.window_kind = 'hopping:5m/1m' AND a.is_final
            """;
        await using var conn = new NpgsqlConnection(connectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(recompute, conn) { CommandTimeout = 600 };
        await using var reader = await cmd.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        var (mismatched, finals, doubled) = (reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2));
        await reader.DisposeAsync();
        Assert.True(finals > 0, "no final hopping:5m/1m aggregate was stored");
        Assert.True(mismatched == 0, $"{mismatched} of {finals} final hopping:5m/1m aggregates differ from a recompute:\n" + await HoppingMismatchesAsync(conn));
        Assert.Equal(0L, doubled);
    }

    private static Task<string> TumblingMismatchesAsync(NpgsqlConnection conn) => MismatchesAsync(conn, "tumbling:1m", 0);

    private static Task<string> HoppingMismatchesAsync(NpgsqlConnection conn) => MismatchesAsync(conn, "hopping:5m/1m", 4);

    /// <summary>Up to 12 final aggregates of <paramref name="kind"/> that differ from a recompute; a reading belongs to the
    /// windows starting at its minute and the <paramref name="minutesBack"/> minutes before it.</summary>
    private static async Task<string> MismatchesAsync(NpgsqlConnection conn, string kind, int minutesBack)
    {
        const string sample = """
            WITH w AS (
                SELECT sensor_id, to_timestamp(floor(extract(epoch FROM ts) / 60) * 60 - k * 60) AS ws, value
                FROM readings CROSS JOIN generate_series(0, @back) AS k),
            r AS (SELECT sensor_id, ws, count(*) AS c, sum(value) AS s FROM w GROUP BY 1, 2)
            SELECT a.sensor_id || ' ' || a.window_start || ' stored count ' || a.count || ' revision ' || a.revision
                   || ', recomputed count ' || coalesce(r.c, 0) || ' (sum ' || round(a.sum::numeric, 3) || ' vs ' || round(coalesce(r.s, 0)::numeric, 3) || ')'
            FROM window_aggregates a LEFT JOIN r ON a.sensor_id = r.sensor_id AND a.window_start = r.ws
            WHERE a.window_kind = @kind AND a.is_final AND (r.sensor_id IS NULL OR a.count <> r.c OR abs(a.sum - r.s) > 1e-6)
            ORDER BY a.window_start, a.sensor_id LIMIT 12
            """;
        var lines = new List<string>();
        await using var cmd = new NpgsqlCommand(sample, conn) { CommandTimeout = 600 };
        cmd.Parameters.AddWithValue("back", minutesBack);
        cmd.Parameters.AddWithValue("kind", kind);
        await using var reader = await cmd.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            lines.Add(reader.GetString(0));
        }
        return string.Join('\n', lines);
    }

    /// <summary>Stored offsets of record: sum of next offsets over the group's partitions (= messages consumed and committed).</summary>
    public async Task<long> CommittedMessagesAsync(string group)
    {
        await using var conn = new NpgsqlConnection(connectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand("SELECT coalesce(sum(next_offset), 0) FROM stream_offsets WHERE consumer_group = @g", conn);
        cmd.Parameters.AddWithValue("g", group);
        return (long)(decimal)(await cmd.ExecuteScalarAsync())!;
    }

    public async Task<IReadOnlyList<string>> AlertIdsAsync()
    {
        var ids = new List<string>();
        await using var conn = new NpgsqlConnection(connectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand("SELECT alert_id FROM alerts", conn);
        await using var reader = await cmd.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            ids.Add(reader.GetString(0));
        }
        return ids;
    }
}
