namespace SmartMaintenance.Streams.Contracts;

/// <summary>Why a record went to a dead-letter queue. Codes are a stable contract (header <c>dlq.reason</c>).</summary>
public enum RejectReason
{
    None = 0,
    /// <summary>Not parseable JSON (syntax, encoding, nesting deeper than allowed, trailing data).</summary>
    MalformedJson,
    /// <summary>A required field (<c>sensor_id</c>, <c>ts</c>, <c>value</c>) is absent or null.</summary>
    MissingField,
    /// <summary>A field has the wrong JSON type or format (e.g. <c>value</c> a string, bad timestamp text).</summary>
    InvalidField,
    /// <summary><c>value</c> is NaN or ±Infinity (as a string or out of double's range).</summary>
    NonFiniteValue,
    /// <summary>Value or quality outside the range configured for the sensor type.</summary>
    OutOfRange,
    /// <summary>Event time further ahead of the wall clock than allowed.</summary>
    FutureTimestamp,
    /// <summary>Event time older than the configured maximum age.</summary>
    PastTimestamp,
    /// <summary>The Kafka message is larger than the configured maximum.</summary>
    TooLarge,
    /// <summary>A batch envelope with more readings than allowed.</summary>
    TooManyReadings,
    /// <summary>Later than the window's allowed lateness.</summary>
    Late,
    /// <summary>A re-sent reading (same sensor/timestamp/value, or same seq) inside the dedup horizon.</summary>
    Duplicate,
    /// <summary>An alert that could not be delivered (notifier DLQ).</summary>
    Undeliverable,
    /// <summary>User code (a detector, a transform) threw on this record.</summary>
    ProcessingError,
}

public static class RejectReasons
{
    /// <summary>The stable snake_case code written to <c>dlq.reason</c>.</summary>
    public static string ToCode(this RejectReason reason) => reason switch
    {
        RejectReason.None => "none",
        RejectReason.MalformedJson => "malformed_json",
        RejectReason.MissingField => "missing_field",
        RejectReason.InvalidField => "invalid_field",
        RejectReason.NonFiniteValue => "non_finite_value",
        RejectReason.OutOfRange => "out_of_range",
        RejectReason.FutureTimestamp => "future_timestamp",
        RejectReason.PastTimestamp => "past_timestamp",
        RejectReason.TooLarge => "too_large",
        RejectReason.TooManyReadings => "too_many_readings",
        RejectReason.Late => "late",
        RejectReason.Duplicate => "duplicate",
        RejectReason.Undeliverable => "undeliverable",
        RejectReason.ProcessingError => "processing_error",
        _ => throw new ArgumentOutOfRangeException(nameof(reason), reason, null),
    };

    public static bool TryParse(string code, out RejectReason reason)
    {
        foreach (var r in All)
        {
            if (string.Equals(r.ToCode(), code, StringComparison.Ordinal))
            {
                reason = r;
                return true;
            }
        }
        reason = RejectReason.None;
        return false;
    }

    public static IReadOnlyList<RejectReason> All { get; } =
        Enum.GetValues<RejectReason>().Where(r => r != RejectReason.None).ToArray();
}
