namespace SmartMaintenance.Streams.Contracts;

/// <summary>Header names of a dead-letter record (ARCHITECTURE.md, "DLQ record").</summary>
public static class DlqHeaders
{
    public const string Reason = "dlq.reason";
    public const string Detail = "dlq.detail";
    public const string SourceTopic = "dlq.source.topic";
    public const string SourcePartition = "dlq.source.partition";
    public const string SourceOffset = "dlq.source.offset";
    /// <summary>Index of the reading inside a batch envelope, when only that reading was rejected.</summary>
    public const string SourceIndex = "dlq.source.index";
    public const string Time = "dlq.time";
    /// <summary>Size in bytes of the original value, on a record whose value had to be cut to fit the DLQ topic.</summary>
    public const string OriginalSize = "dlq.original.size";
    /// <summary>SHA-256 (lower-case hex) of the original value, on a record whose value had to be cut.</summary>
    public const string OriginalSha256 = "dlq.original.sha256";
    /// <summary>How many leading bytes of the original value the record still carries (present only when cut).</summary>
    public const string Truncated = "dlq.truncated";
    /// <summary>Set by <c>smstream dlq replay</c> on records it re-published.</summary>
    public const string ReplayedFrom = "dlq.replayed.from";
}

/// <summary>Default topic and consumer-group names.</summary>
public static class Topics
{
    public const string Readings = "sensor-readings";
    public const string ReadingsDlq = "sensor-readings.dlq";
    public const string Alerts = "maintenance-alerts";
    public const string AlertsDlq = "maintenance-alerts.dlq";
    public const string EngineGroup = "smstream-engine";
    public const string NotifierGroup = "smstream-notifier";
}
