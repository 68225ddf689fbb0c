using System.Text.Json.Serialization;

namespace SmartMaintenance.Streams.Prediction.Rul;

/// <summary>Interval of an RUL estimate: quantiles of out-of-fold residuals (true − predicted) per bucket of the
/// predicted RUL, learned by cross-validation on the training engines (errors shrink as failure nears).</summary>
public sealed record RulIntervals
{
    /// <summary>Upper edges of the buckets of predicted RUL, ascending; the last bucket is open.</summary>
    [JsonPropertyName("edges")] public required double[] Edges { get; init; }
    /// <summary>Per bucket (Edges.Length + 1): lower and upper residual quantile.</summary>
    [JsonPropertyName("low")] public required double[] Low { get; init; }
    [JsonPropertyName("high")] public required double[] High { get; init; }
    [JsonPropertyName("coverage")] public double Coverage { get; init; }

    public static readonly double[] DefaultEdges = [20, 40, 60, 80, 100];

    public (double Lower, double Upper) Around(double estimate)
    {
        var b = 0;
        while (b < Edges.Length && estimate >= Edges[b])
        {
            b++;
        }
        // A bucket whose residuals lean one way (the trees are biased there) still gives an interval holding the estimate.
        return (Math.Max(0, estimate + Math.Min(0, Low[b])), Math.Max(0, estimate + Math.Max(0, High[b])));
    }

    public static RulIntervals Learn(IReadOnlyList<double> predicted, IReadOnlyList<double> truth, double coverage, double[]? edges = null)
    {
        ArgumentNullException.ThrowIfNull(predicted);
        ArgumentNullException.ThrowIfNull(truth);
        edges ??= DefaultEdges;
        var buckets = new List<double>[edges.Length + 1];
        for (var b = 0; b < buckets.Length; b++)
        {
            buckets[b] = [];
        }
        for (var i = 0; i < predicted.Count; i++)
        {
            var b = 0;
            while (b < edges.Length && predicted[i] >= edges[b])
            {
                b++;
            }
            buckets[b].Add(truth[i] - predicted[i]);
        }
        var all = buckets.SelectMany(x => x).Order().ToArray();
        var alpha = (1 - coverage) / 2;
        var low = new double[buckets.Length];
        var high = new double[buckets.Length];
        for (var b = 0; b < buckets.Length; b++)
        {
            // A bucket with too few residuals for its tails borrows the pooled quantiles.
            var sorted = buckets[b].Count >= 50 ? [.. buckets[b].Order()] : all;
            low[b] = Quantile(sorted, alpha);
            high[b] = Quantile(sorted, 1 - alpha);
        }
        return new RulIntervals { Edges = edges, Low = low, High = high, Coverage = coverage };
    }

    private static double Quantile(double[] sorted, double q)
    {
        if (sorted.Length == 0)
        {
            return 0;
        }
        var pos = q * (sorted.Length - 1);
        var lo = (int)Math.Floor(pos);
        var hi = Math.Min(sorted.Length - 1, lo + 1);
        return sorted[lo] + ((sorted[hi] - sorted[lo]) * (pos - lo));
    }
}
