using Npgsql;
using NpgsqlTypes;

namespace SmartMaintenance.Streams.Storage;

/// <summary>Recomputes the hourly and daily rollups of the 1-minute aggregates for a time range.</summary>
/// <remarks>Native mode: upserts the buckets touched by [from, to) into the rollup tables (idempotent, so a
/// periodic refresh of the last few hours converges after late corrections). TimescaleDB mode: the refresh
/// policies do this on their own; calling this refreshes the continuous aggregates at once.</remarks>
public sealed class RollupRefresher
{
    private readonly string _connectionString;
    private readonly StorageOptions _options;

    public RollupRefresher(string connectionString, StorageOptions options)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        ArgumentNullException.ThrowIfNull(options);
        _connectionString = connectionString;
        _options = options;
    }

    /// <summary>SQL of the native hourly refresh ($1 = window kind, $2/$3 = range).</summary>
    public static readonly string NativeHourlySql = NativeRollupSql(Schema.HourlyRollup, Schema.AggregatesTable, "hour", "window_start", Schema.SumSquares,
        "window_kind = $1 AND window_start >= date_trunc('hour', $2, 'UTC') AND window_start < $3");

    /// <summary>SQL of the native daily refresh from the hourly rollup ($1/$2 = range).</summary>
    public static readonly string NativeDailySql = NativeRollupSql(Schema.DailyRollup, Schema.HourlyRollup, "day", "bucket", "sum(sum_sq)",
        "bucket >= date_trunc('day', $1, 'UTC') AND bucket < $2");

    private static string NativeRollupSql(string target, string source, string unit, string time, string sumSquares, string filter) => $"""
        INSERT INTO {target} AS r (sensor_id, bucket, count, sum, sum_sq, min, max, mean, stddev, first, last, asset_id, sensor_type, updated_at)
        SELECT sensor_id, b, n, s, sq, mn, mx, s / nullif(n, 0), {Schema.PooledStdDev("sq", "s", "n")}, f, l, a, t, now()
        FROM (
            SELECT sensor_id,
                   date_trunc('{unit}', {time}, 'UTC') AS b,
                   sum(count)::bigint AS n,
                   sum(sum) AS s,
                   {sumSquares} AS sq,
                   min(min) AS mn,
                   max(max) AS mx,
                   (array_agg(first ORDER BY {time}))[1] AS f,
                   (array_agg(last ORDER BY {time} DESC))[1] AS l,
                   (array_agg(asset_id ORDER BY {time} DESC))[1] AS a,
                   (array_agg(sensor_type ORDER BY {time} DESC))[1] AS t
            FROM {source}
            WHERE {filter}
            GROUP BY 1, 2
        ) x
        ON CONFLICT (sensor_id, bucket) DO UPDATE SET
            count = excluded.count, sum = excluded.sum, sum_sq = excluded.sum_sq, min = excluded.min, max = excluded.max,
            mean = excluded.mean, stddev = excluded.stddev, first = excluded.first, last = excluded.last,
            asset_id = excluded.asset_id, sensor_type = excluded.sensor_type, updated_at = excluded.updated_at
        """;

    /// <summary>Refreshes every hourly and daily bucket overlapping [<paramref name="from"/>, <paramref name="to"/>).
    /// Returns the number of rollup rows written (native mode) or 0 (TimescaleDB).</summary>
    public async Task<int> RefreshAsync(DateTimeOffset from, DateTimeOffset to, CancellationToken ct = default)
    {
        if (to <= from)
        {
            return 0;
        }
        // Whole buckets: extend the end to the next hour/day so a partial bucket is recomputed completely.
        var hourEnd = PartitionMaintenance.AlignDown(to.AddTicks(TimeSpan.TicksPerHour - 1), TimeSpan.FromHours(1));
        var dayEnd = PartitionMaintenance.AlignDown(to.AddTicks(TimeSpan.TicksPerDay - 1), TimeSpan.FromDays(1));
        await using var conn = new NpgsqlConnection(_connectionString);
        await conn.OpenAsync(ct).ConfigureAwait(false);
        var (_, mode) = await SchemaMigrator.ReadVersionAsync(conn, ct).ConfigureAwait(false);
        if (mode == StorageMode.TimescaleDb)
        {
            // refresh_continuous_aggregate cannot run inside a transaction block; each CALL is its own. It refreshes only
            // whole buckets inside the window (and refuses a window smaller than one), so both ends go out to bucket edges.
            await CallRefreshAsync(conn, Schema.HourlyRollup, PartitionMaintenance.AlignDown(from, TimeSpan.FromHours(1)), hourEnd, ct).ConfigureAwait(false);
            await CallRefreshAsync(conn, Schema.DailyRollup, PartitionMaintenance.AlignDown(from, TimeSpan.FromDays(1)), dayEnd, ct).ConfigureAwait(false);
            return 0;
        }
        await using var tx = await conn.BeginTransactionAsync(ct).ConfigureAwait(false);
        int rows;
        await using (var hourly = new NpgsqlCommand(NativeHourlySql, conn, tx) { CommandTimeout = _options.CommandTimeout })
        {
            hourly.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _options.RollupSourceWindowKind });
            hourly.Parameters.Add(Time(from));
            hourly.Parameters.Add(Time(hourEnd));
            rows = await hourly.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }
        await using (var daily = new NpgsqlCommand(NativeDailySql, conn, tx) { CommandTimeout = _options.CommandTimeout })
        {
            daily.Parameters.Add(Time(from));
            daily.Parameters.Add(Time(dayEnd));
            rows += await daily.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }
        await tx.CommitAsync(ct).ConfigureAwait(false);
        return rows;
    }

    private async Task CallRefreshAsync(NpgsqlConnection conn, string view, DateTimeOffset from, DateTimeOffset to, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand($"CALL refresh_continuous_aggregate({Schema.Literal(view)}, $1, $2)", conn) { CommandTimeout = _options.CommandTimeout };
        cmd.Parameters.Add(Time(from));
        cmd.Parameters.Add(Time(to));
        await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
    }

    private static NpgsqlParameter<DateTime> Time(DateTimeOffset t) =>
        new() { TypedValue = t.UtcDateTime, NpgsqlDbType = NpgsqlDbType.TimestampTz };
}
