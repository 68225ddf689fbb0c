using System.Globalization;
using SmartMaintenance.Streams.Contracts;

namespace SmartMaintenance.Streams.Windowing;

/// <summary>Window configuration (section <c>Windows</c>). Call <see cref="Validate"/> at start-up.</summary>
/// <remarks>Watermark settings are section-wide because watermarks are per source partition and shared by
/// every spec evaluated in the same pass.</remarks>
[SettingsSection("Windows")]
public sealed class WindowingSettings
{
    public const string Section = "Windows";

    /// <summary>Window specs. Empty means the defaults: 1-minute tumbling and 5-minute hopping by 1 minute.</summary>
    [Setting("Window specs (Kind, Size, Advance, Gap, AllowedLateness, EarlyEveryReadings, EarlyInterval, SensorTypes); empty: tumbling 1m + hopping 5m/1m")]
    public List<WindowSpecSettings> Specs { get; set; } = [];

    [Setting("Bounded out-of-orderness: a partition's watermark is its highest event time minus this", Unit = "ms", Min = 0, Max = 86_400_000)]
    public TimeSpan MaxOutOfOrderness { get; set; } = TimeSpan.FromSeconds(5);

    [Setting("Processing time without data after which a partition stops holding the watermark back (0: never)", Unit = "ms", Min = 0, Max = 86_400_000)]
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromSeconds(30);

    [Setting("Drop re-sent readings (same sensor, timestamp and value, or same seq)")]
    public bool Dedup { get; set; } = true;

    [Setting("How far behind the watermark readings are remembered for dedup (0: largest window span + allowed lateness)", Unit = "ms", Min = 0, Max = 86_400_000)]
    public TimeSpan DedupHorizon { get; set; } = TimeSpan.Zero;

    [Setting("Send duplicates to the side output (reason duplicate) in addition to counting them")]
    public bool EmitDuplicates { get; set; }

    public static IReadOnlyList<WindowSpecSettings> DefaultSpecs { get; } =
    [
        new() { Kind = "tumbling", Size = TimeSpan.FromMinutes(1) },
        new() { Kind = "hopping", Size = TimeSpan.FromMinutes(5), Advance = TimeSpan.FromMinutes(1) },
    ];

    /// <summary>Checks every setting; throws <see cref="ConfigurationException"/> naming the first bad one.</summary>
    public void Validate()
    {
        SettingsValidator.Validate(this, Section);
        var specs = Specs.Count == 0 ? DefaultSpecs : Specs;
        var labels = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < specs.Count; i++)
        {
            var path = string.Create(CultureInfo.InvariantCulture, $"{Section}:Specs:{i}");
            var spec = specs[i] ?? throw new ConfigurationException(path, "is empty");
            var built = spec.ToSpec(path);
            if (!labels.Add(built.Label))
            {
                throw new ConfigurationException(path, $"{built.Label} is configured twice");
            }
        }
    }

    /// <summary>The validated specs (defaults when none are configured).</summary>
    public IReadOnlyList<WindowSpec> ToSpecs()
    {
        Validate();
        var specs = Specs.Count == 0 ? DefaultSpecs : Specs;
        var result = new WindowSpec[specs.Count];
        for (var i = 0; i < result.Length; i++)
        {
            result[i] = specs[i].ToSpec(string.Create(CultureInfo.InvariantCulture, $"{Section}:Specs:{i}"));
        }
        return result;
    }

    public WindowOperatorOptions ToOperatorOptions(WindowProbe? probe = null) => new()
    {
        Dedup = Dedup,
        DedupHorizon = DedupHorizon == TimeSpan.Zero ? null : DedupHorizon,
        EmitDuplicates = EmitDuplicates,
        Probe = probe,
    };
}

/// <summary>One configured window spec.</summary>
public sealed class WindowSpecSettings
{
    [Setting("tumbling, hopping or session")]
    public string Kind { get; set; } = "tumbling";

    [Setting("Window length (tumbling, hopping)", Unit = "ms", Min = 0, Max = 31_536_000_000)]
    public TimeSpan Size { get; set; }

    [Setting("Distance between window starts (hopping); must divide into whole milliseconds and not exceed Size", Unit = "ms", Min = 0, Max = 31_536_000_000)]
    public TimeSpan Advance { get; set; }

    [Setting("Inactivity gap that closes a session (session)", Unit = "ms", Min = 0, Max = 31_536_000_000)]
    public TimeSpan Gap { get; set; }

    [Setting("How long after the window end late readings still correct it", Unit = "ms", Min = 0, Max = 31_536_000_000)]
    public TimeSpan AllowedLateness { get; set; }

    [Setting("Early firing every this many readings per window (0: off)", Min = 0, Max = int.MaxValue)]
    public int EarlyEveryReadings { get; set; }

    [Setting("Early firing of changed windows every interval of processing time (0: off)", Unit = "ms", Min = 0, Max = 86_400_000)]
    public TimeSpan EarlyInterval { get; set; }

    [Setting("Only readings of these sensor types enter the spec (empty: all)")]
    public List<string> SensorTypes { get; set; } = [];

    [Setting("Relative accuracy of p50/p95/p99", Min = 0.0001, Max = 0.5)]
    public double QuantileAccuracy { get; set; } = QuantileSketchConfig.DefaultAccuracy;

    [Setting("Sketch buckets per sign before the lowest are collapsed", Min = 8, Max = 4096)]
    public int QuantileMaxBuckets { get; set; } = QuantileSketchConfig.DefaultMaxBuckets;

    internal WindowSpec ToSpec(string path)
    {
        SettingsValidator.Validate(this, path);
        WindowSpec spec;
        switch (Kind?.Trim().ToUpperInvariant())
        {
            case "TUMBLING":
                spec = WindowSpec.Tumbling(Positive(Size, path, nameof(Size)));
                break;
            case "HOPPING":
                var size = Positive(Size, path, nameof(Size));
                var advance = Positive(Advance, path, nameof(Advance));
                if (advance > size)
                {
                    throw new ConfigurationException($"{path}:{nameof(Advance)}", "must not exceed Size");
                }
                spec = WindowSpec.Hopping(size, advance);
                break;
            case "SESSION":
                spec = WindowSpec.Session(Positive(Gap, path, nameof(Gap)));
                break;
            default:
                throw new ConfigurationException($"{path}:{nameof(Kind)}", $"'{Kind}' is not one of tumbling, hopping, session");
        }
        WholeMs(AllowedLateness, path, nameof(AllowedLateness));
        return spec with
        {
            AllowedLateness = (long)AllowedLateness.TotalMilliseconds,
            EarlyEveryReadings = EarlyEveryReadings,
            EarlyInterval = EarlyInterval,
            SensorTypes = SensorTypes.Count == 0 ? null : new HashSet<string>(SensorTypes, StringComparer.Ordinal),
            QuantileAccuracy = QuantileAccuracy,
            QuantileMaxBuckets = QuantileMaxBuckets,
        };
    }

    private static TimeSpan Positive(TimeSpan value, string path, string name)
    {
        if (value <= TimeSpan.Zero)
        {
            throw new ConfigurationException($"{path}:{name}", "must be positive");
        }
        WholeMs(value, path, name);
        return value;
    }

    private static void WholeMs(TimeSpan value, string path, string name)
    {
        if (value.Ticks % TimeSpan.TicksPerMillisecond != 0)
        {
            throw new ConfigurationException($"{path}:{name}", "must be a whole number of milliseconds");
        }
    }
}
