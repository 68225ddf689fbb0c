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

    /// <summary>Throws <see cref="ConfigurationException"/> naming the first invalid setting.</summary>
    public void Validate(string sectionPath = "Prediction") => SettingsValidator.Validate(this, sectionPath);
}
