namespace SmartMaintenance.Streams.Contracts;

/// <summary>A detector's finding about one reading or one window of a sensor.</summary>
/// <param name="Timestamp">Event time (Unix ms) of the reading or window end that fired.</param>
/// <param name="Score">In [0,1]; fired because it reached <paramref name="Threshold"/>.</param>
/// <param name="Severity">1 (info) to 5 (critical).</param>
/// <param name="Evidence">Compact JSON object with the values that produced the score.</param>
public sealed record Anomaly(
    string SensorId,
    string? AssetId,
    string? SensorType,
    string Detector,
    long Timestamp,
    double Value,
    double Score,
    double Threshold,
    int Severity,
    long WindowStart,
    long WindowEnd,
    string Evidence);
