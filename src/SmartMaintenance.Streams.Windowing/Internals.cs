// Over 500 lines: the window operator's small internal structures (time math, partition arrays, offset tracker, timer
// queues, dedup index); each is private to the operator and tested through it. Splitting them is part of the open redesign.
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using static SmartMaintenance.Streams.Contracts.Varint;

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

    /// <summary>Items due at or before <paramref name="time"/> (a few lists: one per pending window end).</summary>
    public int CountUpTo(long time)
    {
        if (!TryPeek(out var first) || first > time)
        {
            return 0;
        }
        var count = 0;
        foreach (var (t, list) in _lists)
        {
            if (t <= time)
            {
                count += list.Count;
            }
        }
        return count;
    }

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

    /// <summary>Forgets a partition's notes (revoked: its next owner needs them, not this operator).</summary>
    public void Forget(int partition)
    {
        if (_rings.TryGet(partition, out var ring) && ring is not null)
        {
            _rings[partition] = null;
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
/// value bits. Once a key's readings carry seqs, every entry also ends with a varint of zigzag(seq − the previous
/// entry's seq) (−1: none; the first entry's predecessor is −1): a producer numbering a key's readings one by one adds a
/// byte per entry, where a side array of seqs took 96 bytes per key (object and array) before its first growth. A key
/// reporting every 10 s a value such as 72.3 ± 0.1 takes 3–5 bytes per reading, any other value 10–12. An entry depends
/// only on its predecessor, so an out-of-order reading re-encodes one neighbour. Entries older than the horizon are
/// ignored by lookups and dropped only when the array is full, so the usual in-order reading reads two fields and
/// appends (cache misses dominate with many keys).
/// </remarks>
internal struct DedupIndex
{
    private const double Scale = 1000;
    // Zigzagged 64-bit time (10 bytes) + raw value marker and bits (9) + zigzagged seq delta (10).
    private const int MaxEntryBytes = 29;

    private byte[]? _entries;
    // Time, v·1000 (0 when it has none) and seq (−1: none) of the last entry: what an in-order reading is compared with
    // and encoded after.
    private long _lastTs;
    private long _lastSeq;
    // One past the largest seq ever remembered (a new seq at or above it is not a re-send, so the scan is skipped);
    // 0 while no entry carries a seq field.
    private long _seqBound;
    private int _lastScaled;
    private int _length;

    /// <summary>Decoding position: the entry just read, which is also what the next entry is relative to.</summary>
    private struct Cursor
    {
        public int Pos;
        public int Index;
        public long Ts;
        public int Scaled;
        public bool IsScaled;
        public long Bits;
        public long Seq;
    }

    public readonly long HeapBytes => _entries is null ? 0 : 24 + _entries.Length;

    private readonly bool HasSeqs => _seqBound != 0;

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

    /// <summary>Encodes an entry after one with time <paramref name="prevTs"/>, v·1000 <paramref name="prevScaled"/> and seq
    /// <paramref name="prevSeq"/> (<paramref name="first"/>: as the first entry, whose predecessor's seq is −1).</summary>
    private static int Encode(Span<byte> dst, bool first, long prevTs, int prevScaled, long prevSeq, long ts, bool isScaled, int scaled, long bits,
        bool hasSeqs, long seq)
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
        if (hasSeqs)
        {
            n += WriteVarint(dst[n..], ZigZag(seq - (first ? -1 : prevSeq)));
        }
        return n;
    }

    private static void Next(ReadOnlySpan<byte> src, ref Cursor c, bool hasSeqs)
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
        c.Seq = hasSeqs ? (c.Index == 0 ? -1 : c.Seq) + UnZigZag(ReadVarint(src, ref c.Pos)) : -1;
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
            return seq >= 0 && seq < _seqBound && ContainsSeq(seq, lowBound);
        }
        return ContainsSlow(ts, bits, seq, lowBound);
    }

    private readonly bool ContainsSlow(long ts, long bits, long seq, long lowBound)
    {
        var hasSeqs = HasSeqs;
        if (ts >= lowBound)
        {
            // The encoding is canonical: a value with a v·1000 form is only ever stored in it.
            var isScaled = TryScale(bits, out var scaled);
            var src = _entries.AsSpan(0, _length);
            var c = default(Cursor);
            while (c.Pos < src.Length)
            {
                Next(src, ref c, hasSeqs);
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
        return seq >= 0 && seq < _seqBound && ContainsSeq(seq, lowBound);
    }

    private readonly bool ContainsSeq(long seq, long lowBound)
    {
        var src = _entries.AsSpan(0, _length);
        var c = default(Cursor);
        while (c.Pos < src.Length)
        {
            Next(src, ref c, hasSeqs: true);
            if (c.Seq == seq && c.Ts >= lowBound)
            {
                return true;
            }
        }
        return false;
    }

    public void Insert(long ts, long bits, long seq, long lowBound)
    {
        var isScaled = TryScale(bits, out var scaled);
        if (seq >= 0 && !HasSeqs)
        {
            AddSeqFields();
        }
        var hasSeqs = HasSeqs;
        if (seq >= _seqBound && hasSeqs)
        {
            _seqBound = seq + 1;
        }
        if (_length != 0 && ts >= _lastTs && _entries!.Length - _length >= MaxEntryBytes)
        {
            // The usual reading: in order, with room for any entry, so it is encoded in place.
            _length += Encode(_entries.AsSpan(_length), false, _lastTs, _lastScaled, _lastSeq, ts, isScaled, scaled, bits, hasSeqs, seq);
            _lastTs = ts;
            _lastScaled = isScaled ? scaled : 0;
            _lastSeq = seq;
            return;
        }
        InsertSlow(ts, bits, seq, lowBound, isScaled, scaled);
    }

    /// <summary>The first seq of the key: every remembered entry gets a seq field (−1, none), re-encoded once.</summary>
    private void AddSeqFields()
    {
        if (_length > 0)
        {
            var src = _entries.AsSpan(0, _length);
            var count = 0;
            var c = default(Cursor);
            while (c.Pos < src.Length)
            {
                Next(src, ref c, hasSeqs: false);
                count++;
            }
            // Each entry gains one byte (a zero delta), except the first (−1 after −1: also zero).
            var fresh = new byte[(_length + count + (MaxEntryBytes / 2) + 7) & ~7];
            var prev = default(Cursor);
            c = default;
            var at = 0;
            while (c.Pos < src.Length)
            {
                Next(src, ref c, hasSeqs: false);
                at += Encode(fresh.AsSpan(at), c.Index == 1, prev.Ts, prev.Scaled, -1, c.Ts, c.IsScaled, c.Scaled, c.Bits, hasSeqs: true, -1);
                prev = c;
            }
            _entries = fresh;
            _length = at;
        }
        _lastSeq = -1;
        // Non-zero from now on: the index carries seqs (the caller raises the bound to the new seq).
        _seqBound = 1;
    }

    private void InsertSlow(long ts, long bits, long seq, long lowBound, bool isScaled, int scaled)
    {
        Span<byte> encoded = stackalloc byte[2 * MaxEntryBytes];
        var hasSeqs = HasSeqs;
        while (true)
        {
            _entries ??= new byte[16];
            if (_length == 0 || ts >= _lastTs)
            {
                // In order (equal times go after the remembered ones): append.
                var n = Encode(encoded, _length == 0, _lastTs, _lastScaled, _lastSeq, ts, isScaled, scaled, bits, hasSeqs, seq);
                if (_length + n > _entries.Length)
                {
                    MakeRoom(lowBound, n);
                    continue;
                }
                encoded[..n].CopyTo(_entries.AsSpan(_length));
                _length += n;
                _lastTs = ts;
                _lastScaled = isScaled ? scaled : 0;
                _lastSeq = seq;
                return;
            }
            if (InsertBefore(ts, isScaled, scaled, bits, seq, encoded, lowBound))
            {
                return;
            }
        }
    }

    /// <summary>Inserts before the first entry later than <paramref name="ts"/> (there is one); false when room had to be made first.</summary>
    private bool InsertBefore(long ts, bool isScaled, int scaled, long bits, long seq, Span<byte> encoded, long lowBound)
    {
        var hasSeqs = HasSeqs;
        var src = _entries.AsSpan(0, _length);
        var before = default(Cursor);
        var c = default(Cursor);
        while (true)
        {
            before = c;
            Next(src, ref c, hasSeqs);
            if (c.Ts > ts)
            {
                break;
            }
        }
        // The new entry after `before`, then the later one re-encoded after the new entry; everything further is unchanged.
        var first = before.Index == 0;
        var n = Encode(encoded, first, before.Ts, before.Scaled, before.Seq, ts, isScaled, scaled, bits, hasSeqs, seq);
        n += Encode(encoded[n..], false, ts, isScaled ? scaled : 0, seq, c.Ts, c.IsScaled, c.Scaled, c.Bits, hasSeqs, c.Seq);
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

    /// <summary>Drops the entries older than the horizon and makes room for <paramref name="needed"/> more bytes.</summary>
    private void MakeRoom(long lowBound, int needed)
    {
        var hasSeqs = HasSeqs;
        var entries = _entries!;
        var src = entries.AsSpan(0, _length);
        var c = default(Cursor);
        var liveFrom = _length;
        while (c.Pos < src.Length)
        {
            var start = c.Pos;
            Next(src, ref c, hasSeqs);
            if (c.Ts >= lowBound)
            {
                liveFrom = start;
                break;
            }
        }
        Span<byte> head = stackalloc byte[MaxEntryBytes];
        var headLength = 0;
        var tail = ReadOnlySpan<byte>.Empty;
        if (liveFrom < _length)
        {
            // The oldest live entry becomes the first: absolute time and value, seq after −1; the rest is relative to it as before.
            headLength = Encode(head, true, 0, 0, -1, c.Ts, c.IsScaled, c.Scaled, c.Bits, hasSeqs, c.Seq);
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
            _lastSeq = -1;
        }
    }
}
