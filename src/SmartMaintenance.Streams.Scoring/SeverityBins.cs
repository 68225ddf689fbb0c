namespace SmartMaintenance.Streams.Scoring;

/// <summary>Maps a score at or above a fire threshold to a severity 1–5: the range [threshold, 1] is cut into five
/// bins of equal width (docs/scoring.md), so the top fifth of the range is 5, not only a score of exactly 1.</summary>
public static class SeverityBins
{
    /// <summary>Severity of <paramref name="score"/> for a detector firing at <paramref name="threshold"/>; scores
    /// below the threshold are 1, at or above 1 are 5.</summary>
    public static int FromScore(double score, double threshold)
    {
        var width = Math.Max(1e-9, 1 - threshold);
        var fraction = (score - threshold) / width;
        if (!(fraction > 0))
        {
            return 1;
        }
        // The epsilon puts a score on a bin edge (0.6 with threshold 0.5) in the upper bin despite rounding.
        return Math.Min(5, 1 + (int)((5 * fraction) + 1e-9));
    }
}
