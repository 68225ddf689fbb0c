namespace SmartMaintenance.Streams.Scoring.Detectors;

/// <summary>Per-sensor state of <see cref="SeasonalDetector"/>.</summary>
public struct SeasonalState
{
    /// <summary>Expected value per slot of the period (NaN: slot not visited yet). Null until the first reading.</summary>
    public float[]? Profile;
    /// <summary>Event time (Unix ms) of the first reading: how many periods each slot has seen follows from it.</summary>
    public long First;
    /// <summary>Latest event time seen (Unix ms; 0 before the first reading).</summary>
    public long Last;
    /// <summary>Smoothed deviation from the seasonal expectation (EWMA over <c>SeasonalSmoothMs</c> of event time).</summary>
    public float Residual;
    /// <summary>EWMA of the absolute smoothed deviation (clipped): its robust scale.</summary>
    public float Scale;
    /// <summary>EWMA of the absolute deviation of single readings (clipped): bounds how far one reading moves the profile.</summary>
    public float RawScale;
    /// <summary>Readings that have updated the scales.</summary>
    public int Scored;
}

/// <summary>
/// Seasonal profile: the expected value for each slot of a period (hour of the day by default), learned online
/// from event time, and an EWMA control chart on the deviation from that expectation. It finds what is normal
/// for the sensor overall but wrong for the time: a daily peak that does not come, a night that looks like a day.
/// </summary>
/// <remarks>
/// Each slot's expectation is an EWMA per period (<c>SeasonalAlpha</c> per visit, 1/(n+1) over the first visits),
/// spread over the readings of the visit so sensors of any sampling rate learn at the same pace, and its update
/// is clipped to <c>ClipZ</c> scales so an anomaly is not learned at once. The deviation is smoothed over
/// <c>SeasonalSmoothMs</c> (noise averages out, a missing peak does not) and measured in its own robust scale, an
/// EWMA whose memory is event time (<c>SeasonalScaleHalfLifeMs</c>).
/// A slot scores once <c>SeasonalMinPeriods</c> periods have passed since the sensor's first reading.
/// Memory: one float per slot (24 for the default day of hours), allocated at the first reading.
/// </remarks>
public sealed class SeasonalDetector : IDetector<SeasonalState>
{
    private const double MadToSigma = 1.2533141373155003;
    private const int StateFormat = 1;
    private readonly long _period;
    private readonly long _slotMs;
    private readonly int _slots;
    private readonly double _alpha;
    private readonly double _smoothMs;
    private readonly double _threshold;
    private readonly double _scaleAlpha;
    private readonly double _scaleHalfLife;
    private readonly double _clip;
    private readonly double _minRel;
    private readonly int _minPeriods;
    // Smoothing and scale factors for the last time step seen: regularly sampled sensors reuse them.
    private long _cachedStep = -1;
    private double _cachedSmooth;
    private double _cachedScale;

    public SeasonalDetector(DetectorOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _period = options.SeasonalPeriodMs;
        _slotMs = options.SeasonalSlotMs;
        _slots = (int)((_period + _slotMs - 1) / _slotMs);
        _alpha = options.SeasonalAlpha;
        _smoothMs = options.SeasonalSmoothMs;
        _threshold = options.SeasonalThreshold;
        _scaleAlpha = options.SeasonalScaleAlpha;
        _scaleHalfLife = options.SeasonalScaleHalfLifeMs;
        _clip = options.ClipZ;
        _minRel = options.MinRelativeScale;
        _minPeriods = options.SeasonalMinPeriods;
    }

    public string Name => "seasonal";

    /// <summary>Slots per period (length of the profile).</summary>
    public int Slots => _slots;

    public DetectorScore Update(ref SeasonalState s, long timestamp, double value, in LevelEstimate level)
    {
        if (s.Profile is null)
        {
            s.Profile = new float[_slots];
            s.Profile.AsSpan().Fill(float.NaN);
            s.First = timestamp;
            s.Last = timestamp;
        }
        // A late (out-of-order) reading does not move the clock back.
        var step = Math.Max(0, timestamp - s.Last);
        s.Last = Math.Max(s.Last, timestamp);
        var slot = Slot(timestamp);
        var expected = (double)s.Profile[slot];
        if (double.IsNaN(expected))
        {
            s.Profile[slot] = (float)value;
            return DetectorScore.None(timestamp);
        }
        var periods = Math.Max(0, timestamp - s.First) / _period;
        var residual = value - expected;
        // Accumulated in double and stored as float: the scalars are estimates, not sums, so float precision is ample.
        Factors(step, out var smooth, out var scaleFactor);
        var smoothed = s.Residual + (smooth * (residual - s.Residual));
        s.Residual = (float)smoothed;

        var scale = Math.Max(s.Scale * MadToSigma, (_minRel * Math.Abs(expected)) + 1e-12);
        var rawScale = Math.Max(s.RawScale * MadToSigma, (_minRel * Math.Abs(expected)) + 1e-12);
        var score = DetectorScore.None(timestamp);
        if (periods >= _minPeriods && s.Scored > 0)
        {
            var z = smoothed / scale;
            score = new DetectorScore(Math.Abs(z) / _threshold, z, expected, scale, timestamp);
        }

        // The first period only fills the profile: its deviations say nothing about the seasonal fit yet.
        if (periods >= 1)
        {
            var a = Math.Max(scaleFactor, 1.0 / (s.Scored + 1.0));
            var clipScales = s.Scored > 0;
            s.Scale = (float)(s.Scale + (a * ((clipScales ? Math.Min(Math.Abs(smoothed), _clip * scale) : Math.Abs(smoothed)) - s.Scale)));
            s.RawScale = (float)(s.RawScale + (a * ((clipScales ? Math.Min(Math.Abs(residual), _clip * rawScale) : Math.Abs(residual)) - s.RawScale)));
            if (s.Scored < int.MaxValue)
            {
                s.Scored++;
            }
            if (clipScales)
            {
                residual = Math.Clamp(residual, -_clip * rawScale, _clip * rawScale);
            }
        }
        // Per visit the slot moves by SeasonalAlpha (1/(n+1) early on), spread over the visit's readings by the
        // event time each covers; a late or duplicate reading (no time step) does not teach the profile.
        var perVisit = Math.Max(_alpha, 1.0 / (periods + 1));
        var share = Math.Min(1.0, (double)step / _slotMs);
        s.Profile[slot] = (float)(expected + (perVisit * share * residual));
        return score;
    }

    private int Slot(long timestamp)
    {
        var phase = timestamp % _period;
        if (phase < 0)
        {
            phase += _period;
        }
        return (int)(phase / _slotMs);
    }

    /// <summary>
    /// EWMA factors for a time step: of the smoothed deviation, step / (step + SeasonalSmoothMs); of its scales, the
    /// decay over the step at <c>SeasonalScaleHalfLifeMs</c> (per reading <c>SeasonalScaleAlpha</c> when that is 0).
    /// </summary>
    /// <remarks>
    /// The scales run on event time because the smoothed deviation carries about one independent value per
    /// <c>SeasonalSmoothMs</c>, whatever the sampling rate: a per-reading factor would calibrate a 5-minute sensor
    /// over hours (and forget a normal day's variation after a quiet one) but an hourly one over days.
    /// </remarks>
    private void Factors(long step, out double smooth, out double scale)
    {
        if (step != _cachedStep)
        {
            _cachedStep = step;
            _cachedSmooth = step <= 0 || _smoothMs <= 0 ? 1.0 : step / (step + _smoothMs);
            _cachedScale = _scaleHalfLife <= 0 ? _scaleAlpha : -double.ExpM1(-0.6931471805599453 * step / _scaleHalfLife);
        }
        smooth = _cachedSmooth;
        scale = _cachedScale;
    }

    /// <summary>Format 1: configuration (period, slot), scalars, then the profile when there is one.</summary>
    public void Write(in SeasonalState s, BinaryWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Write(StateFormat);
        writer.Write(_period);
        writer.Write(_slotMs);
        writer.Write(s.First);
        writer.Write(s.Last);
        writer.Write(s.Residual);
        writer.Write(s.Scale);
        writer.Write(s.RawScale);
        writer.Write(s.Scored);
        writer.Write(s.Profile is not null);
        if (s.Profile is { } profile)
        {
            foreach (var v in profile)
            {
                writer.Write(v);
            }
        }
    }

    public SeasonalState Read(BinaryReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var format = reader.ReadInt32();
        if (format != StateFormat)
        {
            throw new InvalidDataException($"Seasonal snapshot format {format} is not supported (expected {StateFormat}).");
        }
        var (period, slotMs) = (reader.ReadInt64(), reader.ReadInt64());
        if (period != _period || slotMs != _slotMs)
        {
            throw new InvalidDataException(
                $"Seasonal snapshot was taken with period {period} ms and slot {slotMs} ms; the configuration has {_period} ms and {_slotMs} ms.");
        }
        var s = new SeasonalState
        {
            First = reader.ReadInt64(),
            Last = reader.ReadInt64(),
            Residual = reader.ReadSingle(),
            Scale = reader.ReadSingle(),
            RawScale = reader.ReadSingle(),
            Scored = reader.ReadInt32(),
        };
        if (reader.ReadBoolean())
        {
            var profile = new float[_slots];
            for (var i = 0; i < profile.Length; i++)
            {
                profile[i] = reader.ReadSingle();
            }
            s.Profile = profile;
        }
        return s;
    }
}
