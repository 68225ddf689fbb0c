using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace SmartMaintenance.Streams.Windowing;

internal static class TimeMath
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static long FloorDiv(long a, long b)
    {
        var q = a / b;
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static long FloorTo(long a, long b) => FloorDiv(a, b) * b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static long SaturatingSub(long a, long b)
    {
        var r = a - b;
        return ((a ^ b) & (a ^ r)) < 0 ? long.MinValue : r;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static long SaturatingAdd(long a, long b)
    {
        var r = a + b;
        return ((a ^ r) & (b ^ r)) < 0 ? (a < 0 ? long.MinValue : long.MaxValue) : r;
    }
}

/// <summary>Array indexed by partition (−1 allowed for readings without a source position), grown on demand.</summary>
internal struct PartitionArray<T>
{
    private T[] _items;
    private readonly T _fill;

    public PartitionArray(T fill)
    {
        _fill = fill;
        _items = new T[8];
        Array.Fill(_items, fill);
    }

    public readonly int Length => _items.Length - 1;

    public ref T this[int partition]
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get
        {
            var i = partition + 1;
            if ((uint)i >= (uint)_items.Length)
            {
                Grow(i);
            }
            return ref _items[i];
        }
    }

    /// <summary>Partition ids from −1 up to the highest one ever touched.</summary>
    public readonly IEnumerable<int> Partitions()
    {
        for (var i = 0; i < _items.Length; i++)
        {
            yield return i - 1;
        }
    }

    public readonly bool TryGet(int partition, out T value)
    {
        var i = partition + 1;
        if ((uint)i < (uint)_items.Length)
        {
            value = _items[i];
            return true;
        }
        value = _fill;
        return false;
    }

    private void Grow(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        var old = _items.Length;
        Array.Resize(ref _items, Math.Max(index + 1, old * 2));
        Array.Fill(_items, _fill, old, _items.Length - old);
    }
}

/// <summary>Keys due at the same event time, for aligned windows where thousands of keys share one window end.</summary>
internal sealed class TimeQueue<TItem>
{
    private readonly Dictionary<long, List<TItem>> _lists = [];
    private readonly PriorityQueue<long, long> _times = new();
    private readonly Stack<List<TItem>> _pool = new();

    public int Count => _lists.Count;

    public void Add(long time, TItem item)
    {
        ref var list = ref CollectionsMarshal.GetValueRefOrAddDefault(_lists, time, out var exists);
        if (!exists)
        {
            list = _pool.Count > 0 ? _pool.Pop() : [];
            _times.Enqueue(time, time);
        }
        list!.Add(item);
    }

    public bool TryPeek(out long time) => _times.TryPeek(out time, out _);

    public List<TItem> Take(long time)
    {
        _times.Dequeue();
        _lists.Remove(time, out var list);
        return list!;
    }

    public void Recycle(List<TItem> list)
    {
        list.Clear();
        _pool.Push(list);
    }
}

/// <summary>
/// Per partition, the lowest source offset still needed by open state, bucketed by the event time at which
/// the state expires (rounded up, so the answer errs towards replaying a little more, never less).
/// </summary>
internal sealed class OffsetTracker(long granularity)
{
    private PartitionArray<Ring?> _rings = new(null);

    public void Note(int partition, long offset, long expiry)
    {
        if (offset < 0)
        {
            return;
        }
        ref var ring = ref _rings[partition];
        ring ??= new Ring();
        ring.Note(TimeMath.FloorDiv(expiry - 1, granularity) + 1, offset);
    }

    public void Advance(long watermark)
    {
        var bucket = TimeMath.FloorDiv(watermark, granularity);
        for (var p = -1; p < _rings.Length; p++)
        {
            if (_rings.TryGet(p, out var ring) && ring is not null)
            {
                ring.Expire(bucket);
            }
        }
    }

    public Dictionary<int, long> Lowest()
    {
        var result = new Dictionary<int, long>();
        foreach (var p in _rings.Partitions())
        {
            if (_rings.TryGet(p, out var ring) && ring is not null && ring.Lowest() is { } low)
            {
                result[p] = low;
            }
        }
        return result;
    }

    public long HeapBytes()
    {
        long bytes = 0;
        foreach (var p in _rings.Partitions())
        {
            if (_rings.TryGet(p, out var ring) && ring is not null)
            {
                bytes += 48 + (8L * ring.Capacity);
            }
        }
        return bytes;
    }

    private sealed class Ring
    {
        private long[] _slots = Filled(16);
        private long _base = long.MaxValue;
        private long _max = long.MinValue;

        public int Capacity => _slots.Length;

        public void Note(long bucket, long offset)
        {
            var newBase = Math.Min(_base, bucket);
            var newMax = Math.Max(_max, bucket);
            if (newMax - newBase >= _slots.Length)
            {
                Grow(newBase, newMax);
            }
            _base = newBase;
            _max = newMax;
            ref var slot = ref _slots[bucket & (_slots.Length - 1)];
            if (offset < slot)
            {
                slot = offset;
            }
        }

        /// <summary>Drops buckets whose expiry is at or below the watermark.</summary>
        public void Expire(long watermarkBucket)
        {
            if (_base == long.MaxValue || watermarkBucket < _base)
            {
                return;
            }
            if (watermarkBucket >= _max)
            {
                Array.Fill(_slots, long.MaxValue);
                _base = long.MaxValue;
                _max = long.MinValue;
                return;
            }
            for (var b = _base; b <= watermarkBucket; b++)
            {
                _slots[b & (_slots.Length - 1)] = long.MaxValue;
            }
            _base = watermarkBucket + 1;
        }

        public long? Lowest()
        {
            var low = long.MaxValue;
            foreach (var s in _slots)
            {
                low = Math.Min(low, s);
            }
            return low == long.MaxValue ? null : low;
        }

        private void Grow(long newBase, long newMax)
        {
            var size = _slots.Length;
            while (newMax - newBase >= size)
            {
                size *= 2;
            }
            var fresh = Filled(size);
            if (_base != long.MaxValue)
            {
                for (var b = _base; b <= _max; b++)
                {
                    fresh[b & (size - 1)] = _slots[b & (_slots.Length - 1)];
                }
            }
            _slots = fresh;
        }

        private static long[] Filled(int n)
        {
            var a = new long[n];
            Array.Fill(a, long.MaxValue);
            return a;
        }
    }
}

/// <summary>Recent readings of one key, sorted by event time, for duplicate detection within the horizon.</summary>
/// <remarks>
/// Entries older than the horizon are ignored by lookups and dropped only when the array is full, so the
/// usual in-order reading touches just the tail of one array (cache misses dominate with many keys).
/// Entries are exact, never fingerprints (a false match would drop a reading). Three forms, chosen per key:
/// narrow, 8 bytes: time as a 32-bit offset from a per-key base, value as a 32-bit integer v·1000 when that
/// reproduces the value's bits exactly (up to three decimals and |v| &lt; 2.1 M, e.g. 72.3, 0.125, 101325);
/// wide, 12 bytes: the 32-bit time offset and the value's 64 bits (any other value); full, 16 bytes: time and
/// value bits, when remembered times lie more than ±24 days apart. A key moves to a wider form when a reading
/// needs it and back to narrow when its memory empties. All three live in one long[] (the wide form packs
/// three ints per entry), so the struct stays 32 bytes.
/// </remarks>
internal struct DedupIndex
{
    private const double Scale = 1000;
    private const byte Narrow = 0;
    private const byte Wide = 1;
    private const byte Full = 2;

    private long[]? _entries;
    private long[]? _seq;
    // Upper bound of every remembered seq: producers number readings upwards, so a new seq above it is not a re-send
    // and the scan of all remembered seqs (the whole dedup horizon) is skipped for nearly every reading.
    private long _maxSeq;
    private long _base;
    private int _count;
    private byte _form;

    public readonly long HeapBytes =>
        (_entries is null ? 0 : 24 + (8L * _entries.Length)) + (_seq is null ? 0 : 24 + (8L * _seq.Length));

    private static int CapacityOf(byte form, int length) => form switch
    {
        Narrow => length,
        Wide => length * 2 / 3,
        _ => length / 2,
    };

    private static int LengthFor(byte form, int capacity) => form switch
    {
        Narrow => capacity,
        Wide => ((capacity * 3) + 1) / 2,
        _ => capacity * 2,
    };

    private readonly int Capacity => CapacityOf(_form, _entries!.Length);

    private static Span<int> Ints(long[] entries) => MemoryMarshal.Cast<long, int>(entries.AsSpan());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private readonly long TsAt(long[] entries, int i) => _form switch
    {
        Narrow => _base + (entries[i] >> 32),
        Wide => _base + Ints(entries)[3 * i],
        _ => entries[i << 1],
    };

    private readonly long BitsAt(long[] entries, int i) => _form switch
    {
        Narrow => BitConverter.DoubleToInt64Bits((int)entries[i] / Scale),
        Wide => MemoryMarshal.Read<long>(MemoryMarshal.AsBytes(Ints(entries).Slice((3 * i) + 1, 2))),
        _ => entries[(i << 1) + 1],
    };

    /// <summary>v·1000 as an int when dividing it back gives exactly the same bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool TryScale(long bits, out int scaled)
    {
        var m = Math.Round(BitConverter.Int64BitsToDouble(bits) * Scale);
        if (Math.Abs(m) <= int.MaxValue)
        {
            scaled = (int)m;
            return BitConverter.DoubleToInt64Bits(scaled / Scale) == bits;
        }
        scaled = 0;
        return false;
    }

    /// <summary>True when a remembered reading with time ≥ <paramref name="lowBound"/> has the same time and value bits, or the same seq.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly bool Contains(long ts, long bits, long seq, long lowBound)
    {
        var entries = _entries;
        if (entries is null || _count == 0)
        {
            return false;
        }
        // In-order reading: nothing at or after its time is remembered, so only a seq can match.
        if (TsAt(entries, _count - 1) < ts)
        {
            return seq >= 0 && _seq is not null && ContainsSeq(seq, lowBound);
        }
        return ContainsSlow(ts, bits, seq, lowBound);
    }

    private readonly bool ContainsSlow(long ts, long bits, long seq, long lowBound)
    {
        var entries = _entries!;
        if (ts >= lowBound)
        {
            // A value without a narrow form cannot equal a narrow entry (the encoding is exact and one-to-one).
            var scaled = 0;
            var comparable = _form != Narrow || TryScale(bits, out scaled);
            for (var i = LowerBound(entries, ts); comparable && i < _count && TsAt(entries, i) == ts; i++)
            {
                if (_form == Narrow ? (int)entries[i] == scaled : BitsAt(entries, i) == bits)
                {
                    return true;
                }
            }
        }
        return seq >= 0 && _seq is not null && ContainsSeq(seq, lowBound);
    }

    private readonly bool ContainsSeq(long seq, long lowBound)
    {
        if (seq > _maxSeq)
        {
            return false;
        }
        var entries = _entries!;
        var sa = _seq!;
        for (var j = 0; j < _count; j++)
        {
            if (sa[j] == seq && TsAt(entries, j) >= lowBound)
            {
                return true;
            }
        }
        return false;
    }

    public void Insert(long ts, long bits, long seq, long lowBound)
    {
        _entries ??= new long[4];
        if (_count == 0)
        {
            // Empty memory: start over narrow around this reading.
            _base = ts;
            if (_form != Narrow)
            {
                _form = Narrow;
                if (_seq is not null && _seq.Length < Capacity)
                {
                    _seq = null;
                }
            }
        }
        if (_count == Capacity)
        {
            MakeRoom(lowBound);
        }
        var scaled = 0;
        var offsetFits = ts - _base is >= int.MinValue and <= int.MaxValue;
        if (_form == Narrow && !(offsetFits && TryScale(bits, out scaled)))
        {
            Reform(offsetFits ? Wide : Full);
        }
        else if (_form == Wide && !offsetFits)
        {
            Reform(Full);
        }
        if (seq >= 0 && _seq is null)
        {
            _seq = new long[Capacity];
            Array.Fill(_seq, -1L);
        }
        if (seq > _maxSeq)
        {
            _maxSeq = seq;
        }
        var entries = _entries;
        var pos = _count;
        // Mostly in order: walk back from the end past later timestamps (equal ones stay before).
        var i = pos;
        while (i > 0 && TsAt(entries, i - 1) > ts)
        {
            i--;
        }
        if (i < pos)
        {
            Move(entries, i, i + 1, pos - i);
        }
        switch (_form)
        {
            case Narrow:
                entries[i] = ((ts - _base) << 32) | (uint)scaled;
                break;
            case Wide:
                var ints = Ints(entries);
                ints[3 * i] = (int)(ts - _base);
                MemoryMarshal.Write(MemoryMarshal.AsBytes(ints.Slice((3 * i) + 1, 2)), in bits);
                break;
            default:
                entries[i << 1] = ts;
                entries[(i << 1) + 1] = bits;
                break;
        }
        if (_seq is { } sa)
        {
            if (i < pos)
            {
                Array.Copy(sa, i, sa, i + 1, pos - i);
            }
            sa[i] = seq;
        }
        _count++;
    }

    private readonly void Move(long[] entries, int from, int to, int n)
    {
        switch (_form)
        {
            case Narrow:
                Array.Copy(entries, from, entries, to, n);
                break;
            case Wide:
                var ints = Ints(entries);
                ints.Slice(3 * from, 3 * n).CopyTo(ints[(3 * to)..]);
                break;
            default:
                Array.Copy(entries, from << 1, entries, to << 1, n << 1);
                break;
        }
    }

    /// <summary>Rewrites the entries in a wider form, keeping the capacity (the seq array stays aligned).</summary>
    private void Reform(byte form)
    {
        var old = _entries!;
        var capacity = Capacity;
        var fresh = new long[LengthFor(form, capacity)];
        var was = this;
        _entries = fresh;
        _form = form;
        for (var i = 0; i < _count; i++)
        {
            Write(fresh, i, was.TsAt(old, i), was.BitsAt(old, i));
        }
    }

    /// <summary>Writes an entry whose form is known to fit (used when widening).</summary>
    private readonly void Write(long[] entries, int i, long ts, long bits)
    {
        if (_form == Wide)
        {
            var ints = Ints(entries);
            ints[3 * i] = (int)(ts - _base);
            MemoryMarshal.Write(MemoryMarshal.AsBytes(ints.Slice((3 * i) + 1, 2)), in bits);
        }
        else
        {
            entries[i << 1] = ts;
            entries[(i << 1) + 1] = bits;
        }
    }

    private void MakeRoom(long lowBound)
    {
        var entries = _entries!;
        var capacity = Capacity;
        var drop = 0;
        while (drop < _count && TsAt(entries, drop) < lowBound)
        {
            drop++;
        }
        var live = _count - drop;
        // Compact unless more than seven eighths is live; grow by a quarter, not double: this array is a large part
        // of a key's memory, and a steady key settles at about 8/7 of its live entries.
        if (live <= capacity - Math.Max(1, capacity / 8))
        {
            Move(entries, drop, 0, live);
            if (_seq is not null)
            {
                Array.Copy(_seq, drop, _seq, 0, live);
                Array.Fill(_seq, -1L, live, _seq.Length - live);
            }
        }
        else
        {
            var size = capacity + (capacity / 4) + 1;
            var fresh = new long[LengthFor(_form, size)];
            var saved = _entries;
            _entries = fresh;
            for (var i = 0; i < live; i++)
            {
                CopyEntry(saved!, drop + i, fresh, i);
            }
            entries = fresh;
            if (_seq is not null)
            {
                var seqs = new long[size];
                Array.Fill(seqs, -1L);
                Array.Copy(_seq, drop, seqs, 0, live);
                _seq = seqs;
            }
        }
        _count = live;
        // Rebase on the oldest live entry so offsets stay small while the key keeps reporting (only when the
        // newest then still fits: offsets on both sides of the base can span more than an int).
        if (_form != Full && live > 0 && TsAt(entries, live - 1) - TsAt(entries, 0) <= int.MaxValue)
        {
            var shift = TsAt(entries, 0) - _base;
            if (_form == Narrow)
            {
                for (var i = 0; i < live; i++)
                {
                    entries[i] -= shift << 32;
                }
            }
            else
            {
                var ints = Ints(entries);
                for (var i = 0; i < live; i++)
                {
                    ints[3 * i] -= (int)shift;
                }
            }
            _base += shift;
        }
    }

    private readonly void CopyEntry(long[] from, int i, long[] to, int j)
    {
        switch (_form)
        {
            case Narrow:
                to[j] = from[i];
                break;
            case Wide:
                Ints(from).Slice(3 * i, 3).CopyTo(Ints(to)[(3 * j)..]);
                break;
            default:
                to[j << 1] = from[i << 1];
                to[(j << 1) + 1] = from[(i << 1) + 1];
                break;
        }
    }

    private readonly int LowerBound(long[] entries, long value)
    {
        var lo = 0;
        var hi = _count;
        while (lo < hi)
        {
            var mid = (int)((uint)(lo + hi) >> 1);
            if (TsAt(entries, mid) < value)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }
        return lo;
    }
}
