using HdrHistogram;

namespace SmartMaintenance.Streams.Load;

/// <summary>Microsecond latencies from any thread into an HdrHistogram: one interval histogram per sample tick
/// (for percentiles over time) and a total over the measured phase.</summary>
public sealed class LatencyRecorder
{
    private const long Highest = 3_600_000_000; // one hour in µs
    private readonly Lock _gate = new();
    private LongHistogram _interval = New();
    private LongHistogram _spare = New();

    /// <summary>Measured phase only (warm-up excluded).</summary>
    public LongHistogram Total { get; } = New();

    public void Record(long micros, bool measured)
    {
        var v = Math.Clamp(micros, 1, Highest);
        lock (_gate)
        {
            _interval.RecordValue(v);
            if (measured)
            {
                Total.RecordValue(v);
            }
        }
    }

    /// <summary>Everything recorded since the previous call; the returned histogram is valid until the next call.</summary>
    public LongHistogram TakeInterval()
    {
        lock (_gate)
        {
            (_interval, _spare) = (_spare, _interval);
            _interval.Reset();
            return _spare;
        }
    }

    /// <summary>Percentile in milliseconds of <paramref name="h"/>, NaN when empty.</summary>
    public static double Ms(HistogramBase h, double percentile) =>
        h.TotalCount == 0 ? double.NaN : h.GetValueAtPercentile(percentile) / 1000.0;

    private static LongHistogram New() => new(1, Highest, 3);
}
