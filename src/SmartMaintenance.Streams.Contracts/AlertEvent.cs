using System.Text.Json.Serialization;

namespace SmartMaintenance.Streams.Contracts;

/// <summary>Lifecycle states of an alert on <c>maintenance-alerts</c>.</summary>
public static class AlertStatus
{
    public const string Open = "open";
    public const string Updated = "updated";
    public const string Resolved = "resolved";
    /// <summary>An operator acknowledged the alert (operator API); revision is the alert's current one.</summary>
    public const string Acknowledged = "acknowledged";
}

/// <summary>An event on <c>maintenance-alerts</c> (schema: docs/contracts/alert.schema.json).</summary>
/// <remarks><see cref="AlertId"/> is derived from content (sensor, detector, episode start) so a replay
/// republishes the same id; (<see cref="AlertId"/>, <see cref="Status"/>, <see cref="Revision"/>) identifies
/// one event, which notifiers deliver at most once per channel.</remarks>
public sealed record AlertEvent
{
    [JsonPropertyName("alert_id")] public required string AlertId { get; init; }
    [JsonPropertyName("status")] public required string Status { get; init; }
    [JsonPropertyName("revision")] public int Revision { get; init; }
    [JsonPropertyName("severity")] public int Severity { get; init; }
    [JsonPropertyName("sensor_id")] public required string SensorId { get; init; }
    [JsonPropertyName("asset_id")] public string? AssetId { get; init; }
    [JsonPropertyName("sensor_type")] public string? SensorType { get; init; }
    [JsonPropertyName("detector")] public required string Detector { get; init; }
    [JsonPropertyName("score")] public double Score { get; init; }
    [JsonPropertyName("threshold")] public double Threshold { get; init; }
    [JsonPropertyName("value")] public double Value { get; init; }
    [JsonPropertyName("window_start")] public DateTimeOffset WindowStart { get; init; }
    [JsonPropertyName("window_end")] public DateTimeOffset WindowEnd { get; init; }
    [JsonPropertyName("first_seen")] public DateTimeOffset FirstSeen { get; init; }
    [JsonPropertyName("last_seen")] public DateTimeOffset LastSeen { get; init; }
    [JsonPropertyName("published_at")] public DateTimeOffset PublishedAt { get; init; }
    [JsonPropertyName("evidence")] public System.Text.Json.Nodes.JsonObject? Evidence { get; init; }
    [JsonPropertyName("correlation_id")] public string? CorrelationId { get; init; }

    /// <summary>Key of the dedup log: one delivery per (id, status, revision) per channel.</summary>
    [JsonIgnore] public string EventKey => $"{AlertId}:{Status}:{Revision}";
}

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(AlertEvent))]
public sealed partial class ContractsJsonContext : JsonSerializerContext;
