using Npgsql;
using NpgsqlTypes;

namespace SmartMaintenance.Streams.Operations.Dlq;

/// <summary>
/// The table <c>dlq_replays</c>: one row per DLQ record (its own topic/partition/offset; kafka_index 0) that a replay
/// has claimed. The primary key makes a claim atomic across concurrent replays.
/// </summary>
public sealed class ReplayLedger(NpgsqlDataSource dataSource)
{
    private readonly NpgsqlDataSource _db = dataSource ?? throw new ArgumentNullException(nameof(dataSource));

    /// <summary>Claims the records; returns those this call claimed (the others were replayed before).
    /// With <paramref name="force"/>, existing claims are taken over (replayed_at renewed) and all are returned.</summary>
    public async Task<HashSet<(int Partition, long Offset)>> ClaimAsync(string topic, IReadOnlyList<DlqRecord> records, bool force, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(records);
        var conflict = force ? "ON CONFLICT (topic, partition, kafka_offset, kafka_index) DO UPDATE SET replayed_at = now()" : "ON CONFLICT DO NOTHING";
        var sql = $"""
            INSERT INTO dlq_replays (topic, partition, kafka_offset, kafka_index)
            SELECT $1, p, o, 0 FROM unnest($2::int[], $3::bigint[]) AS t(p, o)
            {conflict}
            RETURNING partition, kafka_offset
            """;
        return await QueryPairsAsync(sql, topic, records, ct).ConfigureAwait(false);
    }

    /// <summary>Gives claims back (their produce failed) so a later replay retries them.</summary>
    public async Task ReleaseAsync(string topic, IReadOnlyList<DlqRecord> records, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(records);
        if (records.Count == 0)
        {
            return;
        }
        const string sql = """
            DELETE FROM dlq_replays r USING unnest($2::int[], $3::bigint[]) AS t(p, o)
            WHERE r.topic = $1 AND r.partition = t.p AND r.kafka_offset = t.o AND r.kafka_index = 0
            RETURNING r.partition, r.kafka_offset
            """;
        await QueryPairsAsync(sql, topic, records, ct).ConfigureAwait(false);
    }

    /// <summary>Which of the records were already claimed, and when.</summary>
    public async Task<Dictionary<(int Partition, long Offset), DateTimeOffset>> ReplayedAsync(string topic, CancellationToken ct)
    {
        var result = new Dictionary<(int, long), DateTimeOffset>();
        await using var cmd = _db.CreateCommand("SELECT partition, kafka_offset, replayed_at FROM dlq_replays WHERE topic = $1 AND kafka_index = 0");
        cmd.Parameters.Add(new NpgsqlParameter { Value = topic });
        await using var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        while (await reader.ReadAsync(ct).ConfigureAwait(false))
        {
            result[(reader.GetInt32(0), reader.GetInt64(1))] = reader.GetFieldValue<DateTimeOffset>(2);
        }
        return result;
    }

    /// <summary>The lowest event-time watermark (Unix ms) the engines stored for <paramref name="topic"/>, or null.</summary>
    public async Task<long?> WatermarkFloorAsync(string topic, CancellationToken ct)
    {
        await using var cmd = _db.CreateCommand("SELECT min(watermark) FROM stream_offsets WHERE topic = $1 AND watermark IS NOT NULL");
        cmd.Parameters.Add(new NpgsqlParameter { Value = topic });
        return await cmd.ExecuteScalarAsync(ct).ConfigureAwait(false) is long w ? w : null;
    }

    private async Task<HashSet<(int, long)>> QueryPairsAsync(string sql, string topic, IReadOnlyList<DlqRecord> records, CancellationToken ct)
    {
        var partitions = new int[records.Count];
        var offsets = new long[records.Count];
        for (var i = 0; i < records.Count; i++)
        {
            partitions[i] = records[i].Partition;
            offsets[i] = records[i].Offset;
        }
        await using var cmd = _db.CreateCommand(sql);
        cmd.Parameters.Add(new NpgsqlParameter { Value = topic });
        cmd.Parameters.Add(new NpgsqlParameter { Value = partitions, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Integer });
        cmd.Parameters.Add(new NpgsqlParameter { Value = offsets, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint });
        var result = new HashSet<(int, long)>();
        await using var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        while (await reader.ReadAsync(ct).ConfigureAwait(false))
        {
            result.Add((reader.GetInt32(0), reader.GetInt64(1)));
        }
        return result;
    }
}
