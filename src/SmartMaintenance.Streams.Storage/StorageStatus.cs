using Npgsql;

namespace SmartMaintenance.Streams.Storage;

/// <summary>Size of one table: partitions (native) or chunks (TimescaleDB), bytes incl. indexes, estimated rows.</summary>
public sealed record TableStatus(string Table, int Partitions, long TotalBytes, long EstimatedRows)
{
    /// <summary>TimescaleDB: chunks converted to the columnstore (compressed).</summary>
    public int CompressedChunks { get; init; }

    /// <summary>TimescaleDB: total bytes of the compressed chunks before / after compression (0 when none).</summary>
    public long BytesBeforeCompression { get; init; }

    public long BytesAfterCompression { get; init; }
}

/// <summary>One TimescaleDB background job (policy) of this schema's hypertables and continuous aggregates.</summary>
public sealed record JobStatus(int JobId, string Procedure, string Relation, TimeSpan ScheduleInterval, DateTimeOffset? NextStart, long TotalRuns);

/// <summary>One stored offset row.</summary>
public sealed record StoredOffset(string ConsumerGroup, string Topic, int Partition, long NextOffset, long ReplayFrom, DateTimeOffset UpdatedAt);

/// <summary>What <c>smstream db status</c> shows.</summary>
public sealed record StorageStatus(int SchemaVersion, StorageMode? Mode, bool TimescaleDbInstalled, string ServerVersion,
    IReadOnlyList<TableStatus> Tables, IReadOnlyList<StoredOffset> Offsets)
{
    /// <summary>TimescaleDB policies (compression, retention, continuous aggregate refresh) with their run counts.</summary>
    public IReadOnlyList<JobStatus> Jobs { get; init; } = [];

    private static readonly string[] OtherTables = ["alerts", "alert_deliveries", "stream_offsets", "dlq_replays", "model_registry"];

    public static async Task<StorageStatus> ReadAsync(string connectionString, CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        try
        {
            await using var conn = new NpgsqlConnection(connectionString);
            await conn.OpenAsync(ct).ConfigureAwait(false);
            var (version, mode) = await SchemaMigrator.ReadVersionAsync(conn, ct).ConfigureAwait(false);
            var timescale = await ScalarAsync<bool>(conn, "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')", null, ct).ConfigureAwait(false);
            var server = await ScalarAsync<string>(conn, "SHOW server_version", null, ct).ConfigureAwait(false);
            var tables = new List<TableStatus>();
            var offsets = new List<StoredOffset>();
            var jobs = new List<JobStatus>();
            if (version >= 1)
            {
                foreach (var (table, _) in Schema.TimeSeriesTables)
                {
                    tables.Add(mode == StorageMode.TimescaleDb && timescale
                        ? await HypertableAsync(conn, table, ct).ConfigureAwait(false)
                        : await PartitionedAsync(conn, table, ct).ConfigureAwait(false));
                }
                foreach (var table in OtherTables)
                {
                    tables.Add(await PartitionedAsync(conn, table, ct).ConfigureAwait(false));
                }
                if (mode == StorageMode.TimescaleDb && timescale)
                {
                    await ReadJobsAsync(conn, jobs, ct).ConfigureAwait(false);
                }
                await using var cmd = new NpgsqlCommand(
                    "SELECT consumer_group, topic, partition, next_offset, replay_from, updated_at FROM stream_offsets ORDER BY 1, 2, 3", conn);
                await using var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
                while (await reader.ReadAsync(ct).ConfigureAwait(false))
                {
                    offsets.Add(new StoredOffset(reader.GetString(0), reader.GetString(1), reader.GetInt32(2), reader.GetInt64(3), reader.GetInt64(4),
                        new DateTimeOffset(reader.GetDateTime(5), TimeSpan.Zero)));
                }
            }
            return new StorageStatus(version, mode, timescale, server, tables, offsets) { Jobs = jobs };
        }
        catch (Exception ex) when (StorageErrors.Classify(ex) is StorageException se && !ReferenceEquals(se, ex))
        {
            throw se;
        }
    }

    private static async Task<TableStatus> PartitionedAsync(NpgsqlConnection conn, string table, CancellationToken ct)
    {
        // pg_partition_tree is empty for a plain table, which then counts as its own single leaf; reltuples is -1 before the first ANALYZE.
        await using var cmd = new NpgsqlCommand("""
            SELECT count(*) FILTER (WHERE t.isleaf AND t.level > 0)::int,
                   coalesce(sum(pg_total_relation_size(t.relid)), 0)::bigint,
                   coalesce(sum(greatest(c.reltuples, 0)) FILTER (WHERE t.isleaf), 0)::bigint
            FROM (SELECT relid, isleaf, level FROM pg_partition_tree($1::regclass)
                  UNION ALL
                  SELECT $1::regclass, true, 0 WHERE NOT EXISTS (SELECT 1 FROM pg_partition_tree($1::regclass))) t
            JOIN pg_class c ON c.oid = t.relid
            """, conn);
        cmd.Parameters.Add(new NpgsqlParameter<string> { TypedValue = table });
        await using var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        await reader.ReadAsync(ct).ConfigureAwait(false);
        return new TableStatus(table, reader.GetInt32(0), reader.GetInt64(1), reader.GetInt64(2));
    }

    private static async Task<TableStatus> HypertableAsync(NpgsqlConnection conn, string table, CancellationToken ct)
    {
        // The schema filter matters where several schemas of one database hold the same tables (the tests do).
        await using var cmd = new NpgsqlCommand("""
            SELECT count(*)::int, (count(*) FILTER (WHERE is_compressed))::int,
                   coalesce(hypertable_size($1::regclass), 0)::bigint,
                   coalesce(approximate_row_count($1::regclass), 0)::bigint,
                   coalesce((SELECT sum(before_compression_total_bytes) FROM hypertable_compression_stats($1::regclass)), 0)::bigint,
                   coalesce((SELECT sum(after_compression_total_bytes) FROM hypertable_compression_stats($1::regclass)), 0)::bigint
            FROM timescaledb_information.chunks WHERE hypertable_schema = current_schema() AND hypertable_name = $1
            """, conn);
        cmd.Parameters.Add(new NpgsqlParameter<string> { TypedValue = table });
        await using var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        await reader.ReadAsync(ct).ConfigureAwait(false);
        return new TableStatus(table, reader.GetInt32(0), reader.GetInt64(2), reader.GetInt64(3))
        {
            CompressedChunks = reader.GetInt32(1),
            BytesBeforeCompression = reader.GetInt64(4),
            BytesAfterCompression = reader.GetInt64(5),
        };
    }

    private static async Task ReadJobsAsync(NpgsqlConnection conn, List<JobStatus> jobs, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("""
            SELECT j.job_id, j.proc_name, j.hypertable_name, j.schedule_interval, j.next_start, coalesce(s.total_runs, 0)
            FROM timescaledb_information.jobs j
            LEFT JOIN timescaledb_information.job_stats s ON s.job_id = j.job_id
            WHERE j.hypertable_schema = current_schema()
            ORDER BY j.job_id
            """, conn);
        await using var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        while (await reader.ReadAsync(ct).ConfigureAwait(false))
        {
            jobs.Add(new JobStatus(reader.GetInt32(0), reader.GetString(1), reader.GetString(2), reader.GetTimeSpan(3),
                reader.IsDBNull(4) ? null : new DateTimeOffset(reader.GetDateTime(4), TimeSpan.Zero), reader.GetInt64(5)));
        }
    }

    private static async Task<T> ScalarAsync<T>(NpgsqlConnection conn, string sql, NpgsqlTransaction? tx, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(sql, conn, tx);
        return (T)(await cmd.ExecuteScalarAsync(ct).ConfigureAwait(false))!;
    }
}
