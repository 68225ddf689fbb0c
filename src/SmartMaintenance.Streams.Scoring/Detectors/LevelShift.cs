namespace SmartMaintenance.Streams.Scoring.Detectors;

/// <summary>Per-sensor state of <see cref="LevelShiftDetector"/>.</summary>
public struct LevelShiftState
{
    public double Up;
    public double Down;
    public long UpSince;
    public long DownSince;
}

/// <summary>
/// Two-sided CUSUM of the robust z-score against the adaptive level: deviations beyond the slack
/// <c>ShiftK</c> accumulate, so a sustained moderate shift is found although no single reading is extreme.
/// Sums restart once they pass twice the decision interval, so the detector re-arms after the level adapts.
/// </summary>
public sealed class LevelShiftDetector(DetectorOptions options) : IDetector<LevelShiftState>
{
    private readonly double _k = options.ShiftK;
    private readonly double _h = options.ShiftH;

    public string Name => "level_shift";

    public DetectorScore Update(ref LevelShiftState s, long timestamp, double value, in LevelEstimate level)
    {
        var z = (value - level.Mean) / level.Scale;
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
        var score = new DetectorScore(stat / _h, up ? stat : -stat, level.Mean, level.Scale, since);
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
    }

    public LevelShiftState Read(BinaryReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        return new LevelShiftState { Up = reader.ReadDouble(), Down = reader.ReadDouble(), UpSince = reader.ReadInt64(), DownSince = reader.ReadInt64() };
    }
}
