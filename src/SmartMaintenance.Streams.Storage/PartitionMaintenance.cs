using System.Globalization;
using System.Text.RegularExpressions;
using Npgsql;

namespace SmartMaintenance.Streams.Storage;

/// <summary>One range partition of a natively partitioned table.</summary>
public readonly record struct TimePartition(string Table, string Name, DateTimeOffset From, DateTimeOffset To);

/// <summary>Creates time partitions ahead and drops expired ones (native mode; TimescaleDB does both itself).</summary>
/// <remarks>Partitions are aligned to multiples of <see cref="StorageOptions.ChunkInterval"/> since the Unix epoch (UTC).
/// Rows that arrive outside every partition land in the table's DEFAULT partition; when a partition is later
/// created for their range they are moved into it in the same transaction.</remarks>
public static partial class PartitionMaintenance
{
    private const long MaintenanceLockKey = 0x736d_7061_7274_6e73; // "smpartns"

    /// <summary>Creates the partition containing <paramref name="now"/>, the one before it and
    /// <see cref="StorageOptions.PartitionsAhead"/> after it, for every time-series table. Returns how many it created.</summary>
    public static async Task<int> EnsureAheadAsync(string connectionString, StorageOptions options, DateTimeOffset now, CancellationToken ct = default)
    {
        await using var conn = new NpgsqlConnection(connectionString);
        await conn.OpenAsync(ct).ConfigureAwait(false);
        return await EnsureAheadAsync(conn, options, now, ct).ConfigureAwait(false);
    }

    /// <inheritdoc cref="EnsureAheadAsync(string, StorageOptions, DateTimeOffset, CancellationToken)"/>
    public static async Task<int> EnsureAheadAsync(NpgsqlConnection conn, StorageOptions options, DateTimeOffset now, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(conn);
        ArgumentNullException.ThrowIfNull(options);
        if (!await IsNativeAsync(conn, ct).ConfigureAwait(false))
        {
            return 0;
        }
        var interval = options.ChunkInterval;
        var current = AlignDown(now, interval);
        var created = 0;
        foreach (var (table, column) in Schema.TimeSeriesTables)
        {
            for (var i = -1; i <= options.PartitionsAhead; i++)
            {
                var from = current + (interval * i);
                if (await CreatePartitionAsync(conn, options, table, column, from, from + interval, ct).ConfigureAwait(false))
                {
                    created++;
                }
            }
        }
        return created;
    }

    /// <summary>Drops partitions whose whole range is older than <c>now - Retention</c> and deletes such rows from the
    /// DEFAULT partitions. Returns the number of partitions dropped.</summary>
    public static async Task<int> DropExpiredAsync(string connectionString, StorageOptions options, DateTimeOffset now, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        await using var conn = new NpgsqlConnection(connectionString);
        await conn.OpenAsync(ct).ConfigureAwait(false);
        if (!await IsNativeAsync(conn, ct).ConfigureAwait(false))
        {
            return 0;
        }
        var cutoff = now - options.Retention;
        var dropped = 0;
        foreach (var (table, column) in Schema.TimeSeriesTables)
        {
            foreach (var p in await ListAsync(conn, table, ct).ConfigureAwait(false))
            {
                if (p.To <= cutoff)
                {
                    await using var drop = new NpgsqlCommand($"DROP TABLE IF EXISTS {p.Name}", conn) { CommandTimeout = options.CommandTimeout };
                    await drop.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
                    dropped++;
                }
            }
            await using var purge = new NpgsqlCommand($"DELETE FROM {table}_default WHERE {column} < $1", conn) { CommandTimeout = options.CommandTimeout };
            purge.Parameters.Add(new NpgsqlParameter<DateTime> { TypedValue = cutoff.UtcDateTime, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz });
            await purge.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }
        return dropped;
    }

    /// <summary>The range partitions of <paramref name="table"/> (DEFAULT excluded), oldest first.</summary>
    public static async Task<IReadOnlyList<TimePartition>> ListAsync(NpgsqlConnection conn, string table, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(conn);
        // Bounds are rendered in the session time zone; pin it so parsing is exact.
        await using (var tz = new NpgsqlCommand("SET TIME ZONE 'UTC'", conn))
        {
            await tz.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }
        await using var cmd = new NpgsqlCommand("""
            SELECT c.relname, pg_get_expr(c.relpartbound, c.oid)
            FROM pg_inherits i
            JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = to_regclass($1)
            """, conn);
        cmd.Parameters.Add(new NpgsqlParameter<string> { TypedValue = table });
        var list = new List<TimePartition>();
        await using (var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(ct).ConfigureAwait(false))
            {
                var m = BoundPattern().Match(reader.GetString(1));
                if (m.Success)
                {
                    list.Add(new TimePartition(table, reader.GetString(0), ParseBound(m.Groups[1].Value), ParseBound(m.Groups[2].Value)));
                }
            }
        }
        list.Sort((a, b) => a.From.CompareTo(b.From));
        return list;
    }

    public static DateTimeOffset AlignDown(DateTimeOffset t, TimeSpan interval)
    {
        var ticks = (t.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / interval.Ticks * interval.Ticks;
        if (t.UtcTicks < DateTimeOffset.UnixEpoch.UtcTicks && ticks != t.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks)
        {
            ticks -= interval.Ticks;
        }
        return new DateTimeOffset(DateTimeOffset.UnixEpoch.UtcTicks + ticks, TimeSpan.Zero);
    }

    public static string PartitionName(string table, DateTimeOffset from) =>
        $"{table}_p{from.UtcDateTime.ToString("yyyyMMddHH", CultureInfo.InvariantCulture)}";

    private static async Task<bool> CreatePartitionAsync(NpgsqlConnection conn, StorageOptions options, string table, string column,
        DateTimeOffset from, DateTimeOffset to, CancellationToken ct)
    {
        var name = PartitionName(table, from);
        if (await ExistsAsync(conn, null, name, ct).ConfigureAwait(false))
        {
            return false;
        }
        await using var tx = await conn.BeginTransactionAsync(ct).ConfigureAwait(false);
        await using (var lk = new NpgsqlCommand($"SELECT pg_advisory_xact_lock({MaintenanceLockKey})", conn, tx))
        {
            await lk.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }
        if (await ExistsAsync(conn, tx, name, ct).ConfigureAwait(false))
        {
            return false;
        }
        foreach (var existing in await ListAsync(conn, table, ct).ConfigureAwait(false))
        {
            // A partition of another width (ChunkInterval changed) already covers part of this range.
            if (existing.From < to && from < existing.To)
            {
                return false;
            }
        }
        var fromLit = Schema.Literal(from.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'+00'", CultureInfo.InvariantCulture));
        var toLit = Schema.Literal(to.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'+00'", CultureInfo.InvariantCulture));
        // Create detached, move rows the DEFAULT partition caught for this range, then attach: ATTACH checks that
        // DEFAULT no longer holds rows of the range, which is true inside this transaction.
        string[] steps =
        [
            $"CREATE TABLE {name} (LIKE {table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)",
            $"WITH moved AS (DELETE FROM {table}_default WHERE {column} >= {fromLit} AND {column} < {toLit} RETURNING *) INSERT INTO {name} SELECT * FROM moved",
            $"ALTER TABLE {table} ATTACH PARTITION {name} FOR VALUES FROM ({fromLit}) TO ({toLit})",
        ];
        foreach (var sql in steps)
        {
            await using var cmd = new NpgsqlCommand(sql, conn, tx) { CommandTimeout = options.CommandTimeout };
            await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }
        await tx.CommitAsync(ct).ConfigureAwait(false);
        return true;
    }

    private static async Task<bool> ExistsAsync(NpgsqlConnection conn, NpgsqlTransaction? tx, string name, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("SELECT to_regclass($1) IS NOT NULL", conn, tx);
        cmd.Parameters.Add(new NpgsqlParameter<string> { TypedValue = name });
        return (bool)(await cmd.ExecuteScalarAsync(ct).ConfigureAwait(false))!;
    }

    internal static async Task<bool> IsNativeAsync(NpgsqlConnection conn, CancellationToken ct)
    {
        var (version, mode) = await SchemaMigrator.ReadVersionAsync(conn, ct).ConfigureAwait(false);
        return version >= 1 && mode == StorageMode.NativePartitions;
    }

    private static DateTimeOffset ParseBound(string text) =>
        DateTimeOffset.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);

    [GeneratedRegex(@"FROM \('([^']+)'\) TO \('([^']+)'\)", RegexOptions.CultureInvariant)]
    private static partial Regex BoundPattern();
}
