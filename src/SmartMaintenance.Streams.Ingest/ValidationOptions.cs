using SmartMaintenance.Streams.Contracts;

namespace SmartMaintenance.Streams.Ingest;

/// <summary>What makes a reading valid. Everything rejected goes to the DLQ with a reason, never dropped.</summary>
[SettingsSection("Validation")]
public sealed class ValidationOptions
{
    [Setting("Largest Kafka message accepted; larger ones go to the DLQ as too_large.", Unit = "bytes", Min = 64, Max = 64 * 1024 * 1024)]
    public int MaxMessageBytes { get; set; } = 1024 * 1024;

    [Setting("Most readings one batch envelope may carry; more go to the DLQ as too_many_readings.", Unit = "readings", Min = 1, Max = 1_000_000)]
    public int MaxReadingsPerMessage { get; set; } = 10_000;

    [Setting("Deepest JSON nesting accepted (attributes included); deeper is malformed_json.", Unit = "levels", Min = 2, Max = 64)]
    public int MaxDepth { get; set; } = 8;

    [Setting("Longest sensor_id, asset_id, sensor_type or unit accepted.", Unit = "bytes", Min = 1, Max = 1024)]
    public int MaxIdLength { get; set; } = 128;

    [Setting("Largest attributes object accepted.", Unit = "bytes", Min = 0, Max = 1024 * 1024)]
    public int MaxAttributesBytes { get; set; } = 4096;

    [Setting("How far an event time may be ahead of the wall clock before it is future_timestamp.", Unit = "ms", Min = 0)]
    public TimeSpan MaxFutureSkew { get; set; } = TimeSpan.FromMinutes(5);

    [Setting("How old an event time may be before it is past_timestamp (historical back-fills need more).", Unit = "ms", Min = 0)]
    public TimeSpan MaxPastAge { get; set; } = TimeSpan.FromDays(365);

    /// <summary>Physical ranges per sensor type ("min:max"); values outside are out_of_range.</summary>
    [Setting("Valid value range per sensor_type as \"min:max\"; types not listed are unchecked.")]
    public Dictionary<string, string> Ranges { get; set; } = new(StringComparer.Ordinal)
    {
        ["temperature"] = "-273.15:2000",
        ["vibration"] = "0:1000",
        ["pressure"] = "0:2000",
        ["current"] = "-5000:5000",
        ["humidity"] = "0:100",
    };

    public void Validate(string section = "Validation")
    {
        SettingsValidator.Validate(this, section);
        foreach (var (type, text) in Ranges)
        {
            if (!TryParseRange(text, out var min, out var max))
            {
                throw new ConfigurationException($"{section}:Ranges:{type}", $"\"{text}\" is not \"min:max\" with finite min <= max");
            }
            _ = min + max;
        }
    }

    internal static bool TryParseRange(string text, out double min, out double max)
    {
        min = max = 0;
        var colon = text.IndexOf(':', StringComparison.Ordinal);
        return colon > 0
            && double.TryParse(text.AsSpan(0, colon), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out min)
            && double.TryParse(text.AsSpan(colon + 1), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out max)
            && double.IsFinite(min) && double.IsFinite(max) && min <= max;
    }
}
