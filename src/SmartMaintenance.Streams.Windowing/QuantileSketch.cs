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

/// <summary>Recycles bucket arrays by power-of-two size, and holds the dense sketches, so a steady stream of windows allocates nothing.</summary>
/// <remarks>A sketch refers to its dense form by an int handle into this pool rather than by reference: the
/// reference would cost every pane 8 bytes (88 → 80) although most panes never go dense, and pane arrays without
/// references are not scanned by the GC.</remarks>
internal sealed class BucketPool
{
    private readonly Stack<int[]>[] _bySize = new Stack<int[]>[16];
    private DenseSketch[] _dense = new DenseSketch[16];
    private int _denseCount;
    private readonly Stack<int> _freeHandles = new();

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

    /// <summary>An empty dense sketch and its handle.</summary>
    public int RentDense()
    {
        if (_freeHandles.Count > 0)
        {
            return _freeHandles.Pop();
        }
        if (_denseCount == _dense.Length)
        {
            Array.Resize(ref _dense, _dense.Length * 2);
        }
        _dense[_denseCount] = new DenseSketch();
        return _denseCount++;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public DenseSketch Dense(int handle) => _dense[handle];

    public void ReturnDense(int handle)
    {
        var dense = _dense[handle];
        dense.Positive.Release(this);
        dense.Negative.Release(this);
        dense.Zero = 0;
        _freeHandles.Push(handle);
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

/// <summary>Bucket stores of a sketch past its inline capacity (pooled, one per large pane/window).</summary>
internal sealed class DenseSketch
{
    public DenseStore Positive;
    public DenseStore Negative;
    public int Zero;

    public long Count => (long)Positive.Total + Negative.Total + Zero;

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

    public void AddCode(int code, SketchMapping mapping, BucketPool pool)
    {
        switch (QuantileSketch.Sign(code))
        {
            case QuantileSketch.PositiveTag:
                Positive.Add(QuantileSketch.KeyOf(code), 1, mapping.MaxBuckets, pool);
                break;
            case QuantileSketch.NegativeTag:
                Negative.Add(QuantileSketch.KeyOf(code), 1, mapping.MaxBuckets, pool);
                break;
            default:
                Zero++;
                break;
        }
    }

    public void MergeFrom(DenseSketch other, SketchMapping mapping, BucketPool pool)
    {
        Positive.MergeFrom(other.Positive, mapping.MaxBuckets, pool);
        Negative.MergeFrom(other.Negative, mapping.MaxBuckets, pool);
        Zero += other.Zero;
    }

    public double Quantile(double q, SketchMapping mapping)
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

    // Object header + method table + two stores + zero count.
    public long HeapBytes => 72 + Positive.HeapBytes + Negative.HeapBytes;
}

/// <summary>Bucket codes of the first readings of a sketch, held inline so small panes need no arrays.</summary>
[InlineArray(QuantileSketch.InlineCapacity)]
internal struct InlineCodes
{
    private short _element0;
}

/// <summary>Mergeable quantile sketch with relative accuracy α (see <see cref="QuantileSketchConfig"/>).</summary>
/// <remarks>
/// 12 bytes. Up to <see cref="InlineCapacity"/> readings are kept inline as 16-bit bucket codes (bucket key · 4 + sign
/// tag; 0 marks a free slot, so the sketch needs no count of its own); the next reading, or one whose key does not fit
/// 14 bits (|x| beyond about 1e142 at α = 2 %), moves them into a <see cref="DenseSketch"/> of the pool, whose handle
/// then takes the slots. Both representations answer a quantile identically (the inline one applies the same
/// lowest-bucket collapse as the dense stores), so merging panes in any order and representation gives the same
/// result as one sketch over all their values.
/// </remarks>
internal struct QuantileSketch
{
    // Six 2-byte codes: a pane's accumulator is 80 bytes; six readings are one minute at a 10 s interval.
    public const int InlineCapacity = 6;
    public const int NegativeTag = 1;
    public const int ZeroTag = 2;
    public const int PositiveTag = 3;
    private const int MinInlineKey = short.MinValue >> 2;
    private const int MaxInlineKey = short.MaxValue >> 2;
    // Tag 0 with a non-zero key is no code: it marks the dense form, the handle in the next two slots.
    private const short DenseMarker = 4;

    private InlineCodes _codes;

    /// <summary>True once the sketch has moved to bucket arrays.</summary>
    public readonly bool IsDense => _codes[0] == DenseMarker;

    private readonly int Handle => (ushort)_codes[1] | (_codes[2] << 16);

    public readonly long Count(BucketPool pool) => IsDense ? pool.Dense(Handle).Count : InlineCount;

    internal readonly DenseSketch? Dense(BucketPool pool) => IsDense ? pool.Dense(Handle) : null;

    // Codes fill the slots in order, so the first free one is the count.
    private readonly int InlineCount
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get
        {
            var n = 0;
            while (n < InlineCapacity && _codes[n] != 0)
            {
                n++;
            }
            return n;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Sign(int code) => code & 3;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int KeyOf(int code) => code >> 2;

    /// <summary>The value's 16-bit code, or 0 when its bucket key is outside the inline range.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static short Encode(double value, SketchMapping mapping)
    {
        int key;
        int tag;
        if (value > QuantileSketchConfig.MinIndexableValue)
        {
            key = mapping.Key(value);
            tag = PositiveTag;
        }
        else if (value < -QuantileSketchConfig.MinIndexableValue)
        {
            key = mapping.Key(-value);
            tag = NegativeTag;
        }
        else
        {
            return ZeroTag;
        }
        return (uint)(key - MinInlineKey) <= MaxInlineKey - MinInlineKey ? (short)((key << 2) | tag) : (short)0;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Add(double value, SketchMapping mapping, BucketPool pool)
    {
        if (IsDense)
        {
            pool.Dense(Handle).Add(value, mapping, pool);
            return;
        }
        AddInline(value, mapping, pool);
    }

    private void AddInline(double value, SketchMapping mapping, BucketPool pool)
    {
        var n = InlineCount;
        if (n < InlineCapacity)
        {
            var code = Encode(value, mapping);
            if (code != 0)
            {
                _codes[n] = code;
                return;
            }
        }
        ToDense(pool, mapping).Add(value, mapping, pool);
    }

    private DenseSketch ToDense(BucketPool pool, SketchMapping mapping)
    {
        var handle = pool.RentDense();
        var dense = pool.Dense(handle);
        for (var i = 0; i < InlineCapacity && _codes[i] != 0; i++)
        {
            dense.AddCode(_codes[i], mapping, pool);
        }
        _codes = default;
        _codes[0] = DenseMarker;
        _codes[1] = (short)handle;
        _codes[2] = (short)(handle >> 16);
        return dense;
    }

    public void MergeFrom(in QuantileSketch other, SketchMapping mapping, BucketPool pool)
    {
        var otherDense = other.IsDense;
        var otherInline = otherDense ? 0 : other.InlineCount;
        if (!otherDense && otherInline == 0)
        {
            return;
        }
        if (!IsDense && !otherDense)
        {
            var n = InlineCount;
            if (n + otherInline <= InlineCapacity)
            {
                for (var i = 0; i < otherInline; i++)
                {
                    _codes[n + i] = other._codes[i];
                }
                return;
            }
        }
        var dense = IsDense ? pool.Dense(Handle) : ToDense(pool, mapping);
        if (otherDense)
        {
            dense.MergeFrom(pool.Dense(other.Handle), mapping, pool);
        }
        else
        {
            for (var i = 0; i < otherInline; i++)
            {
                dense.AddCode(other._codes[i], mapping, pool);
            }
        }
    }

    /// <summary>Estimate of the element of rank ⌊q·(n−1)⌋; NaN when empty.</summary>
    public readonly double Quantile(double q, SketchMapping mapping, BucketPool pool)
    {
        if (IsDense)
        {
            return pool.Dense(Handle).Quantile(q, mapping);
        }
        var n = InlineCount;
        if (n == 0)
        {
            return double.NaN;
        }
        // Same collapse as the dense stores: per sign, keys below max − MaxBuckets + 1 count in that bucket.
        var posMax = int.MinValue;
        var negMax = int.MinValue;
        for (var i = 0; i < n; i++)
        {
            int c = _codes[i];
            if (Sign(c) == PositiveTag)
            {
                posMax = Math.Max(posMax, KeyOf(c));
            }
            else if (Sign(c) == NegativeTag)
            {
                negMax = Math.Max(negMax, KeyOf(c));
            }
        }
        Span<long> order = stackalloc long[InlineCapacity];
        for (var i = 0; i < n; i++)
        {
            int c = _codes[i];
            var key = KeyOf(c);
            // Ascending value: negatives by descending key, then zeros, then positives by ascending key.
            order[i] = Sign(c) switch
            {
                PositiveTag => (1L << 40) + Math.Max(key, posMax - mapping.MaxBuckets + 1),
                NegativeTag => -(1L << 40) - Math.Max(key, negMax - mapping.MaxBuckets + 1),
                _ => 0,
            };
        }
        order[..n].Sort();
        var pick = order[(int)Math.Floor(q * (n - 1))];
        return pick > (1L << 39) ? mapping.Value((int)(pick - (1L << 40)))
            : pick < -(1L << 39) ? -mapping.Value((int)(-(1L << 40) - pick))
            : 0;
    }

    public void Release(BucketPool pool)
    {
        if (IsDense)
        {
            pool.ReturnDense(Handle);
        }
        this = default;
    }

    /// <summary>Bytes of the dense form (holder, arrays and its pool slot); 0 inline.</summary>
    public readonly long HeapBytes(BucketPool pool) => IsDense ? 8 + pool.Dense(Handle).HeapBytes : 0;
}
