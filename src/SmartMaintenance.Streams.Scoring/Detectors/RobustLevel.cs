namespace SmartMaintenance.Streams.Scoring.Detectors;

/// <summary>Per-sensor state of <see cref="RobustLevelDetector"/>.</summary>
public struct RobustLevelState
{
    public double Mean;
    /// <summary>EWMA of the absolute (clipped) residual: a robust scale, ×1.2533 ≈ σ for Gaussian noise.</summary>
    public double AbsDev;
    /// <summary>EWMA of the absolute (clipped) first difference.</summary>
    public double AbsDiff;
    public double Previous;
    public long Count;
    /// <summary>Decaying envelope of the values seen: the highest and lowest, drifting back towards the level.</summary>
    public double High;
    public double Low;
    /// <summary>Decaying maximum of the absolute first difference.</summary>
    public double MaxDiff;
    /// <summary>Latest event time seen (Unix ms; 0 before the first reading): the clock of the envelope decay.</summary>
    public long LastTimestamp;
}

/// <summary>
/// Robust adaptive z-score: EWMA level and EWMA absolute deviation whose updates use residuals clipped
/// to <c>ClipZ</c> scales, so a single outlier moves neither much while a persistent change is absorbed.
/// Also maintains the typical absolute first difference that the spike and flatline detectors use.
/// The score is the excess beyond a decaying envelope of recently seen values (so a daily peak that recurs
/// is not news), in robust scales, against the larger of <c>LevelZThreshold</c> and the part of
/// <c>LevelEnvelopeFactor</c> times the envelope's distance from the level that lies beyond the envelope.
/// </summary>
public sealed class RobustLevelDetector(DetectorOptions options) : IDetector<RobustLevelState>
{
    private const double MadToSigma = 1.2533141373155003; // sqrt(pi/2): mean absolute deviation → σ
    private readonly double _alpha = options.LevelAlpha;
    private readonly double _diffAlpha = options.SpikeAlpha;
    private readonly double _clip = options.ClipZ;
    private readonly double _z = options.LevelZThreshold;
    private readonly double _envelopeExcess = options.LevelEnvelopeFactor - 1;
    private readonly double _minRel = options.MinRelativeScale;
    private readonly double _decay = options.EnvelopeDecay;
    private readonly double _halfLife = options.EnvelopeHalfLifeMs;
    // Decay for the last time step seen: regularly sampled sensors reuse it instead of an Exp per reading.
    private long _cachedStep = -1;
    private double _cachedDecay;
    private readonly double _warmup = options.WarmupReadings;

    public string Name => "level";

    /// <summary>The estimate before the next reading (what the other detectors compare against).</summary>
    public LevelEstimate Estimate(in RobustLevelState s) =>
        new(s.Mean, Scale(s.AbsDev, s.Mean), Scale(s.AbsDiff, s.Mean), s.Count, s.High, s.Low, s.MaxDiff);

    private double Scale(double absDev, double mean) =>
        Math.Max(absDev * MadToSigma, (_minRel * Math.Abs(mean)) + 1e-12);

    public DetectorScore Update(ref RobustLevelState s, long timestamp, double value, in LevelEstimate level)
    {
        if (s.Count == 0)
        {
            s = new RobustLevelState { Mean = value, Previous = value, Count = 1, High = value, Low = value, LastTimestamp = timestamp };
            return DetectorScore.None(timestamp);
        }
        // Early on, faster adaptation so the estimate is usable by the end of warm-up.
        var n = s.Count;
        var alpha = Math.Max(_alpha, 1.0 / (n + 1));
        var diffAlpha = Math.Max(_diffAlpha, 1.0 / (n + 1));

        var scale = level.Scale;
        var residual = value - s.Mean;
        var z = residual / scale;
        var bound = _clip * scale;
        // No clipping while warming up: the scale must first learn what is normal before it can judge outliers.
        var clipped = n < _warmup ? residual : Math.Clamp(residual, -bound, bound);
        s.Mean += alpha * clipped;
        s.AbsDev += alpha * (Math.Abs(clipped) - s.AbsDev);

        var diff = value - s.Previous;
        var diffBound = _clip * level.DiffScale;
        var clippedDiff = n < _warmup ? Math.Abs(diff) : Math.Min(Math.Abs(diff), diffBound);
        s.AbsDiff += diffAlpha * (clippedDiff - s.AbsDiff);
        s.Previous = value;
        s.Count = n + 1;
        var above = value - s.High;
        var below = s.Low - value;
        var excess = Math.Max(0, Math.Max(above, below)) / scale;
        // Relative novelty: beyond an envelope that reaches far from the level, the value must also reach
        // LevelEnvelopeFactor times the envelope's distance (the spike detector's rule for changes), so peaks a
        // little higher than last week's tall ones are not news, while a sensor with a tight envelope keeps the
        // threshold in scales.
        var extent = Math.Max(0, above >= below ? s.High - s.Mean : s.Mean - s.Low) / scale;
        var needed = Math.Max(_z, _envelopeExcess * extent);
        // A late (out-of-order) reading does not move the clock back, so no span decays twice.
        var step = Math.Max(0, timestamp - s.LastTimestamp);
        s.LastTimestamp = Math.Max(s.LastTimestamp, timestamp);
        var decay = Decay(step);
        s.High = Math.Max(value, s.High - (decay * (s.High - s.Mean)));
        s.Low = Math.Min(value, s.Low + (decay * (s.Mean - s.Low)));
        s.MaxDiff = Math.Max(Math.Abs(diff), s.MaxDiff * (1 - decay));
        return new DetectorScore(excess / needed, excess, level.Mean, scale, timestamp);
    }

    /// <summary>
    /// The envelopes' decay for this reading. The envelopes remember what was seen recently, a notion of event
    /// time (half-life <c>EnvelopeHalfLifeMs</c>), whereas the EWMA estimators' factors stay per reading: their
    /// precision depends on how many samples they average. Per reading (<c>EnvelopeDecay</c>) when the half-life is 0.
    /// </summary>
    private double Decay(long step)
    {
        if (_halfLife <= 0)
        {
            return _decay;
        }
        if (step != _cachedStep)
        {
            _cachedStep = step;
            _cachedDecay = -double.ExpM1(-0.6931471805599453 * step / _halfLife);
        }
        return _cachedDecay;
    }

    public void Write(in RobustLevelState s, BinaryWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Write(s.Mean);
        writer.Write(s.AbsDev);
        writer.Write(s.AbsDiff);
        writer.Write(s.Previous);
        writer.Write(s.Count);
        writer.Write(s.High);
        writer.Write(s.Low);
        writer.Write(s.MaxDiff);
        writer.Write(s.LastTimestamp);
    }

    public RobustLevelState Read(BinaryReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        return new RobustLevelState
        {
            Mean = reader.ReadDouble(),
            AbsDev = reader.ReadDouble(),
            AbsDiff = reader.ReadDouble(),
            Previous = reader.ReadDouble(),
            Count = reader.ReadInt64(),
            High = reader.ReadDouble(),
            Low = reader.ReadDouble(),
            MaxDiff = reader.ReadDouble(),
            LastTimestamp = reader.ReadInt64(),
        };
    }
}
