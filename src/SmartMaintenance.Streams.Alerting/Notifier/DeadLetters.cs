using System.Globalization;
using System.Text;
using Confluent.Kafka;
using SmartMaintenance.Streams.Contracts;

namespace SmartMaintenance.Streams.Alerting.Notifier;

/// <summary>An alert record as consumed from Kafka: what the dispatcher needs, and what a DLQ record must carry back.</summary>
public sealed record AlertRecord(
    string Topic,
    int Partition,
    long Offset,
    byte[]? Key,
    byte[] Value,
    IReadOnlyList<KeyValuePair<string, byte[]>> Headers);

/// <summary>A record bound for the dead-letter topic: the original key, value and headers plus the reason.</summary>
public sealed record DeadLetter(AlertRecord Source, RejectReason Reason, string Detail);

/// <summary>Where undeliverable records go. Completes only once the record is durably written.</summary>
public interface IDeadLetterSink
{
    Task SendAsync(DeadLetter letter, CancellationToken cancellationToken);
}

/// <summary>Writes dead letters to <c>maintenance-alerts.dlq</c> (idempotent producer, acks=all) with <see cref="DlqHeaders"/>.</summary>
public sealed class KafkaDeadLetterSink : IDeadLetterSink, IDisposable
{
    private readonly IProducer<byte[]?, byte[]> _producer;
    private readonly string _topic;
    private readonly TimeProvider _time;

    public KafkaDeadLetterSink(ProducerConfig config, string topic, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentException.ThrowIfNullOrEmpty(topic);
        var cfg = new ProducerConfig(new Dictionary<string, string>(config)) { EnableIdempotence = true, Acks = Acks.All };
        _producer = new ProducerBuilder<byte[]?, byte[]>(cfg).Build();
        _topic = topic;
        _time = time ?? TimeProvider.System;
    }

    public async Task SendAsync(DeadLetter letter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(letter);
        var src = letter.Source;
        var headers = new Headers();
        foreach (var (k, v) in src.Headers)
        {
            headers.Add(k, v);
        }
        headers.Add(DlqHeaders.Reason, Encoding.UTF8.GetBytes(letter.Reason.ToCode()));
        headers.Add(DlqHeaders.Detail, Encoding.UTF8.GetBytes(letter.Detail));
        headers.Add(DlqHeaders.SourceTopic, Encoding.UTF8.GetBytes(src.Topic));
        headers.Add(DlqHeaders.SourcePartition, Encoding.UTF8.GetBytes(src.Partition.ToString(CultureInfo.InvariantCulture)));
        headers.Add(DlqHeaders.SourceOffset, Encoding.UTF8.GetBytes(src.Offset.ToString(CultureInfo.InvariantCulture)));
        headers.Add(DlqHeaders.Time, Encoding.UTF8.GetBytes(_time.GetUtcNow().ToString("O", CultureInfo.InvariantCulture)));
        await _producer.ProduceAsync(_topic, new Message<byte[]?, byte[]> { Key = src.Key, Value = src.Value, Headers = headers }, cancellationToken)
            .ConfigureAwait(false);
    }

    public void Dispose()
    {
        _producer.Flush(TimeSpan.FromSeconds(10));
        _producer.Dispose();
    }
}
