using SmartMaintenance.Streams.Contracts;

namespace SmartMaintenance.Streams.Alerting.Notifier;

/// <summary>One delivery target. Makes a single attempt; retries, dedup and dead-lettering are the dispatcher's.</summary>
/// <remarks>Implementations do not throw for delivery failures: they classify them into a <see cref="DeliveryOutcome"/>.
/// Only cancellation of <c>cancellationToken</c> surfaces as <see cref="OperationCanceledException"/>.</remarks>
public interface IAlertChannel
{
    /// <summary>The configured channel name (label of metrics, column of the delivery log).</summary>
    string Name { get; }

    /// <summary>Delivers one event; <paramref name="idempotencyKey"/> lets the receiver drop a redelivery.</summary>
    ValueTask<DeliveryOutcome> DeliverAsync(AlertEvent alert, string idempotencyKey, CancellationToken cancellationToken);

    /// <summary>Delivers what the rate limit held back as one message.</summary>
    ValueTask<DeliveryOutcome> DeliverDigestAsync(AlertDigest digest, CancellationToken cancellationToken);
}

public enum DeliveryStatus
{
    Delivered,
    /// <summary>Worth retrying: timeout, connection failure, 408, 429, 5xx, SMTP 4xx.</summary>
    Transient,
    /// <summary>Retrying cannot help: 4xx other than 408/429, SMTP 5xx, authentication failure.</summary>
    Permanent,
}

/// <summary>Result of one delivery attempt.</summary>
/// <param name="Detail">Status code or error text for logs and <c>dlq.detail</c>; never contains secrets.</param>
/// <param name="RetryAfter">The receiver's Retry-After, honoured by the retry delay.</param>
public readonly record struct DeliveryOutcome(DeliveryStatus Status, string Detail, TimeSpan? RetryAfter = null)
{
    public bool IsTransient => Status == DeliveryStatus.Transient;
    public static DeliveryOutcome Ok(string detail) => new(DeliveryStatus.Delivered, detail);
    public static DeliveryOutcome Transient(string detail, TimeSpan? retryAfter = null) => new(DeliveryStatus.Transient, detail, retryAfter);
    public static DeliveryOutcome Permanent(string detail) => new(DeliveryStatus.Permanent, detail);
}

/// <summary>An event the rate limit held back: the event when this process saw it, else only its key (after a restart).</summary>
public sealed record HeldAlert(string EventKey, AlertEvent? Alert);

/// <summary>What one channel's rate limit held back during one window.</summary>
public sealed record AlertDigest(string Channel, string IdempotencyKey, DateTimeOffset WindowStart, DateTimeOffset WindowEnd, IReadOnlyList<HeldAlert> Items)
{
    /// <summary>The digest as JSON (webhook body, and DLQ value when undeliverable); <paramref name="message"/> is included when given.</summary>
    public byte[] ToJson(string? message)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(1024);
        using (var w = new System.Text.Json.Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("type", "digest");
            w.WriteString("channel", Channel);
            w.WriteString("idempotency_key", IdempotencyKey);
            w.WriteString("window_start", WindowStart);
            w.WriteString("window_end", WindowEnd);
            w.WriteNumber("count", Items.Count);
            if (message is not null)
            {
                w.WriteString("message", message);
            }
            w.WriteStartArray("events");
            foreach (var item in Items)
            {
                w.WriteStartObject();
                w.WriteString("event_key", item.EventKey);
                if (item.Alert is { } a)
                {
                    w.WritePropertyName("alert");
                    System.Text.Json.JsonSerializer.Serialize(w, a, ContractsJsonContext.Default.AlertEvent);
                }
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Plain-text lines: a header, then one rendered line per item.</summary>
    public string RenderText(AlertTemplate line, Func<string, string>? encode = null)
    {
        ArgumentNullException.ThrowIfNull(line);
        var sb = new System.Text.StringBuilder();
        sb.Append(Items.Count).Append(" alert notification(s) held back by the rate limit of '").Append(Channel)
          .Append("' between ").Append(AlertTemplate.Time(WindowStart)).Append(" and ").Append(AlertTemplate.Time(WindowEnd)).Append(':');
        foreach (var item in Items)
        {
            sb.Append('\n').Append("- ");
            if (item.Alert is { } a)
            {
                sb.Append(line.Render(a, encode));
            }
            else
            {
                var key = encode is null ? item.EventKey : encode(item.EventKey);
                sb.Append(key);
            }
        }
        return sb.ToString();
    }
}
