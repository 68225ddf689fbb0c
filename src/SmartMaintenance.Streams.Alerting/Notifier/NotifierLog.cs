using Microsoft.Extensions.Logging;

namespace SmartMaintenance.Streams.Alerting.Notifier;

internal static partial class NotifierLog
{
    [LoggerMessage(1, LogLevel.Warning, "Dead-lettered {EventKey} for channel {Channel}: {Detail}")]
    public static partial void DeadLettered(ILogger logger, string eventKey, string channel, string detail);

    [LoggerMessage(2, LogLevel.Warning, "Redelivering {EventKey} to {Channel}: a previous attempt was interrupted")]
    public static partial void Redelivering(ILogger logger, string eventKey, string channel);

    [LoggerMessage(3, LogLevel.Information, "Transient failure delivering {EventKey} to {Channel} ({Detail}); retry {Attempt} in {Delay}")]
    public static partial void Retrying(ILogger logger, string eventKey, string channel, string detail, int attempt, TimeSpan delay);

    [LoggerMessage(4, LogLevel.Warning, "Malformed alert record at {Topic}[{Partition}]@{Offset} dead-lettered: {Detail}")]
    public static partial void Malformed(ILogger logger, string topic, int partition, long offset, string detail);

    [LoggerMessage(5, LogLevel.Information, "Sent digest of {Count} held-back notification(s) on {Channel}")]
    public static partial void DigestSent(ILogger logger, int count, string channel);

    [LoggerMessage(6, LogLevel.Error, "Processing {Topic}[{Partition}]@{Offset} failed; retrying in {Delay}")]
    public static partial void ProcessingFailed(ILogger logger, Exception exception, string topic, int partition, long offset, TimeSpan delay);

    [LoggerMessage(7, LogLevel.Warning, "Could not store the offset of {Topic}[{Partition}]@{Offset} (partition revoked?): {Reason}")]
    public static partial void StoreFailed(ILogger logger, string topic, int partition, long offset, string reason);

    [LoggerMessage(8, LogLevel.Information, "Notifier consuming {Topic} as group {Group} with {Channels} channel(s)")]
    public static partial void Started(ILogger logger, string topic, string group, int channels);

    [LoggerMessage(9, LogLevel.Warning, "Kafka consumer error: {Reason}")]
    public static partial void ConsumerError(ILogger logger, string reason);

    [LoggerMessage(10, LogLevel.Debug, "Kafka consumer error (librdkafka retries by itself): {Reason}")]
    public static partial void ConsumerTransientError(ILogger logger, string reason);

    [LoggerMessage(12, LogLevel.Error, "Sending digests failed; retrying in {Delay}")]
    public static partial void DigestFailed(ILogger logger, Exception exception, TimeSpan delay);

    [LoggerMessage(11, LogLevel.Critical, "Fatal Kafka consumer error: {Reason}")]
    public static partial void ConsumerFatalError(ILogger logger, string reason);

    [LoggerMessage(13, LogLevel.Warning, "Notifier: leaving the consumer group did not finish within {Timeout} (brokers unreachable?); stopping anyway")]
    public static partial void CloseTimedOut(ILogger logger, TimeSpan timeout);
}
