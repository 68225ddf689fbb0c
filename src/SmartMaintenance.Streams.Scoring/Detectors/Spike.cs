namespace SmartMaintenance.Streams.Scoring.Detectors;

/// <summary>Per-sensor state of <see cref="SpikeDetector"/>.</summary>
public struct SpikeState
{
    public double Previous;
    public bool HasPrevious;
}

/// <summary>Spike / rate of change: robust z-score of the first difference against its typical magnitude.</summary>
public sealed class SpikeDetector(DetectorOptions options) : IDetector<SpikeState>
{
    private readonly double _z = options.SpikeZThreshold;

    public string Name => "spike";

    public DetectorScore Update(ref SpikeState s, long timestamp, double value, in LevelEstimate level)
    {
        if (!s.HasPrevious)
        {
            s.Previous = value;
            s.HasPrevious = true;
            return DetectorScore.None(timestamp);
        }
        var diff = value - s.Previous;
        var expected = s.Previous;
        s.Previous = value;
        var z = diff / level.DiffScale;
        return new DetectorScore(ScoreMath.FromRatio(Math.Abs(z) / _z), z, expected, level.DiffScale, timestamp);
    }

    public void Write(in SpikeState s, BinaryWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Write(s.Previous);
        writer.Write(s.HasPrevious);
    }

    public SpikeState Read(BinaryReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        return new SpikeState { Previous = reader.ReadDouble(), HasPrevious = reader.ReadBoolean() };
    }
}
