using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using SmartMaintenance.Streams.Contracts;

namespace SmartMaintenance.Streams.Alerting;

/// <summary>Publishes <see cref="AlertEvent"/>s to <c>maintenance-alerts</c> with an idempotent, acks=all producer.</summary>
public sealed class AlertPublisher : IDisposable
{
    /// <summary>Header carrying <see cref="AlertEvent.EventKey"/>, so consumers can dedup without parsing the value.</summary>
    public const string EventKeyHeader = "alert.event_key";

    private readonly IProducer<string, byte[]> _producer;
    private readonly string _topic;
    private readonly bool _keyByAsset;
    private readonly TimeProvider _time;

    /// <param name="config">Client settings (bootstrap servers, security); idempotence and acks=all are forced.</param>
    public AlertPublisher(ProducerConfig config, AlertOptions options, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var cfg = new ProducerConfig(new Dictionary<string, string>(config))
        {
            EnableIdempotence = true,
            Acks = Acks.All,
        };
        _producer = new ProducerBuilder<string, byte[]>(cfg).Build();
        _topic = options.Topic;
        _keyByAsset = options.KeyByAsset;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>Kafka key of an event: asset id when known and <paramref name="byAsset"/>, else sensor id.</summary>
    public static string KeyFor(AlertEvent alert, bool byAsset = true)
    {
        ArgumentNullException.ThrowIfNull(alert);
        return byAsset && !string.IsNullOrEmpty(alert.AssetId) ? alert.AssetId : alert.SensorId;
    }

    /// <summary>The wire form of an event (schema: docs/contracts/alert.schema.json).</summary>
    public static byte[] Serialize(AlertEvent alert) =>
        JsonSerializer.SerializeToUtf8Bytes(alert, ContractsJsonContext.Default.AlertEvent);

    /// <summary>Stamps <see cref="AlertEvent.PublishedAt"/> with the current time and sends; completes when acknowledged.</summary>
    public async Task<TopicPartitionOffset> PublishAsync(AlertEvent alert, CancellationToken cancellationToken = default)
    {
        var result = await _producer.ProduceAsync(_topic, ToMessage(alert), cancellationToken).ConfigureAwait(false);
        return result.TopicPartitionOffset;
    }

    /// <summary>Non-blocking send; <paramref name="onDelivery"/> runs on the producer's delivery thread.</summary>
    public void Publish(AlertEvent alert, Action<DeliveryReport<string, byte[]>>? onDelivery = null) =>
        _producer.Produce(_topic, ToMessage(alert), onDelivery);

    /// <summary>Waits until every sent event is acknowledged (or <paramref name="timeout"/> passes); returns how many are still queued.</summary>
    public int Flush(TimeSpan timeout) => _producer.Flush(timeout);

    private Message<string, byte[]> ToMessage(AlertEvent alert)
    {
        ArgumentNullException.ThrowIfNull(alert);
        var stamped = alert with { PublishedAt = _time.GetUtcNow() };
        return new Message<string, byte[]>
        {
            Key = KeyFor(stamped, _keyByAsset),
            Value = Serialize(stamped),
            Headers = new Headers { { EventKeyHeader, Encoding.UTF8.GetBytes(stamped.EventKey) } },
        };
    }

    public void Dispose() => _producer.Dispose();
}
