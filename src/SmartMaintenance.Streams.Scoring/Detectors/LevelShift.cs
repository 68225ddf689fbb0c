namespace SmartMaintenance.Streams.Scoring.Detectors;

/// <summary>Per-sensor state of <see cref="LevelShiftDetector"/>.</summary>
public struct LevelShiftState
{
    public double Up;
    public double Down;
    public long UpSince;
    public long DownSince;
    /// <summary>The CUSUM's own reference level (EWMA at <c>ShiftAlpha</c>); set from the robust level when the state is fresh.</summary>
    public double Reference;
}

/// <summary>
/// Two-sided CUSUM of the robust z-score against a reference level: deviations beyond the slack
/// <c>ShiftK</c> accumulate, so a sustained moderate shift is found although no single reading is extreme.
/// Sums restart once they pass twice the decision interval, so the detector re-arms.
/// </summary>
/// <remarks>
/// The reference is the CUSUM's own EWMA (factor <c>ShiftAlpha</c>, updates clipped to <c>ClipZ</c> scales),
/// started from the robust level. It follows the signal faster than the robust level (whose factor is chosen for
/// a precise scale): a slow drift, which a reference of weeks would accumulate into one "shift" after another,
/// is absorbed, while a real shift still reaches the decision interval in h / (δ − k) readings, far shorter than
/// the reference's memory. With <c>ShiftAlpha</c> 0 the reference is the robust level itself.
/// </remarks>
public sealed class LevelShiftDetector(DetectorOptions options) : IDetector<LevelShiftState>
{
    private readonly double _k = options.ShiftK;
    private readonly double _h = options.ShiftH;
    private readonly double _alpha = options.ShiftAlpha;
    private readonly double _clip = options.ClipZ;

    public string Name => "level_shift";

    public DetectorScore Update(ref LevelShiftState s, long timestamp, double value, in LevelEstimate level)
    {
        if ((s.UpSince == 0 && s.DownSince == 0) || _alpha <= 0)
        {
            // A fresh state (also after the ensemble clears it at the end of warm-up) starts from the calibrated level.
            s.Reference = level.Mean;
        }
        var reference = s.Reference;
        var z = (value - reference) / level.Scale;
        if (_alpha > 0)
        {
            s.Reference += _alpha * Math.Clamp(value - reference, -_clip * level.Scale, _clip * level.Scale);
        }
        // Bound one reading's contribution: a lone spike is the spike detector's business.
        z = Math.Clamp(z, -2 * (_k + 1), 2 * (_k + 1));
        if (s.Up <= 0)
        {
            s.UpSince = timestamp;
        }
        if (s.Down <= 0)
        {
            s.DownSince = timestamp;
        }
        s.Up = Math.Max(0, s.Up + z - _k);
        s.Down = Math.Max(0, s.Down - z - _k);
        var up = s.Up >= s.Down;
        var stat = up ? s.Up : s.Down;
        var since = up ? s.UpSince : s.DownSince;
        var score = new DetectorScore(stat / _h, up ? stat : -stat, reference, level.Scale, since);
        if (s.Up > 2 * _h)
        {
            s.Up = 0;
        }
        if (s.Down > 2 * _h)
        {
            s.Down = 0;
        }
        return score;
    }

    public void Write(in LevelShiftState s, BinaryWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Write(s.Up);
        writer.Write(s.Down);
        writer.Write(s.UpSince);
        writer.Write(s.DownSince);
        writer.Write(s.Reference);
    }

    public LevelShiftState Read(BinaryReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        return new LevelShiftState
        {
            Up = reader.ReadDouble(),
            Down = reader.ReadDouble(),
            UpSince = reader.ReadInt64(),
            DownSince = reader.ReadInt64(),
            Reference = reader.ReadDouble(),
        };
    }
}
