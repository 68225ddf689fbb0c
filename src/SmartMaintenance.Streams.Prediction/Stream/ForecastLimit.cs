using SmartMaintenance.Streams.Contracts;

namespace SmartMaintenance.Streams.Prediction.Stream;

/// <summary>Alarm limit of a sensor type for time-to-limit forecasts (section <c>Prediction:ForecastLimits:TYPE</c>).</summary>
public sealed class ForecastLimit
{
    [Setting("Alarm limit crossed from below (wear raises the value); set this or Low.")]
    public double? High { get; set; }

    [Setting("Alarm limit crossed from above (wear lowers the value); used when High is unset.")]
    public double? Low { get; set; }
}
