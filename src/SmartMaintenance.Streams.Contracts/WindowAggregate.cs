namespace SmartMaintenance.Streams.Contracts;

/// <summary>The aggregate of one sensor over one event-time window, as stored and upserted.</summary>
/// <remarks><see cref="Revision"/> starts at 0 and grows with each correction (late reading within the
/// allowance); the sink upserts on (sensor, kind, window start) so the last revision wins.</remarks>
public readonly record struct WindowAggregate(
    string SensorId,
    string WindowKind,
    long WindowStart,
    long WindowEnd,
    long Count,
    double Sum,
    double Min,
    double Max,
    double Mean,
    double StdDev,
    double First,
    double Last,
    double P50,
    double P95,
    double P99,
    int Revision,
    bool IsFinal,
    string? AssetId = null,
    string? SensorType = null);
