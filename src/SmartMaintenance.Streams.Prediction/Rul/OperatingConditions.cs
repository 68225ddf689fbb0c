using System.Text.Json.Serialization;

namespace SmartMaintenance.Streams.Prediction.Rul;

/// <summary>Operating conditions (clusters of the three settings) and, per condition, each model channel's mean and
/// standard deviation: a sensor's value is compared with what is normal <em>in the condition the asset runs in</em>.</summary>
/// <remarks>FD001 runs in one condition, so this is plain standardisation there; FD002/FD004 run in six.</remarks>
public sealed record OperatingConditions
{
    /// <summary>Cluster centres in settings space, one per condition.</summary>
    [JsonPropertyName("centres")] public required double[][] Centres { get; init; }
    /// <summary>Per setting: the scale its distance is measured in (settings span very different ranges).</summary>
    [JsonPropertyName("setting_scale")] public required double[] SettingScale { get; init; }
    /// <summary>Per condition, per model channel.</summary>
    [JsonPropertyName("mean")] public required double[][] Mean { get; init; }
    [JsonPropertyName("std")] public required double[][] Std { get; init; }

    /// <summary>The condition nearest to the settings in <paramref name="row"/> (a row of <see cref="RulChannels.All"/>).</summary>
    public int Assign(ReadOnlySpan<double> row)
    {
        if (Centres.Length == 1)
        {
            return 0;
        }
        var best = 0;
        var bestDistance = double.MaxValue;
        for (var c = 0; c < Centres.Length; c++)
        {
            var d = 0.0;
            for (var s = 0; s < SettingScale.Length; s++)
            {
                var diff = (row[1 + s] - Centres[c][s]) / SettingScale[s];
                d += diff * diff;
            }
            if (d < bestDistance)
            {
                bestDistance = d;
                best = c;
            }
        }
        return best;
    }

    /// <summary>Learns the conditions from training rows: settings rounded to their natural grid (altitude in kft,
    /// Mach to 0.01, throttle angle in degrees) give the clusters; groups under 0.5 % of rows join the nearest one.</summary>
    public static OperatingConditions Learn(IReadOnlyList<double[]> rows, int[] channelIndices)
    {
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentNullException.ThrowIfNull(channelIndices);
        if (rows.Count == 0)
        {
            throw new ArgumentException("No rows to learn operating conditions from.", nameof(rows));
        }
        var counts = new Dictionary<(double, double, double), int>();
        foreach (var r in rows)
        {
            var key = Grid(r);
            counts[key] = counts.GetValueOrDefault(key) + 1;
        }
        var centres = new List<double[]>();
        foreach (var (key, n) in counts)
        {
            if (n >= rows.Count * 0.005)
            {
                centres.Add([key.Item1, key.Item2, key.Item3]);
            }
        }
        centres.Sort((a, b) => (a[0], a[1], a[2]).CompareTo((b[0], b[1], b[2])));
        var scale = new double[] { 1, 0.01, 1 };
        var k = channelIndices.Length;
        var draft = new OperatingConditions
        {
            Centres = [.. centres],
            SettingScale = scale,
            Mean = [.. centres.Select(_ => new double[k])],
            Std = [.. centres.Select(_ => new double[k])],
        };
        var sum = new double[centres.Count, k];
        var sumSq = new double[centres.Count, k];
        var count = new int[centres.Count];
        foreach (var r in rows)
        {
            var c = draft.Assign(r);
            count[c]++;
            for (var j = 0; j < k; j++)
            {
                var v = r[channelIndices[j]];
                sum[c, j] += v;
                sumSq[c, j] += v * v;
            }
        }
        for (var c = 0; c < centres.Count; c++)
        {
            for (var j = 0; j < k; j++)
            {
                var mean = sum[c, j] / Math.Max(1, count[c]);
                var variance = (sumSq[c, j] / Math.Max(1, count[c])) - (mean * mean);
                draft.Mean[c][j] = mean;
                // A channel constant in a condition would divide by zero: it is left unscaled there.
                draft.Std[c][j] = variance > 1e-12 ? Math.Sqrt(variance) : 1;
            }
        }
        return draft;
    }

    private static (double, double, double) Grid(double[] row) =>
        (Math.Round(row[1]), Math.Round(row[2] * 100) / 100, Math.Round(row[3]));
}
