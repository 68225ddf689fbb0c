using System.Numerics;
using System.Runtime.CompilerServices;

namespace SmartMaintenance.Streams.Windowing;

/// <summary>Defaults and the error bound of the window quantile sketch.</summary>
/// <remarks>
/// A DDSketch-style log-bucket sketch: a value x ≠ 0 goes to bucket i = ⌈ln|x| / ln γ⌉ with
/// γ = (1+α)/(1−α), and bucket i is read back as 2γ^i/(γ+1). Every x in (γ^(i−1), γ^i] is then within
/// relative error α of its estimate, so a quantile estimate q̃ satisfies |q̃ − x_q| ≤ α·|x_q|, where x_q is
/// the element of rank ⌊q·(n−1)⌋. Positive and negative values use separate stores (on |x|); values with
/// |x| below <see cref="MinIndexableValue"/> (and zero) are counted exactly as zero. The bound holds while
/// the values of one sign span fewer than MaxBuckets buckets (a ratio of γ^MaxBuckets, about 167× for
/// α = 2 % and 128 buckets); beyond that the buckets nearest zero are collapsed and only quantiles above
/// the collapsed ones keep the bound. Sketches merge exactly (bucket counts add).
/// </remarks>
public static class QuantileSketchConfig
{
    public const double DefaultAccuracy = 0.02;
    public const int DefaultMaxBuckets = 128;
    public const double MinIndexableValue = 1e-9;
}

/// <summary>Key mapping for one accuracy; shared by every sketch of a window spec.</summary>
internal sealed class SketchMapping
{
    private readonly double _lnGamma;
    private readonly double _invLnGamma;
    private readonly double _gamma;

    public SketchMapping(double accuracy, int maxBuckets)
    {
        Accuracy = accuracy;
        MaxBuckets = maxBuckets;
        _gamma = (1 + accuracy) / (1 - accuracy);
        _lnGamma = Math.Log(_gamma);
        _invLnGamma = 1 / _lnGamma;
    }

    public double Accuracy { get; }

    public int MaxBuckets { get; }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Key(double absValue) => (int)Math.Ceiling(Math.Log(absValue) * _invLnGamma);

    public double Value(int key) => 2 * Math.Exp(key * _lnGamma) / (_gamma + 1);
}

/// <summary>Recycles bucket arrays by power-of-two size so a steady stream of windows allocates nothing.</summary>
internal sealed class BucketPool
{
    private readonly Stack<int[]>[] _bySize = new Stack<int[]>[16];

    public int[] Rent(int minLength)
    {
        var cls = SizeClass(minLength);
        var stack = _bySize[cls];
        if (stack is { Count: > 0 })
        {
            return stack.Pop();
        }
        return new int[1 << (cls + 3)];
    }

    public void Return(int[] array)
    {
        Array.Clear(array);
        var cls = SizeClass(array.Length);
        (_bySize[cls] ??= new Stack<int[]>()).Push(array);
    }

    private static int SizeClass(int length) =>
        Math.Max(0, BitOperations.Log2(BitOperations.RoundUpToPowerOf2((uint)Math.Max(length, 8))) - 3);
}

/// <summary>Dense counts for a contiguous key range, allocated lazily, collapsing the lowest keys past the limit.</summary>
internal struct DenseStore
{
    public int[]? Counts;
    /// <summary>Key held by Counts[0].</summary>
    public int Offset;
    public int MinKey;
    public int MaxKey;
    // int keeps the store at 24 bytes; a window holds far fewer than 2^31 readings.
    public int Total;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Add(int key, long count, int maxBuckets, BucketPool pool)
    {
        if (Counts is { } counts && Total > 0 && key >= MinKey && key <= MaxKey)
        {
            counts[key - Offset] += (int)count;
            Total += (int)count;
            return;
        }
        AddSlow(key, count, maxBuckets, pool);
    }

    private void AddSlow(int key, long count, int maxBuckets, BucketPool pool)
    {
        if (Total == 0)
        {
            Counts ??= pool.Rent(8);
            Offset = key - (Counts.Length / 2);
            MinKey = MaxKey = key;
            Counts[key - Offset] = (int)count;
            Total = (int)count;
            return;
        }
        var newMin = Math.Min(MinKey, key);
        var newMax = Math.Max(MaxKey, key);
        if ((long)newMax - newMin + 1 > maxBuckets)
        {
            newMin = newMax - maxBuckets + 1;
        }
        Reshape(newMin, newMax, pool);
        var k = Math.Max(key, MinKey);
        Counts![k - Offset] += (int)count;
        Total += (int)count;
    }

    /// <summary>Makes [newMin, newMax] addressable; keys below newMin fold into newMin.</summary>
    private void Reshape(int newMin, int newMax, BucketPool pool)
    {
        var counts = Counts!;
        var span = newMax - newMin + 1;
        if (newMin >= Offset && newMax < Offset + counts.Length)
        {
            if (newMin > MinKey)
            {
                Collapse(counts, newMin);
            }
            MinKey = newMin;
            MaxKey = newMax;
            return;
        }
        var fresh = pool.Rent(span);
        var newOffset = newMin - ((fresh.Length - span) / 2);
        for (var k = MinKey; k <= MaxKey; k++)
        {
            var c = counts[k - Offset];
            if (c != 0)
            {
                fresh[Math.Max(k, newMin) - newOffset] += c;
            }
        }
        pool.Return(counts);
        Counts = fresh;
        Offset = newOffset;
        MinKey = newMin;
        MaxKey = Math.Max(newMax, MaxKey);
    }

    private void Collapse(int[] counts, int newMin)
    {
        var folded = 0;
        for (var k = MinKey; k < newMin; k++)
        {
            folded += counts[k - Offset];
            counts[k - Offset] = 0;
        }
        counts[newMin - Offset] += folded;
    }

    public void MergeFrom(in DenseStore other, int maxBuckets, BucketPool pool)
    {
        if (other.Total == 0)
        {
            return;
        }
        var oc = other.Counts!;
        // Highest keys first so a collapse triggered by the merge folds only what it must.
        for (var k = other.MaxKey; k >= other.MinKey; k--)
        {
            var c = oc[k - other.Offset];
            if (c != 0)
            {
                Add(k, c, maxBuckets, pool);
            }
        }
    }

    public void Release(BucketPool pool)
    {
        if (Counts is not null)
        {
            pool.Return(Counts);
        }
        this = default;
    }

    public readonly int CountAt(int key) => Counts![key - Offset];

    public readonly long HeapBytes => Counts is null ? 0 : 24 + (4L * Counts.Length);
}

/// <summary>Mergeable quantile sketch with relative accuracy α (see <see cref="QuantileSketchConfig"/>).</summary>
internal struct QuantileSketch
{
    public DenseStore Positive;
    public DenseStore Negative;
    public int Zero;

    public readonly long Count => (long)Positive.Total + Negative.Total + Zero;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Add(double value, SketchMapping mapping, BucketPool pool)
    {
        if (value > QuantileSketchConfig.MinIndexableValue)
        {
            Positive.Add(mapping.Key(value), 1, mapping.MaxBuckets, pool);
        }
        else if (value < -QuantileSketchConfig.MinIndexableValue)
        {
            Negative.Add(mapping.Key(-value), 1, mapping.MaxBuckets, pool);
        }
        else
        {
            Zero++;
        }
    }

    public void MergeFrom(in QuantileSketch other, SketchMapping mapping, BucketPool pool)
    {
        Positive.MergeFrom(other.Positive, mapping.MaxBuckets, pool);
        Negative.MergeFrom(other.Negative, mapping.MaxBuckets, pool);
        Zero += other.Zero;
    }

    /// <summary>Estimate of the element of rank ⌊q·(n−1)⌋; NaN when empty.</summary>
    public readonly double Quantile(double q, SketchMapping mapping)
    {
        var n = Count;
        if (n == 0)
        {
            return double.NaN;
        }
        var rank = q * (n - 1);
        long seen = 0;
        if (Negative.Total > 0)
        {
            for (var k = Negative.MaxKey; k >= Negative.MinKey; k--)
            {
                seen += Negative.CountAt(k);
                if (seen > rank)
                {
                    return -mapping.Value(k);
                }
            }
        }
        seen += Zero;
        if (seen > rank)
        {
            return 0;
        }
        for (var k = Positive.MinKey; k <= Positive.MaxKey; k++)
        {
            seen += Positive.CountAt(k);
            if (seen > rank)
            {
                return mapping.Value(k);
            }
        }
        return mapping.Value(Positive.MaxKey);
    }

    public void Release(BucketPool pool)
    {
        Positive.Release(pool);
        Negative.Release(pool);
        Zero = 0;
    }

    public readonly long HeapBytes => Positive.HeapBytes + Negative.HeapBytes;
}
