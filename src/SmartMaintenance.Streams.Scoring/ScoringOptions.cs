using SmartMaintenance.Streams.Contracts;

namespace SmartMaintenance.Streams.Scoring;

/// <summary>Configuration of the scoring stage: detector parameters per sensor type and the model runtime.</summary>
[SettingsSection("Scoring")]
public sealed class ScoringOptions
{
    [Setting("Detector parameters for sensors whose sensor_type has no entry in SensorTypes (and for readings without a type).")]
    public DetectorOptions Defaults { get; set; } = new();

    /// <summary>Keyed by sensor_type. An entry is a complete parameter set: unspecified values take the built-in defaults, not those of <see cref="Defaults"/>.</summary>
    [Setting("Per-sensor-type detector parameters, keyed by sensor_type; an entry replaces Defaults for that type.")]
    public Dictionary<string, DetectorOptions> SensorTypes { get; set; } = new(StringComparer.Ordinal);

    [Setting("Directory the model provider watches for model files (*.onnx and *.pca.json with their *.meta.json).")]
    public string ModelDirectory { get; set; } = ".smstream/models";

    [Setting("How often the model provider re-scans the model directory for a new version.", Unit = "ms", Min = 50, Max = 3_600_000)]
    public int ModelPollIntervalMs { get; set; } = 5_000;

    [Setting("Rows per OnnxRuntime call when scoring window features in micro-batches.", Unit = "rows", Min = 1, Max = 65_536)]
    public int ModelBatchSize { get; set; } = 256;

    [Setting("Model score at or above which a window is reported as anomalous by the model detector.", Min = 0, Max = 1)]
    public double ModelThreshold { get; set; } = 0.5;

    /// <summary>Throws a <see cref="ConfigurationException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        SettingsValidator.Validate(this, "Scoring");
        if (string.IsNullOrWhiteSpace(ModelDirectory))
        {
            throw new ConfigurationException("Scoring:ModelDirectory", "must not be empty");
        }
        ArgumentNullException.ThrowIfNull(Defaults);
        Defaults.Validate("Scoring:Defaults");
        foreach (var (type, options) in SensorTypes)
        {
            if (options is null)
            {
                throw new ConfigurationException($"Scoring:SensorTypes:{type}", "must not be null");
            }
            options.Validate($"Scoring:SensorTypes:{type}");
        }
    }

    /// <summary>The parameter set for a sensor type (Defaults when the type is null or has no entry).</summary>
    public DetectorOptions For(string? sensorType) =>
        sensorType is not null && SensorTypes.TryGetValue(sensorType, out var o) ? o : Defaults;
}

/// <summary>Parameters of the statistical detectors for one sensor type. Counts are in readings of that sensor.</summary>
/// <remarks>The defaults are the single configuration evaluated on the NAB corpus (docs/scoring.md); they are not tuned per series.</remarks>
public sealed class DetectorOptions
{
    [Setting("Readings a sensor must have seen before any detector may fire; also how much history the engine replays after a restart.", Unit = "readings", Min = 2, Max = 1_000_000)]
    public int WarmupReadings { get; set; } = 200;

    [Setting("Ensemble score at or above which an anomaly is emitted.", Min = 0.01, Max = 1)]
    public double FireThreshold { get; set; } = 0.5;

    [Setting("After an anomaly fires, further detections of the sensor are suppressed for this many readings (one event, one alert).", Unit = "readings", Min = 0, Max = 1_000_000)]
    public int SuppressReadings { get; set; } = 200;

    [Setting("The suppression after a firing also ends once this much event time has passed (whichever of SuppressReadings and this ends first; 0: readings only).", Unit = "ms", Min = 0, Max = 31_536_000_000)]
    public long SuppressDurationMs { get; set; } = 86_400_000;

    [Setting("During suppression a score still fires when it exceeds the score that started the suppression by this much (escalation).", Min = 0, Max = 1)]
    public double EscalationMargin { get; set; } = 1;

    [Setting("Smoothing factor of the robust level (EWMA of value and of absolute deviation with clipped updates).", Min = 1e-6, Max = 1)]
    public double LevelAlpha { get; set; } = 0.0005;

    [Setting("Excess beyond the envelope of recent values, in robust scales, at which the level detector scores 0.5.", Min = 0.01, Max = 1000)]
    public double LevelZThreshold { get; set; } = 2;

    [Setting("A value beyond the envelope of recent values scores 0.5 only when its distance from the level also reaches this multiple of the envelope's (relative novelty, like SpikeEnvelopeFactor; 1: the excess in scales alone).", Min = 1, Max = 100)]
    public double LevelEnvelopeFactor { get; set; } = 1.5;

    [Setting("Residuals are clipped to this many scales before they update level and scale (outlier resistance).", Min = 0.5, Max = 100)]
    public double ClipZ { get; set; } = 3;

    [Setting("Per-reading decay of the envelopes of recent values and changes towards the level; smaller remembers longer. Used only when EnvelopeHalfLifeMs is 0.", Min = 0, Max = 1)]
    public double EnvelopeDecay { get; set; } = 0.0003;

    [Setting("Half-life, in event time, of the envelopes of recent values and changes (how long a peak or a jump counts as recently seen), so sensors of any sampling rate remember the same span (0: per-reading EnvelopeDecay instead).", Unit = "ms", Min = 0, Max = 31_536_000_000)]
    public double EnvelopeHalfLifeMs { get; set; } = 691_200_000;

    [Setting("A change scores 0.5 as a spike only when it also reaches this multiple of the largest recent change.", Min = 0, Max = 100)]
    public double SpikeEnvelopeFactor { get; set; } = 2.5;

    [Setting("Smoothing factor of the typical absolute first difference used by the spike / rate-of-change detector.", Min = 1e-6, Max = 1)]
    public double SpikeAlpha { get; set; } = 0.01;

    [Setting("Absolute first difference, in typical differences, at which the spike detector can score 0.5.", Min = 0.01, Max = 1000)]
    public double SpikeZThreshold { get; set; } = 6;

    [Setting("CUSUM slack: standardized deviations below this many scales do not accumulate.", Min = 0, Max = 100)]
    public double ShiftK { get; set; } = 1.5;

    [Setting("CUSUM decision interval: accumulated excess (in scales) at which the level-shift detector scores 0.5.", Min = 0.1, Max = 100_000)]
    public double ShiftH { get; set; } = 15;

    [Setting("Smoothing factor of the CUSUM's own reference level (clipped EWMA), so slow drift does not accumulate into shifts (0: the robust level is the reference).", Min = 0, Max = 1)]
    public double ShiftAlpha { get; set; } = 0.002;

    [Setting("Minimum run of unchanged readings before the flatline detector can score 0.5.", Unit = "readings", Min = 2, Max = 1_000_000)]
    public int FlatlineReadings { get; set; } = 30;

    [Setting("A run must also be this many times longer than the longest run seen so far to count as stuck (0: FlatlineReadings alone, for sensors that never legitimately hold a value).", Min = 0, Max = 1000)]
    public double FlatlineRunFactor { get; set; } = 2;

    [Setting("A change smaller than this fraction of the typical absolute difference counts as unchanged.", Min = 0, Max = 1)]
    public double FlatlineTolerance { get; set; } = 0.01;

    [Setting("Lowest plausible value for the sensor type; below it the range rule fires with score 1 (unset: no bound).")]
    public double? RangeMin { get; set; }

    [Setting("Highest plausible value for the sensor type; above it the range rule fires with score 1 (unset: no bound).")]
    public double? RangeMax { get; set; }

    [Setting("Scale floor relative to the level's magnitude, so near-constant signals do not produce infinite z-scores.", Min = 0, Max = 1)]
    public double MinRelativeScale { get; set; } = 1e-4;

    [Setting("A detector must exceed this multiple of the largest ratio it produced recently to score above 0.5 (0 disables habituation).", Min = 0, Max = 100)]
    public double HabituationFactor { get; set; } = 1;

    [Setting("Per-reading decay of the remembered largest ratio per detector (habituation memory); used only when HabituationHalfLifeMs is 0.", Min = 0, Max = 1)]
    public double HabituationDecay { get; set; } = 0.0005;

    [Setting("Half-life, in event time, of the remembered largest ratio per detector (habituation memory), so sensors of any sampling rate forget at the same pace (0: per-reading HabituationDecay instead).", Unit = "ms", Min = 0, Max = 31_536_000_000)]
    public double HabituationHalfLifeMs { get; set; } = 432_000_000;

    [Setting("Weight of the robust level detector in the ensemble (0 disables it).", Min = 0, Max = 10)]
    public double LevelWeight { get; set; } = 1;

    [Setting("Weight of the spike / rate-of-change detector in the ensemble (0 disables it).", Min = 0, Max = 10)]
    public double SpikeWeight { get; set; } = 1;

    [Setting("Weight of the CUSUM level-shift detector in the ensemble (0 disables it).", Min = 0, Max = 10)]
    public double ShiftWeight { get; set; } = 1;

    [Setting("Weight of the flatline / stuck-sensor detector in the ensemble (0 disables it).", Min = 0, Max = 10)]
    public double FlatlineWeight { get; set; } = 1;

    [Setting("Weight of the context (online nearest-neighbour shape novelty) detector in the ensemble (0 disables it).", Min = 0, Max = 10)]
    public double ContextWeight { get; set; } = 1;

    [Setting("Points in one context (the recent shape compared against history); each point is the mean of ContextStride readings.", Unit = "points", Min = 2, Max = 64)]
    public int ContextLength { get; set; } = 8;

    [Setting("Readings averaged into one context point; the nearest-neighbour search runs once per stride.", Unit = "readings", Min = 1, Max = 1024)]
    public int ContextStride { get; set; } = 4;

    [Setting("Readings per point of the slow context detector (same length, history and threshold as the fast one, at a coarser time scale).", Unit = "readings", Min = 1, Max = 4096)]
    public int SlowContextStride { get; set; } = 48;

    [Setting("Weight of the slow context detector in the ensemble (0 disables it).", Min = 0, Max = 10)]
    public double SlowContextWeight { get; set; } = 1;

    [Setting("Past contexts kept per sensor for the nearest-neighbour search.", Unit = "contexts", Min = 4, Max = 65_536)]
    public int ContextHistory { get; set; } = 256;

    [Setting("Nearest-neighbour distance, in multiples of its running typical value, at which the context detector scores 0.5.", Min = 0.1, Max = 1000)]
    public double ContextThreshold { get; set; } = 4;

    [Setting("Smoothing factor, per search, of the context detector's typical nearest-neighbour distance (a plain mean over the first 1/ContextAlpha searches); 0: 1/ContextHistory, so the typical distance spans as many searches as the history it is measured against.", Min = 0, Max = 1)]
    public double ContextAlpha { get; set; }

    /// <summary><see cref="ContextAlpha"/>, or 1/<see cref="ContextHistory"/> when it is 0 (the default: derived, not tuned).</summary>
    public double EffectiveContextAlpha => ContextAlpha > 0 ? ContextAlpha : 1.0 / ContextHistory;

    [Setting("Weight of the seasonal-profile detector (deviation from the expected value for the time of the period) in the ensemble (0 disables it).", Min = 0, Max = 10)]
    public double SeasonalWeight { get; set; } = 1;

    [Setting("Period of the seasonal profile in event time (86,400,000: time of day; 604,800,000: hour of the week).", Unit = "ms", Min = 60_000, Max = 31_536_000_000)]
    public long SeasonalPeriodMs { get; set; } = 86_400_000;

    [Setting("Width of one slot of the seasonal profile (one expected value per slot, one float of state each).", Unit = "ms", Min = 1_000, Max = 31_536_000_000)]
    public long SeasonalSlotMs { get; set; } = 3_600_000;

    [Setting("How far one visit of a slot moves its expected value (EWMA factor per period; 1/(n+1) over the first visits).", Min = 1e-4, Max = 1)]
    public double SeasonalAlpha { get; set; } = 0.1;

    [Setting("Event time over which the deviation from the seasonal expectation is smoothed before it is scored (0: not smoothed).", Unit = "ms", Min = 0, Max = 31_536_000_000)]
    public double SeasonalSmoothMs { get; set; } = 3_600_000;

    [Setting("Smoothed deviation from the seasonal expectation, in its robust scales, at which the seasonal detector scores 0.5.", Min = 0.01, Max = 1000)]
    public double SeasonalThreshold { get; set; } = 8;

    [Setting("Smoothing factor (per reading) of the robust scales of the deviation from the seasonal expectation; used only when SeasonalScaleHalfLifeMs is 0.", Min = 1e-6, Max = 1)]
    public double SeasonalScaleAlpha { get; set; } = 0.005;

    [Setting("Half-life, in event time, of the robust scales of the deviation from the seasonal expectation, so sensors of any sampling rate calibrate over the same span (0: per-reading SeasonalScaleAlpha instead).", Unit = "ms", Min = 0, Max = 31_536_000_000)]
    public double SeasonalScaleHalfLifeMs { get; set; } = 518_400_000;

    [Setting("Whole periods since a sensor's first reading before the seasonal detector may score.", Unit = "periods", Min = 1, Max = 1000)]
    public int SeasonalMinPeriods { get; set; } = 3;

    public void Validate(string section)
    {
        SettingsValidator.Validate(this, section);
        if (RangeMin is { } lo && RangeMax is { } hi && lo > hi)
        {
            throw new ConfigurationException($"{section}:RangeMin", "must not exceed RangeMax");
        }
        if (ContextHistory < 2 * ContextLength)
        {
            throw new ConfigurationException($"{section}:ContextHistory", "must be at least twice ContextLength");
        }
        if (SeasonalSlotMs > SeasonalPeriodMs || SeasonalPeriodMs / SeasonalSlotMs > 65_536)
        {
            throw new ConfigurationException($"{section}:SeasonalSlotMs", "must not exceed SeasonalPeriodMs, and a period holds at most 65,536 slots");
        }
    }
}
