namespace SmartMaintenance.Streams.Prediction.Rul;

/// <summary>An asset's RUL estimate after one cycle, in cycles, with its interval and the model that made it.</summary>
public readonly record struct RulEstimate(string AssetId, long Timestamp, double Cycle, double Rul, double Lower, double Upper, int ModelVersion);
