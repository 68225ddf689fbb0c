using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Confluent.Kafka;
using Prometheus;
using SmartMaintenance.Streams.Contracts;

namespace SmartMaintenance.Streams.Engine;

/// <summary>
/// Keeps a dead letter deliverable whatever the size of the record it carries (docs/contracts/dlq.md, "Records too
/// large for the DLQ"). A copy that would exceed the producer's <c>message.max.bytes</c> leaves with its value cut to
/// fit; one the broker refuses as too large (the broker's or the DLQ topic's limit is lower) is sent again with an
/// empty value, then without the original headers. Every cut record carries the original value's size and SHA-256
/// plus its source coordinates, so the original can be found on the input topic while it is retained.
/// </summary>
internal sealed class DeadLetterSizer
{
    /// <summary>Room left for the record's framing and the headers this class adds.</summary>
    private const int Reserve = 1024;

    private static readonly Counter Cut = Metrics.CreateCounter(
        "smstream_dlq_truncated_records_total",
        "DLQ records whose value was cut to fit: fit (over the producer's message.max.bytes), broker_rejected (the broker or the DLQ topic refused the size), headers_dropped (refused again; sent without the original headers), undeliverable (refused even then; logged, the offset still moves on).",
        new CounterConfiguration { LabelNames = ["stage"] });

    private readonly int _maxBytes;

    public DeadLetterSizer(ProducerConfig producer)
    {
        ArgumentNullException.ThrowIfNull(producer);
        _maxBytes = producer.MessageMaxBytes ?? 1_000_000;
    }

    /// <summary>True when a delivery failed because some limit on message size refused it.</summary>
    public static bool IsTooLarge(Error error) =>
        error.Code is ErrorCode.MsgSizeTooLarge or ErrorCode.RecordListTooLarge;

    /// <summary><paramref name="message"/> itself when it fits the producer's limit, else a copy whose value is cut.</summary>
    public Message<byte[], byte[]> Fit(Message<byte[], byte[]> message)
    {
        ArgumentNullException.ThrowIfNull(message);
        var others = (message.Key?.Length ?? 0) + HeaderBytes(message.Headers);
        if (others + message.Value.Length + Reserve <= _maxBytes)
        {
            return message;
        }
        Cut.WithLabels("fit").Inc();
        return Truncate(message, Math.Max(0, _maxBytes - others - Reserve), keepOriginalHeaders: true);
    }

    /// <summary>The next, smaller form of a DLQ record the broker refused as too large; null when nothing smaller is
    /// left to try (the caller logs it and moves on).</summary>
    public static Message<byte[], byte[]>? Shrink(Message<byte[], byte[]> refused)
    {
        ArgumentNullException.ThrowIfNull(refused);
        if (refused.Value.Length > 0)
        {
            Cut.WithLabels("broker_rejected").Inc();
            return Truncate(refused, 0, keepOriginalHeaders: true);
        }
        if (HasForeignHeaders(refused.Headers))
        {
            Cut.WithLabels("headers_dropped").Inc();
            return Truncate(refused, 0, keepOriginalHeaders: false);
        }
        Cut.WithLabels("undeliverable").Inc();
        return null;
    }

    private static Message<byte[], byte[]> Truncate(Message<byte[], byte[]> message, int keep, bool keepOriginalHeaders)
    {
        var headers = new Headers();
        var original = message.Headers;
        var hasOriginal = original is not null && original.TryGetLastBytes(DlqHeaders.OriginalSize, out _);
        if (original is not null)
        {
            foreach (var h in original)
            {
                if (h.Key == DlqHeaders.Truncated || (!keepOriginalHeaders && !h.Key.StartsWith("dlq.", StringComparison.Ordinal)))
                {
                    continue;
                }
                headers.Add(h.Key, h.GetValueBytes());
            }
        }
        if (!hasOriginal)
        {
            // First cut: the value in hand is the original.
            headers.Add(DlqHeaders.OriginalSize, Ascii(message.Value.Length));
            headers.Add(DlqHeaders.OriginalSha256, Encoding.ASCII.GetBytes(Convert.ToHexStringLower(SHA256.HashData(message.Value))));
        }
        var kept = Math.Min(keep, message.Value.Length);
        headers.Add(DlqHeaders.Truncated, Ascii(kept));
        return new Message<byte[], byte[]> { Key = message.Key, Value = message.Value.AsSpan(0, kept).ToArray(), Headers = headers };
    }

    private static bool HasForeignHeaders(Headers? headers)
    {
        if (headers is not null)
        {
            foreach (var h in headers)
            {
                if (!h.Key.StartsWith("dlq.", StringComparison.Ordinal))
                {
                    return true;
                }
            }
        }
        return false;
    }

    private static int HeaderBytes(Headers? headers)
    {
        var total = 0;
        if (headers is not null)
        {
            foreach (var h in headers)
            {
                total += Encoding.UTF8.GetByteCount(h.Key) + (h.GetValueBytes()?.Length ?? 0) + 8;
            }
        }
        return total;
    }

    private static byte[] Ascii(int n) => Encoding.ASCII.GetBytes(n.ToString(CultureInfo.InvariantCulture));
}
