namespace SmartMaintenance.Streams.Scoring.Detectors;

/// <summary>What one detector concluded about one reading: its statistic as a ratio to the detector's threshold, and the numbers behind it.</summary>
/// <param name="Ratio">Statistic ÷ threshold: 0 = normal, 1 = at the threshold. <see cref="Score"/> maps it onto [0,1].</param>
/// <param name="Statistic">The detector's test statistic (z-score, CUSUM sum, run length, distance).</param>
/// <param name="Expected">What the detector expected the value to be (NaN when not applicable).</param>
/// <param name="Scale">The scale the statistic is measured in (NaN when not applicable).</param>
/// <param name="Since">Event time (Unix ms) at which the evidence began (run start, accumulation start); the reading's own time otherwise.</param>
public readonly record struct DetectorScore(double Ratio, double Statistic, double Expected, double Scale, long Since)
{
    /// <summary>The score in [0,1]: 0 = normal, 0.5 = at the detector's threshold, → 1 = far beyond it.</summary>
    public double Score => ScoreMath.FromRatio(Ratio);

    public static DetectorScore None(long timestamp) => new(0, 0, double.NaN, double.NaN, timestamp);
}

/// <summary>
/// The detector contract: an online (no look-ahead) detector over the readings of ONE sensor.
/// The detector object holds only parameters (shared by all sensors of a type); all per-sensor memory
/// lives in a compact <typeparamref name="TState"/> the caller owns, so state can be snapshotted,
/// restored, and kept in a dictionary without per-reading allocation.
/// </summary>
/// <remarks>Warm-up is enforced by the ensemble: detectors update their state during warm-up but their score is ignored.</remarks>
public interface IDetector<TState> where TState : struct
{
    /// <summary>Stable name used in anomaly records and alert ids.</summary>
    string Name { get; }

    /// <summary>Consumes one reading (in event-time order) and scores it against the state before the reading.</summary>
    DetectorScore Update(ref TState state, long timestamp, double value, in LevelEstimate level);

    void Write(in TState state, BinaryWriter writer);

    TState Read(BinaryReader reader);
}

/// <summary>The shared robust estimate of a sensor's level and scale before the current reading.</summary>
/// <param name="High">Upper edge of the decaying envelope of recent values.</param>
/// <param name="Low">Lower edge of the decaying envelope of recent values.</param>
/// <param name="MaxDiff">Decaying maximum of recent absolute first differences.</param>
public readonly record struct LevelEstimate(double Mean, double Scale, double DiffScale, long Count, double High, double Low, double MaxDiff);

internal static class ScoreMath
{
    /// <summary>Maps a ratio to a detector threshold onto [0,1]: 0 → 0, 1 → 0.5, 2 → 0.94, 3 → 0.998.</summary>
    /// <remarks>Smooth and strictly increasing so a sweep over thresholds keeps the ranking of the statistic.</remarks>
    public static double FromRatio(double ratio)
    {
        if (!(ratio > 0))
        {
            return 0;
        }
        return 1 - Math.Exp(-0.6931471805599453 * ratio * ratio);
    }

    /// <summary>The ratio whose score is <paramref name="score"/> (inverse of <see cref="FromRatio"/>).</summary>
    public static double ToRatio(double score) => score <= 0 ? 0 : score >= 1 ? double.PositiveInfinity : Math.Sqrt(-Math.Log(1 - score) / 0.6931471805599453);
}
