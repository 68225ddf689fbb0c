using System.Collections.Concurrent;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using SmartMaintenance.Streams.Alerting.Notifier;
using SmartMaintenance.Streams.Contracts;

namespace SmartMaintenance.Streams.Alerting.Tests;

/// <summary>Records dead letters in order (the Kafka sink is covered by the end-to-end tests).</summary>
internal sealed class RecordingDeadLetters : IDeadLetterSink
{
    public ConcurrentQueue<DeadLetter> Letters { get; } = new();

    public Task SendAsync(DeadLetter letter, CancellationToken cancellationToken)
    {
        Letters.Enqueue(letter);
        return Task.CompletedTask;
    }
}

internal static class NotifierTestKit
{
    public static AlertEvent Alert(string status = AlertStatus.Open, int revision = 0, int severity = 4, string sensor = "s-1", string? sensorType = "vibration", string? asset = "pump-7") => new()
    {
        AlertId = AlertIds.For(sensor, "zscore", 1_750_000_000_000),
        Status = status,
        Revision = revision,
        Severity = severity,
        SensorId = sensor,
        AssetId = asset,
        SensorType = sensorType,
        Detector = "zscore",
        Score = 0.93,
        Threshold = 0.8,
        Value = 17.25,
        WindowStart = DateTimeOffset.FromUnixTimeMilliseconds(1_749_999_940_000),
        WindowEnd = DateTimeOffset.FromUnixTimeMilliseconds(1_750_000_000_000),
        FirstSeen = DateTimeOffset.FromUnixTimeMilliseconds(1_750_000_000_000),
        LastSeen = DateTimeOffset.FromUnixTimeMilliseconds(1_750_000_030_000),
        PublishedAt = DateTimeOffset.UtcNow,
        Evidence = new System.Text.Json.Nodes.JsonObject { ["z"] = 4.2 },
        CorrelationId = "corr-1",
    };

    public static AlertRecord Record(AlertEvent alert, long offset = 0) => new(
        Topics.Alerts, 0, offset, Encoding.UTF8.GetBytes(AlertPublisher.KeyFor(alert)), AlertPublisher.Serialize(alert),
        [new("alert.event_key", Encoding.UTF8.GetBytes(alert.EventKey))]);

    /// <summary>Options with fast retries (tests wait milliseconds, not seconds) and one route to every channel.</summary>
    public static NotifierOptions Options(Dictionary<string, ChannelOptions> channels, int maxRetries = 3) => new()
    {
        ConnectionString = "Host=127.0.0.1",
        MaxRetries = maxRetries,
        RetryBaseDelay = TimeSpan.FromMilliseconds(20),
        RetryMaxDelay = TimeSpan.FromMilliseconds(200),
        AttemptTimeout = TimeSpan.FromSeconds(5),
        Channels = channels,
        Routes = [new RouteOptions { Name = "all", Channels = [.. channels.Keys] }],
    };

    public static AlertDispatcher Dispatcher(NotifierOptions options, IDeliveryLog log, IDeadLetterSink dlq, TextWriter? console = null)
    {
        options.Validate();
        return new AlertDispatcher(options, AlertDispatcher.CreateChannels(options, console), log, dlq, NullLogger.Instance);
    }
}
