using System.Globalization;

namespace SmartMaintenance.Streams.Windowing;

public enum WindowKind : byte
{
    Tumbling,
    Hopping,
    Session,
}

/// <summary>One window definition evaluated by the window operator. All durations in milliseconds.</summary>
/// <remarks>Build with <see cref="Tumbling"/>, <see cref="Hopping"/> or <see cref="Session"/>, then
/// <c>with { ... }</c> for lateness, early firing and the sensor-type filter.</remarks>
public sealed record WindowSpec
{
    private WindowSpec(WindowKind kind, long size, long advance, long gap)
    {
        Kind = kind;
        Size = size;
        Advance = advance;
        Gap = gap;
    }

    public WindowKind Kind { get; }

    /// <summary>Window length (tumbling, hopping); 0 for sessions.</summary>
    public long Size { get; }

    /// <summary>Distance between window starts (hopping; equals <see cref="Size"/> for tumbling).</summary>
    public long Advance { get; }

    /// <summary>Inactivity gap that ends a session; 0 otherwise.</summary>
    public long Gap { get; }

    /// <summary>How long after the window end (in event time) late readings still update it.</summary>
    public long AllowedLateness { get; init; }

    /// <summary>Early firing after this many readings since the window's last emission (0: off). Tumbling and
    /// hopping windows count up to 16,777,215, so a larger value acts as that.</summary>
    public int EarlyEveryReadings { get; init; }

    /// <summary>Early firing of changed windows every interval of processing time (zero: off).</summary>
    public TimeSpan EarlyInterval { get; init; }

    /// <summary>When not empty, only readings whose <c>SensorType</c> is in this set enter the spec.</summary>
    public IReadOnlySet<string>? SensorTypes { get; init; }

    /// <summary>Relative accuracy α of the p50/p95/p99 sketch.</summary>
    public double QuantileAccuracy { get; init; } = QuantileSketchConfig.DefaultAccuracy;

    /// <summary>Upper bound on sketch buckets per sign; beyond it the lowest buckets are collapsed.</summary>
    public int QuantileMaxBuckets { get; init; } = QuantileSketchConfig.DefaultMaxBuckets;

    /// <summary>Label stored as <c>WindowAggregate.WindowKind</c>, e.g. <c>tumbling:1m</c>, <c>hopping:5m/1m</c>, <c>session:30s</c>.</summary>
    public string Label => Kind switch
    {
        WindowKind.Tumbling => "tumbling:" + FormatDuration(Size),
        WindowKind.Hopping => "hopping:" + FormatDuration(Size) + "/" + FormatDuration(Advance),
        _ => "session:" + FormatDuration(Gap),
    };

    /// <summary>Longest event-time span a single window covers (size, or gap for sessions).</summary>
    internal long Span => Kind == WindowKind.Session ? Gap : Size;

    /// <summary>Pane length: aligned windows are unions of panes, so each reading updates one pane.</summary>
    internal long Pane => Kind == WindowKind.Session ? 0 : Gcd(Size, Advance);

    public static WindowSpec Tumbling(TimeSpan size) => new(WindowKind.Tumbling, Ms(size, nameof(size)), Ms(size, nameof(size)), 0);

    public static WindowSpec Hopping(TimeSpan size, TimeSpan advance)
    {
        var s = Ms(size, nameof(size));
        var a = Ms(advance, nameof(advance));
        if (a > s)
        {
            throw new ArgumentOutOfRangeException(nameof(advance), "The advance of a hopping window must not exceed its size.");
        }
        return new(WindowKind.Hopping, s, a, 0);
    }

    public static WindowSpec Session(TimeSpan gap) => new(WindowKind.Session, 0, 0, Ms(gap, nameof(gap)));

    /// <summary>Throws <see cref="ArgumentException"/> when a property set through <c>with</c> is out of range.</summary>
    internal void Validate()
    {
        if (AllowedLateness < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(AllowedLateness), "Allowed lateness must not be negative.");
        }
        if (EarlyEveryReadings < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(EarlyEveryReadings), "Must not be negative.");
        }
        if (EarlyInterval < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(EarlyInterval), "Must not be negative.");
        }
        if (!(QuantileAccuracy >= 0.0001 && QuantileAccuracy <= 0.5))
        {
            throw new ArgumentOutOfRangeException(nameof(QuantileAccuracy), "Must be in [0.0001, 0.5].");
        }
        if (QuantileMaxBuckets is < 8 or > 4096)
        {
            throw new ArgumentOutOfRangeException(nameof(QuantileMaxBuckets), "Must be in [8, 4096].");
        }
    }

    private static long Ms(TimeSpan t, string name)
    {
        if (t <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(name, t, "Must be positive.");
        }
        if (t.Ticks % TimeSpan.TicksPerMillisecond != 0)
        {
            throw new ArgumentOutOfRangeException(name, t, "Must be a whole number of milliseconds.");
        }
        return (long)t.TotalMilliseconds;
    }

    private static long Gcd(long a, long b)
    {
        while (b != 0)
        {
            (a, b) = (b, a % b);
        }
        return a;
    }

    internal static string FormatDuration(long ms)
    {
        static string F(long v, string unit) => v.ToString(CultureInfo.InvariantCulture) + unit;
        if (ms % 86_400_000 == 0)
        {
            return F(ms / 86_400_000, "d");
        }
        if (ms % 3_600_000 == 0)
        {
            return F(ms / 3_600_000, "h");
        }
        if (ms % 60_000 == 0)
        {
            return F(ms / 60_000, "m");
        }
        if (ms % 1000 == 0)
        {
            return F(ms / 1000, "s");
        }
        return F(ms, "ms");
    }
}
