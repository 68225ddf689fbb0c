using System.Runtime.CompilerServices;

namespace SmartMaintenance.Streams.Windowing;

/// <summary>Per-window statistics: Welford moments, extremes, first/last by event time and a quantile sketch.</summary>
/// <remarks>80 bytes: a pane is just this (its start is that of its first reading's pane), and a hopping spec keeps
/// six of them per key, so every field counts at 1M keys. The mean is not stored: Sum / Count is the mean Welford's
/// update needs (the same recurrence, and the correctly rounded mean of the sum).</remarks>
internal struct Accumulator
{
    public double Sum;
    public double M2;
    public double Min;
    public double Max;
    public long FirstTs;
    public long LastTs;
    public double First;
    public double Last;
    // int like the sketch's bucket counts: a window holds far fewer than 2^31 readings, and 4 bytes per pane count at
    // 1M keys. Next to the 12-byte sketch: the struct has no references, so its layout is sequential and this order
    // leaves no padding (80 bytes).
    public int Count;
    public QuantileSketch Sketch;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Add(long ts, double value, SketchMapping mapping, BucketPool pool)
    {
        if (Count == 0)
        {
            Count = 1;
            Sum = value;
            M2 = 0;
            Min = Max = value;
            FirstTs = LastTs = ts;
            First = Last = value;
        }
        else
        {
            // Welford: numerically stable running variance.
            var delta = value - (Sum / Count);
            Count++;
            Sum += value;
            M2 += delta * (value - (Sum / Count));
            if (value < Min)
            {
                Min = value;
            }
            if (value > Max)
            {
                Max = value;
            }
            // Ties: the first reading to arrive stays first, the last to arrive becomes last.
            if (ts < FirstTs)
            {
                FirstTs = ts;
                First = value;
            }
            if (ts >= LastTs)
            {
                LastTs = ts;
                Last = value;
            }
        }
        Sketch.Add(value, mapping, pool);
    }

    /// <summary>Adds another accumulator (Chan et al. pairwise merge of the moments, exact merge of the sketch).</summary>
    /// <remarks>Merged parts cover disjoint event-time ranges (panes, sessions), so first/last have no ties.</remarks>
    public void Merge(in Accumulator other, SketchMapping mapping, BucketPool pool)
    {
        if (other.Count == 0)
        {
            return;
        }
        if (Count == 0)
        {
            var sketch = Sketch;
            this = other;
            Sketch = sketch;
            Sketch.MergeFrom(other.Sketch, mapping, pool);
            return;
        }
        var n = Count + other.Count;
        var delta = other.Mean - Mean;
        M2 = M2 + other.M2 + (delta * delta * ((double)Count * other.Count / n));
        Count = n;
        Sum += other.Sum;
        Min = Math.Min(Min, other.Min);
        Max = Math.Max(Max, other.Max);
        if (other.FirstTs < FirstTs)
        {
            FirstTs = other.FirstTs;
            First = other.First;
        }
        if (other.LastTs >= LastTs)
        {
            LastTs = other.LastTs;
            Last = other.Last;
        }
        Sketch.MergeFrom(other.Sketch, mapping, pool);
    }

    public readonly double Mean => Count > 0 ? Sum / Count : 0;

    /// <summary>Sample standard deviation (n−1); 0 for a single reading.</summary>
    public readonly double StdDev => Count > 1 ? Math.Sqrt(Math.Max(0, M2 / (Count - 1))) : 0;

    public void Release(BucketPool pool)
    {
        Sketch.Release(pool);
        this = default;
    }
}
