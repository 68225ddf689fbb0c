namespace SmartMaintenance.Streams.Load;

/// <summary>One second of a load run: what was offered, sent, acknowledged, processed, and the latencies seen in it.</summary>
public sealed record LoadSample
{
    public double Seconds { get; init; }
    public bool Measured { get; init; }
    public double OfferedReadingsPerSecond { get; init; }
    public double SentReadingsPerSecond { get; init; }
    public double AckedMessagesPerSecond { get; init; }
    /// <summary>Messages the engine has committed per second (from its consumer group's committed offsets).</summary>
    public double ProcessedMessagesPerSecond { get; init; }
    public long LagMessages { get; init; }
    public double AckP50Ms { get; init; } = double.NaN;
    public double AckP99Ms { get; init; } = double.NaN;
    public double E2eP50Ms { get; init; } = double.NaN;
    public double E2eP99Ms { get; init; } = double.NaN;
    public double AlertP99Ms { get; init; } = double.NaN;
    public double RssMb { get; init; }
}
