using System.Globalization;
using System.Text;
using SmartMaintenance.Streams.Contracts;

namespace SmartMaintenance.Streams.Operations.Dlq;

/// <summary>One dead-letter record as read from a DLQ topic; its own topic/partition/offset identify it.</summary>
public sealed record DlqRecord(
    string Topic, int Partition, long Offset, DateTimeOffset KafkaTimestamp,
    byte[]? Key, byte[] Value, IReadOnlyList<KeyValuePair<string, byte[]>> Headers)
{
    /// <summary>Last value of a header as UTF-8 (a producer may repeat a header; the last one wins), or null.</summary>
    public string? Header(string name)
    {
        for (var i = Headers.Count - 1; i >= 0; i--)
        {
            if (string.Equals(Headers[i].Key, name, StringComparison.Ordinal))
            {
                return Headers[i].Value is { } v ? Encoding.UTF8.GetString(v) : "";
            }
        }
        return null;
    }

    /// <summary>The <c>dlq.reason</c> code; "unknown" for a record written without one.</summary>
    public string Reason => Header(DlqHeaders.Reason) is { Length: > 0 } r ? r : "unknown";

    public string Detail => Header(DlqHeaders.Detail) ?? "";

    public string? SourceTopic => Header(DlqHeaders.SourceTopic) is { Length: > 0 } t ? t : null;

    public int? SourcePartition => int.TryParse(Header(DlqHeaders.SourcePartition), NumberStyles.Integer, CultureInfo.InvariantCulture, out var p) ? p : null;

    public long? SourceOffset => long.TryParse(Header(DlqHeaders.SourceOffset), NumberStyles.Integer, CultureInfo.InvariantCulture, out var o) ? o : null;

    public int? SourceIndex => int.TryParse(Header(DlqHeaders.SourceIndex), NumberStyles.Integer, CultureInfo.InvariantCulture, out var i) ? i : null;

    /// <summary>Set when this record is itself a replay that was dead-lettered again.</summary>
    public string? ReplayedFrom => Header(DlqHeaders.ReplayedFrom);

    /// <summary>When it was dead-lettered: <c>dlq.time</c>, else the Kafka timestamp.</summary>
    public DateTimeOffset Time =>
        DateTimeOffset.TryParse(Header(DlqHeaders.Time), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t) ? t.ToUniversalTime() : KafkaTimestamp;

    /// <summary>"topic/partition/offset": the identity written to <c>dlq.replayed.from</c>.</summary>
    public string Coordinates => string.Create(CultureInfo.InvariantCulture, $"{Topic}/{Partition}/{Offset}");
}

/// <summary>Which DLQ records a command works on.</summary>
public sealed record DlqFilter
{
    /// <summary>Reason codes to keep (empty: all).</summary>
    public IReadOnlySet<string> Reasons { get; init; } = new HashSet<string>(StringComparer.Ordinal);

    /// <summary>Keep records dead-lettered at or after this time.</summary>
    public DateTimeOffset? Since { get; init; }

    public bool Matches(DlqRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        return (Reasons.Count == 0 || Reasons.Contains(record.Reason)) && (Since is not { } since || record.Time >= since);
    }
}
