using Confluent.Kafka;
using SmartMaintenance.Streams.Kafka;

namespace SmartMaintenance.Streams.Operations.Dlq;

/// <summary>
/// Reads a DLQ topic from the beginning up to the high watermarks seen when reading starts, without a consumer
/// group's committed offsets (assign, no commit), so inspecting never moves anyone's position.
/// </summary>
public sealed class DlqReader(KafkaOptions kafka)
{
    private readonly KafkaOptions _kafka = kafka ?? throw new ArgumentNullException(nameof(kafka));

    /// <summary>How long to wait for metadata and for each fetch before giving up on an unreachable broker.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(30);

    public IEnumerable<DlqRecord> Read(string topic, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(topic);
        var partitions = PartitionsOf(topic);
        var config = _kafka.BuildConsumerConfig("smstream-dlq-reader-" + Guid.NewGuid().ToString("N")[..8]);
        config.EnableAutoCommit = false;
        config.EnableAutoOffsetStore = false;
        using var consumer = new ConsumerBuilder<byte[]?, byte[]>(config).Build();
        var ends = new Dictionary<int, long>();
        var assignment = new List<TopicPartitionOffset>();
        foreach (var p in partitions)
        {
            var w = consumer.QueryWatermarkOffsets(new TopicPartition(topic, p), Timeout);
            if (w.High.Value > w.Low.Value)
            {
                ends[p] = w.High.Value;
                assignment.Add(new TopicPartitionOffset(topic, p, w.Low));
            }
        }
        if (assignment.Count == 0)
        {
            yield break;
        }
        consumer.Assign(assignment);
        var lastProgress = DateTime.UtcNow;
        try
        {
            while (ends.Count > 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var cr = consumer.Consume(TimeSpan.FromMilliseconds(200));
                if (cr is null || cr.IsPartitionEOF)
                {
                    if (DateTime.UtcNow - lastProgress > Timeout)
                    {
                        throw new TimeoutException($"reading {topic}: no progress for {Timeout.TotalSeconds:0} s (partitions left: {string.Join(',', ends.Keys)})");
                    }
                    continue;
                }
                lastProgress = DateTime.UtcNow;
                var partition = cr.Partition.Value;
                if (!ends.TryGetValue(partition, out var end) || cr.Offset.Value >= end)
                {
                    ends.Remove(partition);
                    continue;
                }
                if (cr.Offset.Value + 1 >= end)
                {
                    ends.Remove(partition);
                }
                yield return ToRecord(cr);
            }
        }
        finally
        {
            consumer.Close();
        }
    }

    private List<int> PartitionsOf(string topic)
    {
        using var admin = new AdminClientBuilder(_kafka.BuildAdminClientConfig()).Build();
        var metadata = admin.GetMetadata(topic, Timeout);
        var t = metadata.Topics.Find(x => x.Topic == topic) ?? throw new InvalidOperationException($"topic {topic} does not exist");
        if (t.Error.IsError)
        {
            throw new KafkaException(t.Error);
        }
        var result = new List<int>(t.Partitions.Count);
        foreach (var p in t.Partitions)
        {
            result.Add(p.PartitionId);
        }
        result.Sort();
        return result;
    }

    private static DlqRecord ToRecord(ConsumeResult<byte[]?, byte[]> cr)
    {
        var headers = new List<KeyValuePair<string, byte[]>>();
        if (cr.Message.Headers is { } hs)
        {
            foreach (var h in hs)
            {
                headers.Add(new KeyValuePair<string, byte[]>(h.Key, h.GetValueBytes() ?? []));
            }
        }
        return new DlqRecord(cr.Topic, cr.Partition.Value, cr.Offset.Value, cr.Message.Timestamp.UtcDateTime,
            cr.Message.Key, cr.Message.Value ?? [], headers);
    }
}
