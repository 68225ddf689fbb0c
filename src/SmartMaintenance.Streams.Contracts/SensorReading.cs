namespace SmartMaintenance.Streams.Contracts;

/// <summary>Where a reading came from: Kafka partition, offset, and its index inside a batch envelope.</summary>
/// <remarks>Readings of one envelope share partition and offset; <see cref="Index"/> tells them apart.
/// Offsets are what exactly-once storage and bounded replay are keyed on.</remarks>
public readonly record struct SourcePosition(int Partition, long Offset, int Index)
{
    public static readonly SourcePosition None = new(-1, -1, 0);
}

/// <summary>One validated sensor reading. A struct so the hot path moves it without allocating.</summary>
/// <remarks>
/// <see cref="Timestamp"/> is event time in Unix milliseconds (UTC); sub-millisecond digits of an
/// RFC 3339 timestamp are truncated. String fields are interned by the decoder, so equal ids share one instance.
/// Optional numeric fields use sentinels rather than nullables to keep the struct small:
/// <see cref="Quality"/> is NaN when absent, <see cref="Seq"/> is -1 when absent.
/// </remarks>
public readonly record struct SensorReading(
    string SensorId,
    long Timestamp,
    double Value,
    string? AssetId = null,
    string? SensorType = null,
    string? Unit = null,
    double Quality = double.NaN,
    long Seq = -1,
    string? Attributes = null,
    SourcePosition Position = default)
{
    public bool HasQuality => !double.IsNaN(Quality);
    public bool HasSeq => Seq >= 0;
    public DateTimeOffset Time => DateTimeOffset.FromUnixTimeMilliseconds(Timestamp);
}
