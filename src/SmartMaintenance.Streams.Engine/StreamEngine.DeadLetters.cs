using System.Diagnostics;
using System.Globalization;
using System.Text;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Kafka;

namespace SmartMaintenance.Streams.Engine;

/// <summary>The engine's dead-letter path: the original record plus the reason headers, sized by
/// <see cref="DeadLetterSizer"/> so that no record, however large, stops the engine (docs/contracts/dlq.md).</summary>
public sealed partial class StreamEngine
{
    private DeadLetterSizer? _dlqSizer;

    /// <summary>DLQ records produced and not yet settled (acknowledged, or failed for good). A record the broker refuses
    /// as too large is settled only once its smaller form is queued, so a writer that waits for zero before committing
    /// never commits past a dead letter still on its way (the producer's own flush can return while the refusal's
    /// report is being handled).</summary>
    private long _dlqUnsettled;

    private void DeadLetter(ConsumeResult<ReusedBytes, ReusedBytes> cr, byte[] value, RejectReason reason, string detail, int index)
    {
        Counters.AddRejected(reason);
        EngineProbe.OnRejected(reason);
        var headers = new Headers();
        if (cr.Message.Headers is { } original)
        {
            foreach (var h in original)
            {
                headers.Add(h.Key, h.GetValueBytes());
            }
        }
        headers.Add(DlqHeaders.Reason, Encoding.UTF8.GetBytes(reason.ToCode()));
        headers.Add(DlqHeaders.Detail, Encoding.UTF8.GetBytes(detail));
        headers.Add(DlqHeaders.SourceTopic, Encoding.UTF8.GetBytes(_topics.Readings));
        headers.Add(DlqHeaders.SourcePartition, Encoding.UTF8.GetBytes(cr.Partition.Value.ToString(CultureInfo.InvariantCulture)));
        headers.Add(DlqHeaders.SourceOffset, Encoding.UTF8.GetBytes(cr.Offset.Value.ToString(CultureInfo.InvariantCulture)));
        if (index >= 0)
        {
            headers.Add(DlqHeaders.SourceIndex, Encoding.UTF8.GetBytes(index.ToString(CultureInfo.InvariantCulture)));
        }
        headers.Add(DlqHeaders.Time, Encoding.UTF8.GetBytes(_time.GetUtcNow().ToString("O", CultureInfo.InvariantCulture)));
        _dlqSizer ??= new DeadLetterSizer(_kafka.BuildProducerConfig());
        var message = _dlqSizer.Fit(new Message<byte[], byte[]> { Key = cr.Message.Key.ToArrayOrNull()!, Value = value, Headers = headers });
        ProduceDeadLetter(message, Stopwatch.GetTimestamp());
    }

    /// <summary>True while a DLQ record is unsettled; the writer keeps flushing before it commits a batch.</summary>
    private bool DeadLettersUnsettled()
    {
        if (Interlocked.Read(ref _dlqUnsettled) == 0)
        {
            return false;
        }
        Thread.Sleep(5);
        return true;
    }

    /// <remarks>Runs on the consume loop and, for a smaller retry, on the producer's delivery thread.</remarks>
    private void ProduceDeadLetter(Message<byte[], byte[]> message, long started)
    {
        Interlocked.Increment(ref _dlqUnsettled);
        try
        {
            // One delegate per DLQ record (the rejection path, which allocates its headers anyway), to time its acknowledgement.
            Produce(_producer!, _topics.ReadingsDlq, message, report => OnDeadLetterDelivered(report, started));
        }
        catch (ProduceException<byte[], byte[]> ex) when (DeadLetterSizer.IsTooLarge(ex.Error))
        {
            Interlocked.Decrement(ref _dlqUnsettled);
            RetrySmaller(message, ex.Error, started);
        }
        catch
        {
            Interlocked.Decrement(ref _dlqUnsettled);
            throw;
        }
    }

    private void OnDeadLetterDelivered(DeliveryReport<byte[], byte[]> report, long started)
    {
        try
        {
            if (report.Error.IsError && DeadLetterSizer.IsTooLarge(report.Error) && report.Message is not null)
            {
                RetrySmaller(report.Message, report.Error, started);
                return;
            }
            OnDelivered(report, EngineMetrics.DlqAck, started);
        }
        catch (Exception ex) when (ex is KafkaException or ArgumentException)
        {
            // The smaller retry could not even be queued: fail the batch (uncommitted, replayed after restart).
            _produceError ??= ex;
        }
        finally
        {
            Interlocked.Decrement(ref _dlqUnsettled);
        }
    }

    private void RetrySmaller(Message<byte[], byte[]> refused, Error error, long started)
    {
        if (DeadLetterSizer.Shrink(refused) is { } smaller)
        {
            ProduceDeadLetter(smaller, started);
            return;
        }
        // Nothing smaller is left: the reason headers alone are refused. Logged with the coordinates; the offset moves on.
        DeadLetterLog.Undeliverable(_logger, _topics.ReadingsDlq, Header(refused, DlqHeaders.SourcePartition), Header(refused, DlqHeaders.SourceOffset),
            Header(refused, DlqHeaders.Reason), error.Reason);
    }

    private static string Header(Message<byte[], byte[]> message, string name) =>
        message.Headers is { } h && h.TryGetLastBytes(name, out var bytes) ? Encoding.UTF8.GetString(bytes) : "";
}

internal static partial class DeadLetterLog
{
    [LoggerMessage(EventId = 180, Level = LogLevel.Error,
        Message = "Engine DLQ producer: {Topic} refused even the bare dead letter of partition {Partition} offset {Offset} (reason {Reason}): {Error}; the record is only in this log and on the input topic")]
    public static partial void Undeliverable(ILogger logger, string topic, string partition, string offset, string reason, string error);
}
