using System.Globalization;
using Confluent.Kafka;
using Npgsql;
using SmartMaintenance.Streams.Kafka;

namespace SmartMaintenance.Streams.Engine;

/// <summary>
/// Moves a group's offsets of record (<c>stream_offsets</c>) to the start or end of the topic or to the first record at
/// or after a time — the way out <see cref="StoredOffsetCheck"/> names. Rows of partitions the topic no longer has are
/// deleted. Run it with the engines of the group stopped.
/// </summary>
public static class OffsetReset
{
    /// <summary>One partition's move: <see cref="From"/> is null when nothing was stored, <see cref="To"/> null when the row goes.</summary>
    public readonly record struct Move(int Partition, long? From, long? To);

    /// <summary>Parses <c>earliest</c>, <c>latest</c> or an RFC 3339 time; null when <paramref name="to"/> is none of them.</summary>
    public static DateTimeOffset? ParseTime(string to) =>
        DateTimeOffset.TryParse(to, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t) ? t : null;

    /// <summary>What a reset to <paramref name="to"/> would change (nothing is written).</summary>
    public static async Task<List<Move>> PlanAsync(string connectionString, string group, string topic, KafkaOptions kafka, string to, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(kafka);
        ArgumentNullException.ThrowIfNull(to);
        DateTimeOffset? time = to is "earliest" or "latest" ? null : ParseTime(to) ?? throw new ArgumentException($"--to '{to}' is not earliest, latest or an RFC 3339 time", nameof(to));
        var stored = await StoredOffsetCheck.ReadStoredAsync(connectionString, group, topic, ct).ConfigureAwait(false);
        return await Task.Run(() =>
        {
            using var consumer = new ConsumerBuilder<Ignore, Ignore>(kafka.BuildConsumerConfig(group)).Build();
            using var admin = new DependentAdminClientBuilder(consumer.Handle).Build();
            var count = StoredOffsetCheck.PartitionCount(admin, topic);
            if (count == 0)
            {
                throw new InvalidOperationException($"topic '{topic}' does not exist on {kafka.BootstrapServers}");
            }
            var moves = new List<Move>();
            for (var p = 0; p < count; p++)
            {
                var tp = new TopicPartition(topic, p);
                var w = consumer.QueryWatermarkOffsets(tp, TimeSpan.FromSeconds(30));
                long target;
                if (time is { } t)
                {
                    var found = consumer.OffsetsForTimes([new TopicPartitionTimestamp(tp, new Timestamp(t))], TimeSpan.FromSeconds(30))[0].Offset;
                    target = found.IsSpecial ? w.High.Value : found.Value;
                }
                else
                {
                    target = to == "earliest" ? w.Low.Value : w.High.Value;
                }
                moves.Add(new Move(p, stored.TryGetValue(p, out var s) ? s : null, target));
            }
            foreach (var (p, s) in stored)
            {
                if (p >= count)
                {
                    moves.Add(new Move(p, s, null));
                }
            }
            return moves;
        }, ct).ConfigureAwait(false);
    }

    /// <summary>Writes <paramref name="moves"/> in one transaction (replay starts at the new offset: no window state
    /// before it is rebuilt).</summary>
    public static async Task ApplyAsync(string connectionString, string group, string topic, IReadOnlyList<Move> moves, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(moves);
        await using var conn = new NpgsqlConnection(connectionString);
        await conn.OpenAsync(ct).ConfigureAwait(false);
        await using var tx = await conn.BeginTransactionAsync(ct).ConfigureAwait(false);
        foreach (var m in moves)
        {
            await using var cmd = m.To is { } to
                ? new NpgsqlCommand("""
                    INSERT INTO stream_offsets (consumer_group, topic, partition, next_offset, replay_from) VALUES ($1, $2, $3, $4, $4)
                    ON CONFLICT (consumer_group, topic, partition) DO UPDATE SET next_offset = $4, replay_from = $4, watermark = NULL, updated_at = now()
                    """, conn, tx)
                : new NpgsqlCommand("DELETE FROM stream_offsets WHERE consumer_group = $1 AND topic = $2 AND partition = $3", conn, tx);
            cmd.Parameters.Add(new NpgsqlParameter<string> { TypedValue = group });
            cmd.Parameters.Add(new NpgsqlParameter<string> { TypedValue = topic });
            cmd.Parameters.Add(new NpgsqlParameter<int> { TypedValue = m.Partition });
            if (m.To is { } value)
            {
                cmd.Parameters.Add(new NpgsqlParameter<long> { TypedValue = value });
            }
            await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }
        await tx.CommitAsync(ct).ConfigureAwait(false);
    }
}
