using System.Globalization;
using System.Text.Json;
using SmartMaintenance.Streams.Contracts;

namespace SmartMaintenance.Streams.Load;

/// <summary>Shape of the offered load over time.</summary>
public enum LoadScenario
{
    /// <summary><see cref="LoadOptions.Rate"/> for the whole run.</summary>
    Constant,
    /// <summary>Linear from <see cref="LoadOptions.Rate"/> to <see cref="LoadOptions.PeakRate"/> over the measured part.</summary>
    Ramp,
    /// <summary><see cref="LoadOptions.Rate"/>, with <see cref="LoadOptions.PeakRate"/> for <see cref="LoadOptions.SpikeDuration"/> in the middle.</summary>
    Spike,
    /// <summary>Constant rate meant for long runs: the report adds memory over time and first-vs-last-quarter latency.</summary>
    Soak,
}

/// <summary>What `smstream load` offers and what it accepts as a pass.</summary>
[SettingsSection("Load")]
public sealed class LoadOptions
{
    [Setting("Shape of the offered load: Constant, Ramp, Spike or Soak.")]
    public LoadScenario Scenario { get; set; } = LoadScenario.Constant;

    [Setting("Offered readings per second (the start rate of a ramp, the base rate of a spike).", Unit = "readings/s", Min = 1, Max = 10_000_000)]
    public double Rate { get; set; } = 5_000;

    [Setting("End rate of a ramp, top rate of a spike.", Unit = "readings/s", Min = 1, Max = 10_000_000)]
    public double PeakRate { get; set; } = 20_000;

    [Setting("Measured duration (after the warm-up).", Unit = "ms")]
    public TimeSpan Duration { get; set; } = TimeSpan.FromSeconds(60);

    [Setting("Warm-up at the scenario's start rate; excluded from histograms and thresholds.", Unit = "ms")]
    public TimeSpan WarmUp { get; set; } = TimeSpan.FromSeconds(5);

    [Setting("Length of the spike of a Spike scenario (default: a tenth of Duration).", Unit = "ms")]
    public TimeSpan? SpikeDuration { get; set; }

    [Setting("Distinct sensor ids, visited round-robin.", Min = 1, Max = 10_000_000)]
    public int Sensors { get; set; } = 1_000;

    [Setting("Readings per Kafka message: 1 sends single readings keyed by sensor, K > 1 sends {\"readings\":[...]} envelopes.", Min = 1, Max = 10_000)]
    public int Batch { get; set; } = 1;

    [Setting("Fraction of readings that are malformed (missing value, non-finite, broken JSON, out of range).", Min = 0, Max = 1)]
    public double MalformedFraction { get; set; } = 0.001;

    [Setting("Probability per reading of a spike anomaly (drives alerts for the alert-latency probe).", Min = 0, Max = 1)]
    public double AnomalyRate { get; set; } = 0.0002;

    [Setting("Latency probes (single readings carrying their send time in attributes) per second.", Min = 0, Max = 1000)]
    public int ProbesPerSecond { get; set; } = 20;

    [Setting("linger.ms of the load tool's producer (the simulated gateways; overrides Kafka:LingerMs for it). Event time is stamped before it, so it is part of every latency measured. The embedded broker walks a partition's whole list of retained batches on every fetch, so its CPU grows with batches per second times batches retained: 5 ms batches (about 4 readings each at 10k/s over 12 partitions) starved the engine of CPU within a minute; 20 ms batches are 4x fewer and 4x shorter to walk.", Unit = "ms", Min = 0, Max = 900_000)]
    public double ProducerLingerMs { get; set; } = 20;

    [Setting("Random seed of the payload generator.")]
    public int Seed { get; set; } = 42;

    [Setting("After sending, how long to wait for the engine to drain (lag 0, last probe visible).", Unit = "ms")]
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(60);

    [Setting("Fail when p99 end-to-end latency (send → row visible in readings) exceeds this (unset: no check).", Unit = "ms")]
    public TimeSpan? MaxP99 { get; set; }

    [Setting("Fail when p99 producer acknowledgement latency exceeds this (unset: no check).", Unit = "ms")]
    public TimeSpan? MaxAckP99 { get; set; }

    [Setting("Fail when p99 event-time → alert latency exceeds this (unset: no check).", Unit = "ms")]
    public TimeSpan? MaxAlertP99 { get; set; }

    [Setting("Fail when failed deliveries / messages sent exceeds this fraction (unset: no check).", Min = 0, Max = 1)]
    public double? MaxErrorRate { get; set; }

    [Setting("Fail when consumer lag (messages) at the end of the drain exceeds this (unset: no check).", Min = 0)]
    public long? MaxLag { get; set; }

    [Setting("Fail when the achieved send rate falls below this fraction of the offered rate.", Min = 0, Max = 1)]
    public double MinAchievedFraction { get; set; } = 0.95;

    public TimeSpan EffectiveSpikeDuration => SpikeDuration ?? TimeSpan.FromTicks(Duration.Ticks / 10);

    public void Validate(string sectionPath = "Load")
    {
        SettingsValidator.Validate(this, sectionPath);
        if (Duration <= TimeSpan.Zero)
        {
            throw new ConfigurationException($"{sectionPath}:Duration", "must be positive");
        }
        if (WarmUp < TimeSpan.Zero)
        {
            throw new ConfigurationException($"{sectionPath}:WarmUp", "must not be negative");
        }
        if (Scenario == LoadScenario.Spike && EffectiveSpikeDuration >= Duration)
        {
            throw new ConfigurationException($"{sectionPath}:SpikeDuration", "must be shorter than Duration");
        }
        if (Scenario is LoadScenario.Ramp or LoadScenario.Spike && PeakRate < Rate)
        {
            throw new ConfigurationException($"{sectionPath}:PeakRate", $"must be at least Rate ({Rate.ToString(CultureInfo.InvariantCulture)}) for {Scenario}");
        }
    }

    /// <summary>Offered readings/s at <paramref name="elapsed"/> since the start of the run (warm-up included).</summary>
    public double RateAt(TimeSpan elapsed)
    {
        var t = elapsed - WarmUp;
        if (t < TimeSpan.Zero)
        {
            return Rate;
        }
        if (t >= Duration)
        {
            return 0;
        }
        switch (Scenario)
        {
            case LoadScenario.Ramp:
                return Rate + ((PeakRate - Rate) * (t / Duration));
            case LoadScenario.Spike:
                var spike = EffectiveSpikeDuration;
                var from = (Duration - spike) / 2;
                return t >= from && t < from + spike ? PeakRate : Rate;
            default:
                return Rate;
        }
    }

    /// <summary>Readings offered over the whole run (integral of <see cref="RateAt"/>).</summary>
    public double OfferedReadings()
    {
        var measured = Scenario switch
        {
            LoadScenario.Ramp => (Rate + PeakRate) / 2 * Duration.TotalSeconds,
            LoadScenario.Spike => (Rate * (Duration - EffectiveSpikeDuration).TotalSeconds) + (PeakRate * EffectiveSpikeDuration.TotalSeconds),
            _ => Rate * Duration.TotalSeconds,
        };
        return measured + (Rate * WarmUp.TotalSeconds);
    }

    /// <summary>Applies a scenario file: a JSON object whose property names are this class's (case-insensitive);
    /// durations as "60s", "500ms", "2m" or "00:01:00".</summary>
    public void ApplyFile(string path)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        if (doc.RootElement.ValueKind != JsonValueKind.Object)
        {
            throw new ConfigurationException("Load", $"scenario file {path} must hold a JSON object");
        }
        foreach (var p in doc.RootElement.EnumerateObject())
        {
            var prop = typeof(LoadOptions).GetProperties().FirstOrDefault(x => x.CanWrite && string.Equals(x.Name, p.Name.Replace("-", "", StringComparison.Ordinal).Replace("_", "", StringComparison.Ordinal), StringComparison.OrdinalIgnoreCase))
                ?? throw new ConfigurationException($"Load:{p.Name}", $"unknown setting in scenario file {path}");
            var type = Nullable.GetUnderlyingType(prop.PropertyType) ?? prop.PropertyType;
            object? value;
            try
            {
                // Each branch boxed on its own: a shared natural type would turn ints into doubles.
                value = type == typeof(TimeSpan) ? (object)ParseDuration(p.Value.ValueKind == JsonValueKind.Number ? p.Value.GetDouble().ToString(CultureInfo.InvariantCulture) + "s" : p.Value.GetString() ?? "")
                    : type == typeof(LoadScenario) ? (object)Enum.Parse<LoadScenario>(p.Value.GetString() ?? "", ignoreCase: true)
                    : type == typeof(double) ? (object)ParseFraction(p.Value)
                    : type == typeof(int) ? (object)p.Value.GetInt32()
                    : type == typeof(long) ? (object)p.Value.GetInt64()
                    : throw new ConfigurationException($"Load:{prop.Name}", "unsupported type");
            }
            catch (Exception ex) when (ex is FormatException or InvalidOperationException or ArgumentException)
            {
                throw new ConfigurationException($"Load:{prop.Name}", $"invalid value {p.Value.GetRawText()} in {path}: {ex.Message}");
            }
            prop.SetValue(this, value);
        }
    }

    private static double ParseFraction(JsonElement e) =>
        e.ValueKind == JsonValueKind.Number ? e.GetDouble() : ParseRatio(e.GetString() ?? "");

    /// <summary>"0.1%" → 0.001; "0.001" → 0.001.</summary>
    public static double ParseRatio(string text)
    {
        var t = text.Trim();
        var percent = t.EndsWith('%');
        var n = double.Parse(percent ? t[..^1] : t, NumberStyles.Float, CultureInfo.InvariantCulture);
        return percent ? n / 100 : n;
    }

    /// <summary>"250ms", "60s", "2m", "1h", "1m30s" or "00:01:00".</summary>
    public static TimeSpan ParseDuration(string text)
    {
        if (text.Contains(':', StringComparison.Ordinal) && TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out var ts))
        {
            return ts;
        }
        var total = TimeSpan.Zero;
        var i = 0;
        while (i < text.Length)
        {
            var start = i;
            while (i < text.Length && (char.IsDigit(text[i]) || text[i] == '.'))
            {
                i++;
            }
            if (start == i)
            {
                throw new FormatException($"'{text}' is not a duration (e.g. 250ms, 60s, 2m)");
            }
            var n = double.Parse(text.AsSpan(start, i - start), NumberStyles.Float, CultureInfo.InvariantCulture);
            var unitStart = i;
            while (i < text.Length && char.IsLetter(text[i]))
            {
                i++;
            }
            total += text[unitStart..i] switch
            {
                "ms" => TimeSpan.FromMilliseconds(n),
                "s" or "" => TimeSpan.FromSeconds(n),
                "m" or "min" => TimeSpan.FromMinutes(n),
                "h" => TimeSpan.FromHours(n),
                var u => throw new FormatException($"unknown unit '{u}' in '{text}'"),
            };
        }
        return total;
    }
}
