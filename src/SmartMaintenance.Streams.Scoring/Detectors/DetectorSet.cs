using System.Buffers;
using System.Text.Json;
using SmartMaintenance.Streams.Contracts;

namespace SmartMaintenance.Streams.Scoring.Detectors;

/// <summary>All per-sensor memory of the statistical detectors: one compact struct, kept by value in a dictionary.</summary>
public struct SensorState
{
    internal DetectorSet? Set;
    internal string? AssetId;
    internal string? SensorType;
    /// <summary>Event time (Unix ms) at which the current suppression ends at the latest (SuppressDurationMs).</summary>
    internal long SuppressUntil;
    // int and float: a million sensors hold these; SuppressReadings is an int setting and the score is in [0,1].
    internal int SuppressRemaining;
    internal float SuppressScore;
    internal RobustLevelState Level;
    internal SpikeState Spike;
    internal LevelShiftState Shift;
    internal FlatlineState Flatline;
    internal ContextState Context;
    internal ContextState SlowContext;
    internal SeasonalState Seasonal;
    /// <summary>Decaying maxima of each detector's ratio since warm-up (habituation); float: a reference level needs no more precision.</summary>
    internal float SeenLevel, SeenSpike, SeenShift, SeenFlatline, SeenContext, SeenSlowContext, SeenSeasonal;

    /// <summary>Readings this sensor has contributed (warm-up is complete when it passes the set's warm-up).</summary>
    public readonly long Readings => Level.Count;
}

/// <summary>What the ensemble concluded about one reading.</summary>
public struct EnsembleResult
{
    public DetectorScore Level;
    public DetectorScore Spike;
    public DetectorScore Shift;
    public DetectorScore Flatline;
    public DetectorScore Context;
    public DetectorScore SlowContext;
    public DetectorScore Range;
    public DetectorScore Seasonal;
    /// <summary>Combined score before suppression.</summary>
    public double Raw;
    /// <summary>Score after warm-up and suppression: what is compared with the fire threshold and what NAB replays.</summary>
    public double Output;
    public int Winner;
    public bool Fired;
}

/// <summary>
/// The ensemble for one sensor type: robust level, spike, CUSUM level shift, flatline, context novelty and the
/// range rule. Combined score = max of the weighted detector scores. After a firing, the sensor is quiet for
/// <c>SuppressReadings</c> or <c>SuppressDurationMs</c> of event time, whichever ends first, unless a score
/// escalates by <c>EscalationMargin</c>: one event, one alert.
/// </summary>
public sealed class DetectorSet
{
    internal const int LevelIndex = 0, SpikeIndex = 1, ShiftIndex = 2, FlatlineIndex = 3, ContextIndex = 4, RangeIndex = 5, SlowContextIndex = 6, SeasonalIndex = 7;
    private static readonly string[] Names = ["level", "spike", "level_shift", "flatline", "context", "range", "context_slow", "seasonal"];

    private readonly RobustLevelDetector _level;
    private readonly SpikeDetector _spike;
    private readonly LevelShiftDetector _shift;
    private readonly FlatlineDetector _flatline;
    private readonly ContextDetector _context;
    private readonly ContextDetector _slowContext;
    private readonly SeasonalDetector _seasonal;
    private readonly RangeRule _range;
    private readonly double _wLevel, _wSpike, _wShift, _wFlat, _wContext, _wSlowContext, _wSeasonal;
    private readonly double _habituation, _forget, _halfLife;
    // Decay factor for the last time step seen: sensors sampled regularly reuse it instead of an Exp per reading.
    private long _cachedStep = -1;
    private double _cachedForget;

    public DetectorSet(DetectorOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options;
        _level = new RobustLevelDetector(options);
        _spike = new SpikeDetector(options);
        _shift = new LevelShiftDetector(options);
        _flatline = new FlatlineDetector(options);
        _context = new ContextDetector(options);
        _slowContext = new ContextDetector(options, options.SlowContextStride, Names[SlowContextIndex]);
        _wSlowContext = options.SlowContextWeight;
        _seasonal = new SeasonalDetector(options);
        _wSeasonal = options.SeasonalWeight;
        _range = new RangeRule(options);
        (_wLevel, _wSpike, _wShift, _wFlat, _wContext) = (options.LevelWeight, options.SpikeWeight, options.ShiftWeight, options.FlatlineWeight, options.ContextWeight);
        _habituation = options.HabituationFactor;
        _forget = 1 - options.HabituationDecay;
        _halfLife = options.HabituationHalfLifeMs;
    }

    public DetectorOptions Options { get; }

    public int WarmupReadings => Options.WarmupReadings;

    public RangeRule Range => _range;

    public static string DetectorName(int index) => Names[index];

    /// <summary>Consumes one reading of the sensor whose state is <paramref name="s"/>.</summary>
    public void Update(ref SensorState s, long timestamp, double value, out EnsembleResult r)
    {
        r = default;
        // The level state's clock before this reading also drives the habituation decay.
        var previous = s.Level.LastTimestamp;
        var level = _level.Estimate(s.Level);
        r.Level = _level.Update(ref s.Level, timestamp, value, level);
        r.Spike = _wSpike > 0 ? _spike.Update(ref s.Spike, timestamp, value, level) : DetectorScore.None(timestamp);
        r.Shift = _wShift > 0 ? _shift.Update(ref s.Shift, timestamp, value, level) : DetectorScore.None(timestamp);
        r.Flatline = _wFlat > 0 ? _flatline.Update(ref s.Flatline, timestamp, value, level) : DetectorScore.None(timestamp);
        r.Context = _wContext > 0 ? _context.Update(ref s.Context, timestamp, value, level) : DetectorScore.None(timestamp);
        r.SlowContext = _wSlowContext > 0 ? _slowContext.Update(ref s.SlowContext, timestamp, value, level) : DetectorScore.None(timestamp);
        r.Seasonal = _wSeasonal > 0 ? _seasonal.Update(ref s.Seasonal, timestamp, value, level) : DetectorScore.None(timestamp);
        r.Range = _range.Score(timestamp, value);
        // The level detector counts every reading (it always runs): its count is the sensor's.
        var count = s.Level.Count;
        if (count == Options.WarmupReadings)
        {
            // What accumulated while the level was still being learned is not evidence of a shift.
            s.Shift = default;
        }

        var forget = Forget(previous, timestamp);
        var bestRatio = 0.0;
        var winner = RangeIndex;
        if (count > Options.WarmupReadings)
        {
            Consider(Habituate(r.Level.Ratio, ref s.SeenLevel, forget) * _wLevel, LevelIndex, ref bestRatio, ref winner);
            Consider(Habituate(r.Spike.Ratio, ref s.SeenSpike, forget) * _wSpike, SpikeIndex, ref bestRatio, ref winner);
            Consider(Habituate(r.Shift.Ratio, ref s.SeenShift, forget) * _wShift, ShiftIndex, ref bestRatio, ref winner);
            Consider(Habituate(r.Flatline.Ratio, ref s.SeenFlatline, forget) * _wFlat, FlatlineIndex, ref bestRatio, ref winner);
            Consider(Habituate(r.Context.Ratio, ref s.SeenContext, forget) * _wContext, ContextIndex, ref bestRatio, ref winner);
            Consider(Habituate(r.SlowContext.Ratio, ref s.SeenSlowContext, forget) * _wSlowContext, SlowContextIndex, ref bestRatio, ref winner);
            Consider(Habituate(r.Seasonal.Ratio, ref s.SeenSeasonal, forget) * _wSeasonal, SeasonalIndex, ref bestRatio, ref winner);
        }
        Consider(r.Range.Ratio, RangeIndex, ref bestRatio, ref winner);
        var best = ScoreMath.FromRatio(bestRatio);
        r.Raw = best;
        r.Winner = winner;

        var threshold = Options.FireThreshold;
        if (s.SuppressRemaining > 0 && Options.SuppressDurationMs > 0 && timestamp >= s.SuppressUntil)
        {
            // Suppression lasts SuppressReadings or SuppressDurationMs of event time, whichever ends first.
            s.SuppressRemaining = 0;
        }
        if (s.SuppressRemaining > 0)
        {
            s.SuppressRemaining--;
            if (best >= threshold && best >= s.SuppressScore + Options.EscalationMargin)
            {
                Fire(ref s, ref r, best, timestamp);
            }
            return;
        }
        r.Output = best;
        if (best >= threshold)
        {
            Fire(ref s, ref r, best, timestamp);
        }
    }

    private void Fire(ref SensorState s, ref EnsembleResult r, double score, long timestamp)
    {
        r.Output = score;
        r.Fired = true;
        s.SuppressRemaining = Options.SuppressReadings;
        s.SuppressUntil = timestamp + Options.SuppressDurationMs;
        s.SuppressScore = (float)score;
    }

    /// <summary>
    /// Habituation: a detector's ratio is measured against the largest ratio it produced recently (decaying
    /// maximum) times <c>HabituationFactor</c>, so a sensor whose normal life contains recurring excursions of
    /// one kind is judged by what is new for it, not by what is new for an idealized Gaussian signal.
    /// </summary>
    private double Habituate(double ratio, ref float seen, double forget)
    {
        var reference = Math.Max(1, _habituation * seen);
        seen = (float)Math.Min(float.MaxValue, Math.Max(ratio, seen * forget));
        return ratio / reference;
    }

    /// <summary>
    /// The habituation memory's decay for this reading: per event time (half-life <c>HabituationHalfLifeMs</c>),
    /// so sensors sampled at different rates forget at the same pace; per reading when the half-life is 0.
    /// </summary>
    private double Forget(long previous, long timestamp)
    {
        if (_halfLife <= 0)
        {
            return _forget;
        }
        // A late (out-of-order) reading does not decay the memory again.
        var step = previous == 0 ? 0 : Math.Max(0, timestamp - previous);
        if (step != _cachedStep)
        {
            _cachedStep = step;
            _cachedForget = Math.Exp(-0.6931471805599453 * step / _halfLife);
        }
        return _cachedForget;
    }

    private static void Consider(double score, int index, ref double best, ref int winner)
    {
        if (score > best)
        {
            best = score;
            winner = index;
        }
    }

    /// <summary>Builds the anomaly record for a fired result (allocates: only called when something fired).</summary>
    public Anomaly CreateAnomaly(string sensorId, in SensorState s, long timestamp, double value, in EnsembleResult r, string? detectorPrefix = null)
    {
        var w = WinnerScore(r);
        var severity = r.Winner == RangeIndex
            ? 5
            : SeverityBins.FromScore(r.Output, Options.FireThreshold);
        var name = detectorPrefix is null ? Names[r.Winner] : detectorPrefix + Names[r.Winner];
        return new Anomaly(sensorId, s.AssetId, s.SensorType, name, timestamp, value, r.Output, Options.FireThreshold, severity,
            Math.Min(w.Since, timestamp), timestamp, Evidence(s, value, r, w));
    }

    private static DetectorScore WinnerScore(in EnsembleResult r) => r.Winner switch
    {
        LevelIndex => r.Level,
        SpikeIndex => r.Spike,
        ShiftIndex => r.Shift,
        FlatlineIndex => r.Flatline,
        ContextIndex => r.Context,
        SlowContextIndex => r.SlowContext,
        SeasonalIndex => r.Seasonal,
        _ => r.Range,
    };

    private static string Evidence(in SensorState s, double value, in EnsembleResult r, DetectorScore w)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("detector", Names[r.Winner]);
            json.WriteNumber("value", value);
            WriteFinite(json, "expected", w.Expected);
            WriteFinite(json, "scale", w.Scale);
            WriteFinite(json, "statistic", w.Statistic);
            json.WriteNumber("since", w.Since);
            json.WriteNumber("readings", s.Level.Count);
            json.WriteStartObject("scores");
            WriteFinite(json, Names[LevelIndex], r.Level.Score);
            WriteFinite(json, Names[SpikeIndex], r.Spike.Score);
            WriteFinite(json, Names[ShiftIndex], r.Shift.Score);
            WriteFinite(json, Names[FlatlineIndex], r.Flatline.Score);
            WriteFinite(json, Names[ContextIndex], r.Context.Score);
            WriteFinite(json, Names[SlowContextIndex], r.SlowContext.Score);
            WriteFinite(json, Names[SeasonalIndex], r.Seasonal.Score);
            WriteFinite(json, Names[RangeIndex], r.Range.Score);
            json.WriteEndObject();
            json.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static void WriteFinite(Utf8JsonWriter json, string name, double v)
    {
        if (double.IsFinite(v))
        {
            json.WriteNumber(name, Math.Round(v, 6));
        }
    }

    internal void Write(in SensorState s, BinaryWriter w)
    {
        w.Write(s.SuppressRemaining);
        w.Write(s.SuppressUntil);
        w.Write(s.SuppressScore);
        _level.Write(s.Level, w);
        _spike.Write(s.Spike, w);
        _shift.Write(s.Shift, w);
        _flatline.Write(s.Flatline, w);
        _context.Write(s.Context, w);
        _slowContext.Write(s.SlowContext, w);
        _seasonal.Write(s.Seasonal, w);
        w.Write(s.SeenLevel);
        w.Write(s.SeenSpike);
        w.Write(s.SeenShift);
        w.Write(s.SeenFlatline);
        w.Write(s.SeenContext);
        w.Write(s.SeenSlowContext);
        w.Write(s.SeenSeasonal);
    }

    internal void Read(ref SensorState s, BinaryReader r)
    {
        s.SuppressRemaining = r.ReadInt32();
        s.SuppressUntil = r.ReadInt64();
        s.SuppressScore = r.ReadSingle();
        s.Level = _level.Read(r);
        s.Spike = _spike.Read(r);
        s.Shift = _shift.Read(r);
        s.Flatline = _flatline.Read(r);
        s.Context = _context.Read(r);
        s.SlowContext = _slowContext.Read(r);
        s.Seasonal = _seasonal.Read(r);
        s.SeenLevel = r.ReadSingle();
        s.SeenSpike = r.ReadSingle();
        s.SeenShift = r.ReadSingle();
        s.SeenFlatline = r.ReadSingle();
        s.SeenContext = r.ReadSingle();
        s.SeenSlowContext = r.ReadSingle();
        s.SeenSeasonal = r.ReadSingle();
    }
}
