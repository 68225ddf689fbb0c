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
/// <remarks>Entries older than the horizon are ignored by lookups and dropped only when the array is full,
/// so the usual in-order reading touches just the tail of one array (cache misses dominate with many keys).</remarks>
internal struct DedupIndex
{
    private Entry[]? _entries;
    private long[]? _seq;
    private int _start;
    private int _count;

    private struct Entry
    {
        public long Ts;
        public long Bits;
    }

    public readonly long HeapBytes =>
        (_entries is null ? 0 : 24 + (16L * _entries.Length)) + (_seq is null ? 0 : 24 + (8L * _seq.Length));

    /// <summary>True when a remembered reading with time ≥ <paramref name="lowBound"/> has the same time and value bits, or the same seq.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly bool Contains(long ts, long bits, long seq, long lowBound)
    {
        var entries = _entries;
        if (entries is null || _count == 0)
        {
            return false;
        }
        var end = _start + _count;
        // In-order reading: nothing at or after its time is remembered, so only a seq can match.
        if (entries[end - 1].Ts < ts)
        {
            return seq >= 0 && _seq is not null && ContainsSeq(seq, lowBound);
        }
        return ContainsSlow(ts, bits, seq, lowBound);
    }

    private readonly bool ContainsSlow(long ts, long bits, long seq, long lowBound)
    {
        var entries = _entries!;
        var end = _start + _count;
        if (ts >= lowBound)
        {
            for (var i = LowerBound(entries, _start, end, ts); i < end && entries[i].Ts == ts; i++)
            {
                if (entries[i].Bits == bits)
                {
                    return true;
                }
            }
        }
        return seq >= 0 && _seq is not null && ContainsSeq(seq, lowBound);
    }

    private readonly bool ContainsSeq(long seq, long lowBound)
    {
        var entries = _entries!;
        var sa = _seq!;
        var end = _start + _count;
        for (var j = _start; j < end; j++)
        {
            if (sa[j] == seq && entries[j].Ts >= lowBound)
            {
                return true;
            }
        }
        return false;
    }

    public void Insert(long ts, long bits, long seq, long lowBound)
    {
        _entries ??= new Entry[4];
        if (seq >= 0 && _seq is null)
        {
            _seq = new long[_entries.Length];
            Array.Fill(_seq, -1L);
        }
        if (_start + _count == _entries.Length)
        {
            MakeRoom(lowBound);
        }
        var entries = _entries;
        var sa = _seq;
        var pos = _start + _count;
        // Mostly in order: walk back from the end past later timestamps (equal ones stay before).
        var i = pos;
        while (i > _start && entries[i - 1].Ts > ts)
        {
            i--;
        }
        if (i < pos)
        {
            Array.Copy(entries, i, entries, i + 1, pos - i);
            if (sa is not null)
            {
                Array.Copy(sa, i, sa, i + 1, pos - i);
            }
        }
        entries[i] = new Entry { Ts = ts, Bits = bits };
        if (sa is not null)
        {
            sa[i] = seq;
        }
        _count++;
    }

    private void MakeRoom(long lowBound)
    {
        var entries = _entries!;
        while (_count > 0 && entries[_start].Ts < lowBound)
        {
            _start++;
            _count--;
        }
        // Compact unless more than three quarters is live; grow by half, not double: this array is most of a key's memory.
        if (_count <= entries.Length * 3 / 4)
        {
            Array.Copy(entries, _start, entries, 0, _count);
            if (_seq is not null)
            {
                Array.Copy(_seq, _start, _seq, 0, _count);
                Array.Fill(_seq, -1L, _count, _seq.Length - _count);
            }
            _start = 0;
            return;
        }
        var size = entries.Length + (entries.Length / 2);
        var fresh = new Entry[size];
        Array.Copy(entries, _start, fresh, 0, _count);
        _entries = fresh;
        if (_seq is not null)
        {
            var seqs = new long[size];
            Array.Fill(seqs, -1L);
            Array.Copy(_seq, _start, seqs, 0, _count);
            _seq = seqs;
        }
        _start = 0;
    }

    private static int LowerBound(Entry[] a, int lo, int hi, long value)
    {
        while (lo < hi)
        {
            var mid = (int)((uint)(lo + hi) >> 1);
            if (a[mid].Ts < value)
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
