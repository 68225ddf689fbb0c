using System.Text.Json.Serialization;

namespace SmartMaintenance.Streams.Alerting;

/// <summary>State of one open alert, as kept by <see cref="AlertTracker"/> and carried in snapshots.</summary>
/// <remarks>Score, threshold, value, window and evidence are those of the peak-score anomaly of the episode;
/// <see cref="Severity"/> is the last published severity (escalation compares against it).</remarks>
public sealed record OpenAlert
{
    [JsonPropertyName("alert_id")] public required string AlertId { get; init; }
    [JsonPropertyName("sensor_id")] public required string SensorId { get; init; }
    [JsonPropertyName("detector")] public required string Detector { get; init; }
    [JsonPropertyName("asset_id")] public string? AssetId { get; init; }
    [JsonPropertyName("sensor_type")] public string? SensorType { get; init; }
    [JsonPropertyName("revision")] public int Revision { get; init; }
    [JsonPropertyName("severity")] public int Severity { get; init; }
    [JsonPropertyName("first_seen_ms")] public long FirstSeenMs { get; init; }
    [JsonPropertyName("last_seen_ms")] public long LastSeenMs { get; init; }
    [JsonPropertyName("peak_score")] public double PeakScore { get; init; }
    [JsonPropertyName("threshold")] public double Threshold { get; init; }
    [JsonPropertyName("value")] public double Value { get; init; }
    [JsonPropertyName("window_start_ms")] public long WindowStartMs { get; init; }
    [JsonPropertyName("window_end_ms")] public long WindowEndMs { get; init; }
    [JsonPropertyName("evidence")] public string Evidence { get; init; } = "{}";
}

/// <summary>Everything <see cref="AlertTracker"/> needs to continue after a restart, in a stable order.</summary>
public sealed record AlertTrackerSnapshot
{
    public const int CurrentVersion = 1;

    [JsonPropertyName("version")] public int Version { get; init; } = CurrentVersion;
    [JsonPropertyName("alerts")] public IReadOnlyList<OpenAlert> Alerts { get; init; } = [];
}

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(AlertTrackerSnapshot))]
internal sealed partial class AlertingJsonContext : JsonSerializerContext;
