namespace SmartMaintenance.Streams.Scoring.Nab;

/// <summary>One row as the NAB scorer sees it.</summary>
/// <param name="Window">Index of the labelled window the row is in, -1 outside every window, -2 in the probationary period.</param>
/// <param name="Weight">The row's weight if it were a detection: the scaled sigmoid, times tp or fp weight.</param>
public readonly record struct NabRow(double AnomalyScore, int Window, double Weight);

/// <summary>Score of a set of series at one threshold.</summary>
public sealed record NabScore(double Raw, int TruePositives, int FalsePositives, int FalseNegatives, int Windows)
{
    /// <summary>NAB normalization: null detector (never detects) = 0, perfect detector = 100.</summary>
    public double Normalized(NabProfile profile)
    {
        ArgumentNullException.ThrowIfNull(profile);
        var nullScore = -profile.FnWeight * Windows;
        var perfect = profile.TpWeight * Windows;
        return perfect == nullScore ? double.NaN : 100 * (Raw - nullScore) / (perfect - nullScore);
    }
}

/// <summary>
/// The NAB scoring method (Lavin &amp; Ahmad 2015, NAB v1.1 sweeper): probationary period, scaled-sigmoid
/// weights in and after windows, first detection per window, corpus-wide threshold sweep, normalization.
/// </summary>
public static class NabScorer
{
    public static int ProbationaryLength(int rows, double probationPercent = 0.15) =>
        (int)Math.Min(Math.Floor(probationPercent * rows), probationPercent * 5000);

    /// <summary>NAB's scaled sigmoid: 2·σ(−5x) − 1, and −1 beyond x = 3.</summary>
    public static double ScaledSigmoid(double relativePosition) =>
        relativePosition > 3.0 ? -1.0 : (2.0 / (1.0 + Math.Exp(5.0 * relativePosition))) - 1.0;

    /// <summary>Labels every row of a series with its window and its weight as a detection (NAB's calcSweepScoreParts).</summary>
    public static NabRow[] Rows(ReadOnlySpan<double> scores, IReadOnlyList<(int Left, int Right)> windows, NabProfile profile)
    {
        ArgumentNullException.ThrowIfNull(windows);
        ArgumentNullException.ThrowIfNull(profile);
        var n = scores.Length;
        var rows = new NabRow[n];
        var maxTp = ScaledSigmoid(-1.0);
        var probation = ProbationaryLength(n);
        var next = 0;
        var current = -1;
        double prevWidth = 0;
        var prevRight = -1;
        for (var i = 0; i < n; i++)
        {
            if (current < 0 && next < windows.Count && i == windows[next].Left)
            {
                current = next++;
            }
            double weight;
            if (current >= 0)
            {
                var (left, right) = windows[current];
                double width = right - left + 1;
                var position = -(right - i + 1) / width;
                weight = ScaledSigmoid(position) * profile.TpWeight / maxTp;
            }
            else
            {
                var unweighted = prevRight < 0 ? -1.0 : ScaledSigmoid(Math.Abs(prevRight - i) / (prevWidth - 1));
                weight = unweighted * profile.FpWeight;
            }
            var window = i < probation ? -2 : current;
            rows[i] = new NabRow(scores[i], window, weight);
            if (current >= 0 && i == windows[current].Right)
            {
                prevRight = i;
                prevWidth = windows[current].Right - windows[current].Left + 1;
                current = -1;
            }
        }
        return rows;
    }

    /// <summary>Score of one or more series' rows at a fixed threshold (a row detects when its score ≥ threshold).</summary>
    public static NabScore ScoreAt(IEnumerable<NabRow[]> series, double threshold, NabProfile profile)
    {
        ArgumentNullException.ThrowIfNull(series);
        ArgumentNullException.ThrowIfNull(profile);
        double raw = 0;
        int tp = 0, fp = 0, fn = 0, windows = 0;
        foreach (var rows in series)
        {
            var best = new Dictionary<int, double>();
            var seen = new HashSet<int>();
            foreach (var r in rows)
            {
                if (r.Window == -2)
                {
                    continue;
                }
                if (r.Window >= 0)
                {
                    seen.Add(r.Window);
                }
                if (r.AnomalyScore < threshold)
                {
                    continue;
                }
                if (r.Window == -1)
                {
                    fp++;
                    raw += r.Weight;
                }
                else if (!best.TryGetValue(r.Window, out var b) || r.Weight > b)
                {
                    best[r.Window] = r.Weight;
                }
            }
            windows += seen.Count;
            tp += best.Count;
            fn += seen.Count - best.Count;
            foreach (var w in best.Values)
            {
                raw += w;
            }
            raw -= profile.FnWeight * (seen.Count - best.Count);
        }
        return new NabScore(raw, tp, fp, fn, windows);
    }

    /// <summary>NAB's threshold sweep over the whole corpus: the best total score over all thresholds (each distinct score value, and "none").</summary>
    public static (double Threshold, NabScore Score) Sweep(IReadOnlyList<NabRow[]> series, NabProfile profile)
    {
        ArgumentNullException.ThrowIfNull(series);
        ArgumentNullException.ThrowIfNull(profile);
        var points = new List<(double Score, int Key, double Weight)>();
        var windowIds = new Dictionary<(int Series, int Window), int>();
        for (var s = 0; s < series.Count; s++)
        {
            foreach (var r in series[s])
            {
                if (r.Window == -2)
                {
                    continue;
                }
                var key = -1;
                if (r.Window >= 0 && !windowIds.TryGetValue((s, r.Window), out key))
                {
                    key = windowIds.Count;
                    windowIds[(s, r.Window)] = key;
                }
                points.Add((r.AnomalyScore, key, r.Weight));
            }
        }
        points.Sort((a, b) => b.Score.CompareTo(a.Score));
        var windowBest = new double[windowIds.Count];
        var hit = new bool[windowIds.Count];
        var total = -profile.FnWeight * windowIds.Count;
        var bestTotal = total;
        var bestThreshold = 1.1;
        var i = 0;
        while (i < points.Count)
        {
            var threshold = points[i].Score;
            for (; i < points.Count && points[i].Score == threshold; i++)
            {
                var (_, key, weight) = points[i];
                if (key < 0)
                {
                    total += weight;
                }
                else if (!hit[key])
                {
                    hit[key] = true;
                    windowBest[key] = weight;
                    total += profile.FnWeight + weight;
                }
                else if (weight > windowBest[key])
                {
                    total += weight - windowBest[key];
                    windowBest[key] = weight;
                }
            }
            // Ties resolve to the higher threshold (fewer detections), as a strict '>' keeps the first best.
            if (total > bestTotal + 1e-12)
            {
                bestTotal = total;
                bestThreshold = threshold;
            }
        }
        return (bestThreshold, ScoreAt(series, bestThreshold, profile));
    }
}
