namespace SmartMaintenance.Streams.Api.Alerts;

/// <summary>An alert as the API shows it: the stored row and its last acknowledgement.</summary>
public sealed record AlertView(string AlertId, string Status, int Revision, int Severity, string SensorId, string? AssetId, string? SensorType,
    string Detector, double? Score, double? Threshold, double? Value, DateTimeOffset? WindowStart, DateTimeOffset? WindowEnd,
    DateTimeOffset? FirstSeen, DateTimeOffset? LastSeen, string? AcknowledgedBy, DateTimeOffset? AcknowledgedAt, string? AckNote);

/// <summary>One stored state of an alert (every status and revision it went through).</summary>
public sealed record AlertRevision(int Revision, string Status, int Severity, double? Score, double? Value, DateTimeOffset? LastSeen, DateTimeOffset RecordedAt);

/// <summary>An operator's action on an alert.</summary>
public sealed record AlertAction(string Action, string Actor, DateTimeOffset At, string? Note, int Revision);

/// <summary>One alert with its history.</summary>
public sealed record AlertDetail(AlertView Alert, IReadOnlyList<AlertRevision> Revisions, IReadOnlyList<AlertAction> Actions);

/// <summary>A page of alerts.</summary>
public sealed record AlertPage(IReadOnlyList<AlertView> Items, int Limit, int Offset);

/// <summary>Body of acknowledge and resolve.</summary>
public sealed record AlertNote(string? Note);

/// <summary>Body of a new silence. Matchers: exact value or prefix ending in '*'; at least one is required.</summary>
public sealed record SilenceRequest(string? AssetId, string? SensorId, string? SensorType, string? Detector, DateTimeOffset? StartsAt,
    DateTimeOffset? EndsAt, string? Reason);

/// <summary>A silence as stored.</summary>
public sealed record SilenceView(string SilenceId, string? AssetId, string? SensorId, string? SensorType, string? Detector, DateTimeOffset StartsAt,
    DateTimeOffset EndsAt, string Reason, string CreatedBy, DateTimeOffset CreatedAt, DateTimeOffset? ExpiredAt, bool Active);
