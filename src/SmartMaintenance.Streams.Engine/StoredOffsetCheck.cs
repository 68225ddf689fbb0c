using System.Globalization;
using System.Text;
using Confluent.Kafka;
using Npgsql;
using Prometheus;
using SmartMaintenance.Streams.Kafka;

namespace SmartMaintenance.Streams.Engine;

/// <summary>Stored offsets that cannot belong to the topic as it is now: the engine refuses to start on them.</summary>
public sealed class StaleOffsetsException(string message) : Exception(message);

/// <summary>
/// Before the engine consumes, compares the offsets of record in <c>stream_offsets</c> with the topic's watermarks. An
/// offset beyond a partition's end (the topic was recreated, or the cluster replaced, since it was stored), before its
/// start (retention deleted records never stored), or of a partition the topic no longer has cannot be sought to
/// without silently skipping or waiting: the engine stops with a message naming the partitions and the way out
/// (<c>smstream db offsets reset</c>).
/// </summary>
public static class StoredOffsetCheck
{
    private static readonly Counter Stale = Metrics.CreateCounter(
        "smstream_engine_stale_offsets_total",
        "Stored offsets found at start-up that cannot belong to the topic: beyond_end, before_start, missing_partition (the engine refuses to start).",
        new CounterConfiguration { LabelNames = ["kind"] });

    /// <summary>One stored offset that does not fit the topic.</summary>
    public readonly record struct Finding(int Partition, long Stored, long Low, long High, string Kind);

    /// <summary>The stored offsets of <paramref name="group"/> on <paramref name="topic"/> that do not fit the topic's
    /// current watermarks (empty when all fit or none are stored).</summary>
    public static async Task<List<Finding>> FindAsync(string connectionString, string group, string topic, KafkaOptions kafka, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(kafka);
        if (string.IsNullOrEmpty(connectionString))
        {
            return [];
        }
        var stored = await ReadStoredAsync(connectionString, group, topic, ct).ConfigureAwait(false);
        var findings = new List<Finding>();
        if (stored.Count == 0)
        {
            return findings;
        }
        return await Task.Run(() =>
        {
            using var consumer = new ConsumerBuilder<Ignore, Ignore>(kafka.BuildConsumerConfig(group)).Build();
            using var admin = new DependentAdminClientBuilder(consumer.Handle).Build();
            var partitions = PartitionCount(admin, topic);
            foreach (var (partition, next) in stored.OrderBy(p => p.Key))
            {
                if (partition >= partitions)
                {
                    findings.Add(new Finding(partition, next, -1, -1, "missing_partition"));
                    continue;
                }
                var w = consumer.QueryWatermarkOffsets(new TopicPartition(topic, partition), TimeSpan.FromSeconds(30));
                if (next > w.High.Value)
                {
                    findings.Add(new Finding(partition, next, w.Low.Value, w.High.Value, "beyond_end"));
                }
                else if (next < w.Low.Value)
                {
                    findings.Add(new Finding(partition, next, w.Low.Value, w.High.Value, "before_start"));
                }
            }
            return findings;
        }, ct).ConfigureAwait(false);
    }

    /// <summary>next_offset per partition stored for <paramref name="group"/> on <paramref name="topic"/>.</summary>
    internal static async Task<Dictionary<int, long>> ReadStoredAsync(string connectionString, string group, string topic, CancellationToken ct)
    {
        var stored = new Dictionary<int, long>();
        await using var conn = new NpgsqlConnection(connectionString);
        await conn.OpenAsync(ct).ConfigureAwait(false);
        await using var cmd = new NpgsqlCommand("SELECT partition, next_offset FROM stream_offsets WHERE consumer_group = $1 AND topic = $2", conn);
        cmd.Parameters.Add(new NpgsqlParameter<string> { TypedValue = group });
        cmd.Parameters.Add(new NpgsqlParameter<string> { TypedValue = topic });
        await using var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        while (await reader.ReadAsync(ct).ConfigureAwait(false))
        {
            stored[reader.GetInt32(0)] = reader.GetInt64(1);
        }
        return stored;
    }

    /// <summary>Partitions of <paramref name="topic"/> in the cluster's metadata; 0 when it does not exist.</summary>
    internal static int PartitionCount(IAdminClient admin, string topic)
    {
        var metadata = admin.GetMetadata(topic, TimeSpan.FromSeconds(30));
        return metadata.Topics.Count == 1 && metadata.Topics[0].Error.Code == ErrorCode.NoError ? metadata.Topics[0].Partitions.Count : 0;
    }

    /// <summary>Throws <see cref="StaleOffsetsException"/> when any stored offset does not fit the topic.</summary>
    public static async Task VerifyAsync(string connectionString, string group, string topic, KafkaOptions kafka, CancellationToken ct)
    {
        var findings = await FindAsync(connectionString, group, topic, kafka, ct).ConfigureAwait(false);
        if (findings.Count == 0)
        {
            return;
        }
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"the offsets stored in the database for group '{group}' on topic '{topic}' cannot belong to this topic: ");
        for (var i = 0; i < findings.Count; i++)
        {
            var f = findings[i];
            Stale.WithLabels(f.Kind).Inc();
            text.Append(i == 0 ? "" : "; ").Append(f.Kind switch
            {
                "beyond_end" => string.Create(CultureInfo.InvariantCulture, $"partition {f.Partition} stored {f.Stored}, beyond its end {f.High}"),
                "before_start" => string.Create(CultureInfo.InvariantCulture, $"partition {f.Partition} stored {f.Stored}, before its first retained offset {f.Low} (records {f.Stored}..{f.Low - 1} were deleted unread)"),
                _ => string.Create(CultureInfo.InvariantCulture, $"partition {f.Partition} stored {f.Stored}, but the topic has no such partition"),
            });
        }
        text.Append(". The topic was recreated, the cluster replaced or retention outran the engine. Choose where to resume: ")
            .Append("smstream db offsets reset --group ").Append(group).Append(" --topic ").Append(topic)
            .Append(" --to earliest|latest|<RFC 3339 time> --dry-run (then without --dry-run).");
        throw new StaleOffsetsException(text.ToString());
    }
}
