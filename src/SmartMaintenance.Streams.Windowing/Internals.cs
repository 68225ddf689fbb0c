using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace SmartMaintenance.Streams.Windowing;

internal static class TimeMath
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static long FloorDiv(long a, long b)
    {
        // One division: the JIT does not merge a / b and a % b, and a 64-bit divide is the costliest step of a reading.
        var q = a / b;
        return (a - (q * b) != 0 && (a ^ b) < 0) ? q - 1 : q;
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
        if (expiry > ring.LastLow && expiry <= ring.LastHigh)
        {
            // Same bucket as the previous note of this partition (nearly always): no division.
            ring.NoteLast(offset);
            return;
        }
        var bucket = TimeMath.FloorDiv(expiry - 1, granularity) + 1;
        ring.Note(bucket, offset);
        // Expiries in ((bucket − 1)·g, bucket·g] map to this bucket (not cached at the ends of the time range).
        if (bucket > (long.MinValue / granularity) + 1 && bucket < long.MaxValue / granularity)
        {
            ring.LastLow = (bucket - 1) * granularity;
            ring.LastHigh = bucket * granularity;
        }
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
        private long _lastBucket;
        /// <summary>Expiry range (exclusive low, inclusive high) of the bucket noted last; empty when it expired.</summary>
        public long LastLow = long.MaxValue;
        public long LastHigh = long.MinValue;

        public int Capacity => _slots.Length;

        public void NoteLast(long offset)
        {
            ref var slot = ref _slots[_lastBucket & (_slots.Length - 1)];
            if (offset < slot)
            {
                slot = offset;
            }
        }

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
            _lastBucket = bucket;
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
            if (_lastBucket <= watermarkBucket)
            {
                LastLow = long.MaxValue;
                LastHigh = long.MinValue;
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
/// Entries are exact, never fingerprints (a false match would drop a reading), and delta-encoded in one byte array:
/// each entry is the varint of its time minus the previous entry's (the first: its zigzagged time), then its value:
/// a varint of zigzag(v·1000 − the previous entry's v·1000) + 1 when v·1000 is an integer that reproduces the value's
/// bits exactly (up to three decimals and |v| &lt; 2.1 M, e.g. 72.3, 0.125, 101325), otherwise a 0 byte and the 64
/// value bits. A key reporting every 10 s a value such as 72.3 ± 0.1 takes 3–4 bytes per reading (8 before), any
/// other value 10–11 (12). An entry depends only on its predecessor, so an out-of-order reading re-encodes one
/// neighbour. Entries older than the horizon are ignored by lookups and dropped only when the array is full, so the
/// usual in-order reading reads two fields and appends (cache misses dominate with many keys). Seqs, when readings
/// carry them, sit in a side array aligned with the entries, allocated with the first one.
/// </remarks>
internal struct DedupIndex
{
    private const double Scale = 1000;
    // Zigzagged 64-bit time (10 bytes) + raw value marker and bits (9).
    private const int MaxEntryBytes = 19;

    private byte[]? _entries;
    private SeqMemory? _seqs;
    // Time and v·1000 (0 when it has none) of the last entry: what an in-order reading is compared with and encoded after.
    private long _lastTs;
    private int _lastScaled;
    private int _length;

    /// <summary>Seqs of the entries (−1: none) and an upper bound of them.</summary>
    private sealed class SeqMemory(int capacity)
    {
        public long[] Seqs = Filled(capacity);
        public int Count;
        // Producers number readings upwards, so a new seq above the bound is not a re-send and the scan of all
        // remembered seqs (the whole dedup horizon) is skipped for nearly every reading.
        public long Max = -1;

        public static long[] Filled(int n)
        {
            var a = new long[n];
            Array.Fill(a, -1L);
            return a;
        }
    }

    /// <summary>Decoding position: the entry just read, which is also what the next entry is relative to.</summary>
    private struct Cursor
    {
        public int Pos;
        public int Index;
        public long Ts;
        public int Scaled;
        public bool IsScaled;
        public long Bits;
    }

    public readonly long HeapBytes =>
        (_entries is null ? 0 : 24 + _entries.Length) + (_seqs is null ? 0 : 32 + 24 + (8L * _seqs.Seqs.Length));

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

    private static ulong ZigZag(long v) => (ulong)((v << 1) ^ (v >> 63));

    private static long UnZigZag(ulong v) => (long)(v >> 1) ^ -(long)(v & 1);

    private static int WriteVarint(Span<byte> dst, ulong v)
    {
        var n = 0;
        while (v >= 0x80)
        {
            dst[n++] = (byte)(v | 0x80);
            v >>= 7;
        }
        dst[n++] = (byte)v;
        return n;
    }

    private static ulong ReadVarint(ReadOnlySpan<byte> src, ref int pos)
    {
        ulong v = 0;
        var shift = 0;
        byte b;
        do
        {
            b = src[pos++];
            v |= (ulong)(b & 0x7F) << shift;
            shift += 7;
        }
        while (b >= 0x80);
        return v;
    }

    /// <summary>Encodes an entry after <paramref name="prev"/> (null: as the first entry).</summary>
    private static int Encode(Span<byte> dst, bool first, long prevTs, int prevScaled, long ts, bool isScaled, int scaled, long bits)
    {
        // Entries are sorted, so the unsigned difference is exact even across the whole long range.
        var n = WriteVarint(dst, first ? ZigZag(ts) : (ulong)(ts - prevTs));
        if (isScaled)
        {
            // ≥ 1, so its first byte is never 0, the marker of raw bits.
            n += WriteVarint(dst[n..], ZigZag((long)scaled - prevScaled) + 1);
        }
        else
        {
            dst[n++] = 0;
            BinaryPrimitives.WriteInt64LittleEndian(dst[n..], bits);
            n += 8;
        }
        return n;
    }

    private static void Next(ReadOnlySpan<byte> src, ref Cursor c)
    {
        var t = ReadVarint(src, ref c.Pos);
        c.Ts = c.Index == 0 ? UnZigZag(t) : c.Ts + (long)t;
        if (src[c.Pos] == 0)
        {
            c.IsScaled = false;
            c.Bits = BinaryPrimitives.ReadInt64LittleEndian(src.Slice(c.Pos + 1, 8));
            c.Scaled = 0;
            c.Pos += 9;
        }
        else
        {
            c.IsScaled = true;
            c.Scaled = (int)(c.Scaled + UnZigZag(ReadVarint(src, ref c.Pos) - 1));
        }
        c.Index++;
    }

    /// <summary>True when a remembered reading with time ≥ <paramref name="lowBound"/> has the same time and value bits, or the same seq.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly bool Contains(long ts, long bits, long seq, long lowBound)
    {
        if (_length == 0)
        {
            return false;
        }
        // In-order reading: nothing at or after its time is remembered, so only a seq can match.
        if (_lastTs < ts)
        {
            return seq >= 0 && _seqs is not null && ContainsSeq(seq, lowBound);
        }
        return ContainsSlow(ts, bits, seq, lowBound);
    }

    private readonly bool ContainsSlow(long ts, long bits, long seq, long lowBound)
    {
        if (ts >= lowBound)
        {
            // The encoding is canonical: a value with a v·1000 form is only ever stored in it.
            var isScaled = TryScale(bits, out var scaled);
            var src = _entries.AsSpan(0, _length);
            var c = default(Cursor);
            while (c.Pos < src.Length)
            {
                Next(src, ref c);
                if (c.Ts > ts)
                {
                    break;
                }
                if (c.Ts == ts && c.IsScaled == isScaled && (isScaled ? c.Scaled == scaled : c.Bits == bits))
                {
                    return true;
                }
            }
        }
        return seq >= 0 && _seqs is not null && ContainsSeq(seq, lowBound);
    }

    private readonly bool ContainsSeq(long seq, long lowBound)
    {
        var memory = _seqs!;
        if (seq > memory.Max || Array.IndexOf(memory.Seqs, seq, 0, memory.Count) < 0)
        {
            return false;
        }
        var src = _entries.AsSpan(0, _length);
        var c = default(Cursor);
        while (c.Pos < src.Length)
        {
            var i = c.Index;
            Next(src, ref c);
            if (memory.Seqs[i] == seq && c.Ts >= lowBound)
            {
                return true;
            }
        }
        return false;
    }

    public void Insert(long ts, long bits, long seq, long lowBound)
    {
        var isScaled = TryScale(bits, out var scaled);
        if (seq >= 0 && _seqs is null)
        {
            _seqs = new SeqMemory(Math.Max(4, CountEntries() + 1)) { Count = CountEntries() };
        }
        if (_length != 0 && ts >= _lastTs && _entries!.Length - _length >= MaxEntryBytes)
        {
            // The usual reading: in order, with room for any entry, so it is encoded in place.
            _length += Encode(_entries.AsSpan(_length), false, _lastTs, _lastScaled, ts, isScaled, scaled, bits);
            _lastTs = ts;
            _lastScaled = isScaled ? scaled : 0;
            if (_seqs is not null)
            {
                AddSeq(_seqs.Count, seq);
            }
            return;
        }
        InsertSlow(ts, bits, seq, lowBound, isScaled, scaled);
    }

    private void InsertSlow(long ts, long bits, long seq, long lowBound, bool isScaled, int scaled)
    {
        Span<byte> encoded = stackalloc byte[2 * MaxEntryBytes];
        while (true)
        {
            _entries ??= new byte[16];
            if (_length == 0 || ts >= _lastTs)
            {
                // In order (equal times go after the remembered ones): append.
                var n = Encode(encoded, _length == 0, _lastTs, _lastScaled, ts, isScaled, scaled, bits);
                if (_length + n > _entries.Length)
                {
                    MakeRoom(lowBound, n);
                    continue;
                }
                encoded[..n].CopyTo(_entries.AsSpan(_length));
                _length += n;
                _lastTs = ts;
                _lastScaled = isScaled ? scaled : 0;
                AddSeq(_seqs?.Count ?? 0, seq);
                return;
            }
            if (InsertBefore(ts, isScaled, scaled, bits, encoded, lowBound, out var index))
            {
                AddSeq(index, seq);
                return;
            }
        }
    }

    /// <summary>Inserts before the first entry later than <paramref name="ts"/> (there is one); false when room had to be made first.</summary>
    private bool InsertBefore(long ts, bool isScaled, int scaled, long bits, Span<byte> encoded, long lowBound, out int index)
    {
        var src = _entries.AsSpan(0, _length);
        var before = default(Cursor);
        var c = default(Cursor);
        while (true)
        {
            before = c;
            Next(src, ref c);
            if (c.Ts > ts)
            {
                break;
            }
        }
        // The new entry after `before`, then the later one re-encoded after the new entry; everything further is unchanged.
        index = before.Index;
        var first = index == 0;
        var n = Encode(encoded, first, before.Ts, before.Scaled, ts, isScaled, scaled, bits);
        n += Encode(encoded[n..], false, ts, isScaled ? scaled : 0, c.Ts, c.IsScaled, c.Scaled, c.Bits);
        var old = c.Pos - before.Pos;
        if (_length + n - old > _entries!.Length)
        {
            MakeRoom(lowBound, n - old + MaxEntryBytes);
            return false;
        }
        _entries.AsSpan(c.Pos, _length - c.Pos).CopyTo(_entries.AsSpan(before.Pos + n));
        encoded[..n].CopyTo(_entries.AsSpan(before.Pos));
        _length += n - old;
        return true;
    }

    private readonly int CountEntries()
    {
        var src = _entries.AsSpan(0, _length);
        var c = default(Cursor);
        while (c.Pos < src.Length)
        {
            Next(src, ref c);
        }
        return c.Index;
    }

    private readonly void AddSeq(int index, long seq)
    {
        if (_seqs is not { } memory)
        {
            return;
        }
        if (memory.Count == memory.Seqs.Length)
        {
            var grown = SeqMemory.Filled(memory.Count + (memory.Count / 4) + 1);
            Array.Copy(memory.Seqs, grown, memory.Count);
            memory.Seqs = grown;
        }
        Array.Copy(memory.Seqs, index, memory.Seqs, index + 1, memory.Count - index);
        memory.Seqs[index] = seq;
        memory.Count++;
        if (seq > memory.Max)
        {
            memory.Max = seq;
        }
    }

    /// <summary>Drops the entries older than the horizon and makes room for <paramref name="needed"/> more bytes.</summary>
    private void MakeRoom(long lowBound, int needed)
    {
        var entries = _entries!;
        var src = entries.AsSpan(0, _length);
        var c = default(Cursor);
        var drop = 0;
        var liveFrom = _length;
        while (c.Pos < src.Length)
        {
            var start = c.Pos;
            Next(src, ref c);
            if (c.Ts >= lowBound)
            {
                liveFrom = start;
                break;
            }
            drop++;
        }
        Span<byte> head = stackalloc byte[MaxEntryBytes];
        var headLength = 0;
        var tail = ReadOnlySpan<byte>.Empty;
        if (liveFrom < _length)
        {
            // The oldest live entry becomes the first: absolute time and value; the rest is relative to it as before.
            headLength = Encode(head, true, 0, 0, c.Ts, c.IsScaled, c.Scaled, c.Bits);
            tail = src[c.Pos..];
        }
        var live = headLength + tail.Length;
        var capacity = entries.Length;
        // Compact unless more than seven eighths would be live; grow by a quarter, not double: this array is a large
        // part of a key's memory, and a steady key settles at about 8/7 of its live bytes.
        if (live + needed > capacity - (capacity / 8))
        {
            var size = Math.Max(capacity + (capacity / 4), live + needed + ((live + needed) / 8));
            var fresh = new byte[(size + 7) & ~7];
            tail.CopyTo(fresh.AsSpan(headLength));
            _entries = fresh;
        }
        else
        {
            tail.CopyTo(entries.AsSpan(headLength));
        }
        head[..headLength].CopyTo(_entries.AsSpan());
        _length = live;
        if (_length == 0)
        {
            _lastTs = 0;
            _lastScaled = 0;
        }
        if (_seqs is { } memory && drop > 0)
        {
            Array.Copy(memory.Seqs, drop, memory.Seqs, 0, memory.Count - drop);
            Array.Fill(memory.Seqs, -1L, memory.Count - drop, drop);
            memory.Count -= drop;
        }
    }
}
