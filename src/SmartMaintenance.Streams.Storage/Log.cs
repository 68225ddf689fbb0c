using Microsoft.Extensions.Logging;

namespace SmartMaintenance.Streams.Storage;

internal static partial class Log
{
    [LoggerMessage(EventId = 4001, Level = LogLevel.Warning, Message = "Database write failed transiently (attempt {Attempt}), retrying in {DelayMs} ms: {Reason}")]
    public static partial void WriteRetrying(ILogger logger, int attempt, double delayMs, string reason);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Information, Message = "Database writes recovered after {Attempts} retries")]
    public static partial void WriteRecovered(ILogger logger, int attempts);

    [LoggerMessage(EventId = 4003, Level = LogLevel.Critical, Message = "Database write failed and will not be retried: {Reason}")]
    public static partial void WriteFatal(ILogger logger, string reason, Exception error);

    [LoggerMessage(EventId = 4004, Level = LogLevel.Information, Message = "Skipped {Count} readings already stored (offset below the stored next offset)")]
    public static partial void ReadingsSkipped(ILogger logger, int count);

    [LoggerMessage(EventId = 4005, Level = LogLevel.Warning, Message = "Storage maintenance deferred to the next run: {Reason}")]
    public static partial void MaintenanceDeferred(ILogger logger, string reason);

    [LoggerMessage(EventId = 4006, Level = LogLevel.Information, Message = "Partitions maintained: {Created} created, {Dropped} dropped")]
    public static partial void PartitionsMaintained(ILogger logger, int created, int dropped);
}
