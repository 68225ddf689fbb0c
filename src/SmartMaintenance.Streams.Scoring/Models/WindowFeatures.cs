using SmartMaintenance.Streams.Contracts;

namespace SmartMaintenance.Streams.Scoring.Models;

/// <summary>
/// The model feature contract: every model (trained here or dropped in) scores window aggregates as a
/// float32 vector of exactly these features, in this order (docs/scoring.md, "ONNX contract").
/// </summary>
public static class WindowFeatures
{
    public const int Count = 8;

    public static IReadOnlyList<string> Names { get; } = ["mean", "std_dev", "min", "max", "p50", "p95", "p99", "last_minus_first"];

    public static void Fill(WindowAggregate a, Span<float> destination)
    {
        ArgumentNullException.ThrowIfNull(a.SensorId, nameof(a));
        if (destination.Length < Count)
        {
            throw new ArgumentException($"Needs room for {Count} features.", nameof(destination));
        }
        destination[0] = (float)a.Mean;
        destination[1] = (float)a.StdDev;
        destination[2] = (float)a.Min;
        destination[3] = (float)a.Max;
        destination[4] = (float)a.P50;
        destination[5] = (float)a.P95;
        destination[6] = (float)a.P99;
        destination[7] = (float)(a.Last - a.First);
    }
}

/// <summary>A loaded model that scores feature rows (row-major, <see cref="FeatureCount"/> floats per row) into [0,1].</summary>
/// <remarks>Implementations are thread-safe; <see cref="ModelProvider"/> hands the same instance to every caller.</remarks>
public interface IModelScorer : IDisposable
{
    string ModelId { get; }

    int FeatureCount { get; }

    void Score(ReadOnlySpan<float> features, int rows, Span<float> scores);
}
