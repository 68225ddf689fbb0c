using Microsoft.Extensions.Logging;

namespace SmartMaintenance.Streams.Engine;

/// <summary>Every engine log line, source-generated: nothing here is per record.</summary>
internal static partial class EngineLog
{
    [LoggerMessage(1, LogLevel.Information, "Engine starting: group {Group}, topic {Topic}")]
    public static partial void Starting(ILogger logger, string group, string topic);

    [LoggerMessage(2, LogLevel.Information, "Partitions assigned: {Partitions}; resuming from the database's offsets {Offsets}")]
    public static partial void Assigned(ILogger logger, string partitions, string offsets);

    [LoggerMessage(3, LogLevel.Information, "Partitions revoked: {Partitions}")]
    public static partial void Revoked(ILogger logger, string partitions);

    [LoggerMessage(4, LogLevel.Warning, "Partitions lost: {Partitions}")]
    public static partial void Lost(ILogger logger, string partitions);

    [LoggerMessage(5, LogLevel.Warning, "Writer is behind ({Queued} batches queued): pausing {Count} partitions")]
    public static partial void Paused(ILogger logger, int queued, int count);

    [LoggerMessage(6, LogLevel.Information, "Writer caught up: resuming {Count} partitions")]
    public static partial void Resumed(ILogger logger, int count);

    [LoggerMessage(7, LogLevel.Critical, "Fatal error, the engine stops without committing: {Message}")]
    public static partial void Fatal(ILogger logger, Exception exception, string message);

    [LoggerMessage(8, LogLevel.Information, "Engine stopped: {Messages} messages, {Stored} readings stored, {Rejected} rejected")]
    public static partial void Stopped(ILogger logger, long messages, long stored, long rejected);

    [LoggerMessage(9, LogLevel.Warning, "Kafka error: {Reason}")]
    public static partial void KafkaError(ILogger logger, string reason);

    [LoggerMessage(10, LogLevel.Warning, "Revocation gave up waiting for {Queued} queued batches after {Timeout}; the next owner replays them from the database's offsets")]
    public static partial void RevokeTimeout(ILogger logger, int queued, TimeSpan timeout);

    [LoggerMessage(11, LogLevel.Information, "Replay of partition {Partition} from offset {From} to {To} finished: state rebuilt in {Elapsed}")]
    public static partial void ReplayDone(ILogger logger, int partition, long from, long to, TimeSpan elapsed);

    [LoggerMessage(12, LogLevel.Information, "Detector state of {Restored} sensors restored for partitions {Partitions} in {Elapsed}; {Rejected} stored states were incompatible (those sensors warm up again)")]
    public static partial void StateRestored(ILogger logger, int restored, string partitions, int rejected, TimeSpan elapsed);

    [LoggerMessage(13, LogLevel.Warning, "Stored detector state of sensor {Sensor} not restored: {Reason}")]
    public static partial void StateRejected(ILogger logger, string sensor, string reason);

    [LoggerMessage(15, LogLevel.Warning, "Storage: database unavailable while {Stage}, retrying: {Reason}")]
    public static partial void DatabaseUnavailable(ILogger logger, string stage, string reason);

    [LoggerMessage(14, LogLevel.Warning, "Leaving the consumer group did not finish within {Timeout} (brokers unreachable?); stopping without it, the group drops this member after its session timeout")]
    public static partial void CloseTimedOut(ILogger logger, TimeSpan timeout);
}
