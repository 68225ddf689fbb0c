namespace SmartMaintenance.Streams.Scoring.Detectors;

/// <summary>Per-sensor state of <see cref="SpikeDetector"/>.</summary>
public struct SpikeState
{
    public double Previous;
    public bool HasPrevious;
}

/// <summary>
/// Spike / rate of change: the first difference against its typical magnitude, counting only what exceeds the
/// largest recent change (a decaying maximum), so steps that recur (daily switching) are not spikes.
/// </summary>
public sealed class SpikeDetector(DetectorOptions options) : IDetector<SpikeState>
{
    private readonly double _z = options.SpikeZThreshold;
    private readonly double _envelope = options.SpikeEnvelopeFactor;

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
        // Both must be exceeded: the typical change by SpikeZThreshold and the largest recent change by the envelope factor.
        var reference = Math.Max(_z * level.DiffScale, _envelope * level.MaxDiff);
        var ratio = Math.Abs(diff) / reference;
        return new DetectorScore(ratio, diff / level.DiffScale, expected, reference, timestamp);
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
