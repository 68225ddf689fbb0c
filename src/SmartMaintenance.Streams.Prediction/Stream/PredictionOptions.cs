using SmartMaintenance.Streams.Contracts;

namespace SmartMaintenance.Streams.Prediction.Stream;

/// <summary>In-stream prediction settings of the engine (section <c>Prediction</c>).</summary>
[SettingsSection("Prediction")]
public sealed class PredictionOptions
{
    [Setting("Estimate the remaining useful life of C-MAPSS-shaped assets after every cycle (needs an RUL model in MODELS/rul, see `smstream train rul`).")]
    public bool RulEnabled { get; set; }

    [Setting("Model directory whose `rul` folder holds the RUL models (empty: Scoring:ModelDirectory).")]
    public string ModelDirectory { get; set; } = "";

    [Setting("A `predicted_failure` alert opens when the lower bound of an asset's RUL interval falls below this many cycles.", Unit = "cycles", Min = 1, Max = 100_000)]
    public double RulHorizon { get; set; } = 30;

    [Setting("An asset silent for this long (event time) stops holding its partition's replay back.", Unit = "ms", Min = 1, Max = 604_800_000)]
    public TimeSpan IdleLimit { get; set; } = TimeSpan.FromHours(1);

    [Setting("Forecast, per sensor of the types in ForecastLimits, when its trend reaches the type's alarm limit; a `forecast` alert opens when the interval's early end is inside ForecastHorizon.")]
    public bool ForecastEnabled { get; set; }

    [Setting("Alarm limits per sensor type for time-to-limit forecasts.")]
    public Dictionary<string, ForecastLimit> ForecastLimits { get; set; } = new(StringComparer.Ordinal);

    [Setting("Event-time bucket the readings are averaged over before the trend fit.", Unit = "ms", Min = 1, Max = 604_800_000)]
    public TimeSpan ForecastBucket { get; set; } = TimeSpan.FromMinutes(10);

    [Setting("Bucket means the robust (Theil–Sen) trend is fitted to.", Min = 4, Max = 200)]
    public int ForecastBuckets { get; set; } = 18;

    [Setting("A `forecast` alert opens when the limit may be reached within this span (early end of the interval).", Unit = "ms", Min = 1, Max = 31_536_000_000)]
    public TimeSpan ForecastHorizon { get; set; } = TimeSpan.FromHours(12);

    /// <summary>Throws <see cref="ConfigurationException"/> naming the first invalid setting.</summary>
    public void Validate(string sectionPath = "Prediction")
    {
        SettingsValidator.Validate(this, sectionPath);
        if (ForecastEnabled && ForecastLimits.Count == 0)
        {
            throw new ConfigurationException($"{sectionPath}:{nameof(ForecastLimits)}", "needs at least one sensor type with a High or Low limit when ForecastEnabled is set");
        }
        foreach (var (type, limit) in ForecastLimits)
        {
            if (limit.High is null && limit.Low is null)
            {
                throw new ConfigurationException($"{sectionPath}:{nameof(ForecastLimits)}:{type}", "needs High or Low");
            }
        }
    }
}
