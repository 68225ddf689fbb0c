namespace SmartMaintenance.Streams.Scoring.Detectors;

/// <summary>Per-sensor state of <see cref="FlatlineDetector"/>.</summary>
public struct FlatlineState
{
    public double Anchor;
    public long RunSince;
    /// <summary>Readings in the current run (int: saturates instead of wrapping; 2^31 readings outlast any deployment at 1 Hz).</summary>
    public int Run;
    public int LongestRun;
    public bool HasAnchor;
    /// <summary>True once the sensor has changed by more than the tolerance at least once.</summary>
    public bool HasVaried;
}

/// <summary>
/// Flatline / stuck sensor: a run of readings that stay within a small tolerance of where the run began,
/// scored against both a minimum length and the longest run this sensor produced before (so sensors that
/// legitimately hold values, e.g. step signals, must stall unusually long). A sensor that never varied is not "stuck".
/// </summary>
public sealed class FlatlineDetector(DetectorOptions options) : IDetector<FlatlineState>
{
    private readonly double _minRun = options.FlatlineReadings;
    private readonly double _factor = options.FlatlineRunFactor;
    private readonly double _tolerance = options.FlatlineTolerance;

    public string Name => "flatline";

    public DetectorScore Update(ref FlatlineState s, long timestamp, double value, in LevelEstimate level)
    {
        if (!s.HasAnchor)
        {
            s.Anchor = value;
            s.HasAnchor = true;
            s.Run = 1;
            s.RunSince = timestamp;
            return DetectorScore.None(timestamp);
        }
        var tolerance = _tolerance * level.DiffScale;
        if (Math.Abs(value - s.Anchor) <= tolerance)
        {
            if (s.Run < int.MaxValue)
            {
                s.Run++;
            }
        }
        else
        {
            s.HasVaried = true;
            s.LongestRun = Math.Max(s.LongestRun, s.Run);
            s.Anchor = value;
            s.Run = 1;
            s.RunSince = timestamp;
            return new DetectorScore(0, 1, value, tolerance, timestamp);
        }
        if (!s.HasVaried)
        {
            return new DetectorScore(0, s.Run, s.Anchor, tolerance, s.RunSince);
        }
        var needed = Math.Max(_minRun, _factor * s.LongestRun);
        return new DetectorScore(s.Run / needed, s.Run, s.Anchor, tolerance, s.RunSince);
    }

    public void Write(in FlatlineState s, BinaryWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Write(s.Anchor);
        writer.Write(s.Run);
        writer.Write(s.LongestRun);
        writer.Write(s.RunSince);
        writer.Write(s.HasAnchor);
        writer.Write(s.HasVaried);
    }

    public FlatlineState Read(BinaryReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        return new FlatlineState
        {
            Anchor = reader.ReadDouble(),
            Run = reader.ReadInt32(),
            LongestRun = reader.ReadInt32(),
            RunSince = reader.ReadInt64(),
            HasAnchor = reader.ReadBoolean(),
            HasVaried = reader.ReadBoolean(),
        };
    }
}
