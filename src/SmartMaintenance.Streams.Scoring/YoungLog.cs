using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using static SmartMaintenance.Streams.Contracts.Varint;

namespace SmartMaintenance.Streams.Scoring;

/// <summary>
/// Inputs of young detector states, (event time, value) pairs in arrival order, in a few bytes each. In memory one log
/// per sensor holds the inputs of all its young states, each entry tagged with its state; a stored row holds one state's
/// entries untagged.
/// </summary>
/// <remarks>
/// An entry is a varint header <c>((zigzag(time − base) &lt;&lt; 2 | form) &lt;&lt; tagBits) | tag</c> followed by the value,
/// where base is the log's first entry's time (0 for the first entry itself) and form says how the value is held: 0 its
/// 8 raw bytes, 1 a zigzag varint of value·1000 (readings with up to three decimals, when dividing back gives exactly
/// the same bits), 2 a float (when exact). Form 3 with a zero time field is the fallback for a time too far from the
/// base: 8 raw bytes of time, 8 of value. Every value comes back bit for bit, so replaying a log gives exactly the state
/// updated input by input. A reading seen every 25 s takes 6–11 bytes, a window mean 12; as (long, long) pairs in one
/// array per state they took 16 each plus 24 per array.
/// </remarks>
internal static class YoungLog
{
    /// <summary>Tag bits of a sensor's in-memory log: state 0 (reading) and window kinds 1..15.</summary>
    public const int SensorTagBits = 4;
    /// <summary>Largest entry: a 10-byte header varint and a 10-byte value varint, or 1 + 8 + 8 for the fallback.</summary>
    public const int MaxEntryBytes = 20;
    private const double Scale = 1000;
    private const int FirstCapacity = 32;
    private const ulong FarTime = 1UL << 57;

    /// <summary>Appends (time, value), tagged, to a log whose first <paramref name="length"/> bytes are in use, growing the
    /// array by half (rounded to 8 bytes, what the runtime allocates anyway) when it is full.</summary>
    public static void Append(ref byte[]? log, ref ushort length, long time, double value, int tag = 0, int tagBits = 0)
    {
        Span<byte> entry = stackalloc byte[MaxEntryBytes];
        var n = Encode(entry, length == 0 ? 0 : FirstTime(log!, tagBits), time, value, tag, tagBits);
        var needed = length + n;
        if (needed > ushort.MaxValue)
        {
            throw new InvalidOperationException("A young log holds at most 64 KB.");
        }
        if (log is null || log.Length < needed)
        {
            // The first array holds a few inputs: a sensor logs its readings and each window kind's inputs here, and every
            // outgrown array is garbage that lives to gen 2 (the sensor's next reading comes seconds later). Growing from
            // the first entry's size took four copies to reach a minute's inputs (≈ 180 B of gen-2 garbage per sensor).
            var size = log is null ? Math.Max(needed, FirstCapacity) : Math.Max(needed, log.Length + (log.Length / 2));
            var grown = new byte[(size + 7) & ~7];
            log?.AsSpan(0, length).CopyTo(grown);
            log = grown;
        }
        entry[..n].CopyTo(log.AsSpan(length));
        length = (ushort)needed;
    }

    /// <summary>Time of the first entry.</summary>
    public static long FirstTime(ReadOnlySpan<byte> log, int tagBits)
    {
        var pos = 0;
        var header = ReadVarint(log, ref pos) >> tagBits;
        return header == 3 ? BinaryPrimitives.ReadInt64LittleEndian(log[pos..]) : UnZigZag(header >> 2);
    }

    /// <summary>The entries of <paramref name="tag"/> in a tagged log, as an untagged log (what a stored row holds).</summary>
    public static byte[] Extract(ReadOnlySpan<byte> log, int tag, int tagBits, out int count)
    {
        byte[]? result = null;
        ushort length = 0;
        count = 0;
        var reader = new Reader(log, tagBits);
        while (reader.TryNext(out var t, out var time, out var value))
        {
            if (t == tag)
            {
                Append(ref result, ref length, time, value);
                count++;
            }
        }
        return result is null ? [] : result.AsSpan(0, length).ToArray();
    }

    /// <summary>A tagged log without the entries of <paramref name="tag"/> (null when none is left), re-encoded against its
    /// new first entry.</summary>
    public static byte[]? Without(ReadOnlySpan<byte> log, int tag, int tagBits, out ushort length)
    {
        byte[]? result = null;
        length = 0;
        var reader = new Reader(log, tagBits);
        while (reader.TryNext(out var t, out var time, out var value))
        {
            if (t != tag)
            {
                Append(ref result, ref length, time, value, t, tagBits);
            }
        }
        return result;
    }

    /// <summary>Checks that <paramref name="log"/> holds exactly <paramref name="count"/> well-formed untagged entries (a stored row).</summary>
    public static bool IsWellFormed(ReadOnlySpan<byte> log, int count)
    {
        try
        {
            var reader = new Reader(log, 0);
            for (var i = 0; i < count; i++)
            {
                if (!reader.TryNext(out _, out _, out _))
                {
                    return false;
                }
            }
            return reader.Position == log.Length;
        }
        catch (IndexOutOfRangeException)
        {
            return false;
        }
        catch (ArgumentOutOfRangeException)
        {
            return false;
        }
    }

    private static int Encode(Span<byte> dst, long baseTime, long time, double value, int tag, int tagBits)
    {
        var zz = ZigZag(unchecked(time - baseTime));
        // Subtraction overflow: operands of different signs and a result whose sign is not the minuend's.
        var overflow = ((time ^ baseTime) & (time ^ unchecked(time - baseTime))) < 0;
        var bits = BitConverter.DoubleToInt64Bits(value);
        if (zz >= FarTime || overflow)
        {
            var h = WriteVarint(dst, (3UL << tagBits) | (uint)tag);
            BinaryPrimitives.WriteInt64LittleEndian(dst[h..], time);
            BinaryPrimitives.WriteInt64LittleEndian(dst[(h + 8)..], bits);
            return h + 16;
        }
        if (TryScale(value, bits, out var scaled))
        {
            var n = WriteVarint(dst, Header(zz, 1, tag, tagBits));
            return n + WriteVarint(dst[n..], ZigZag(scaled));
        }
        var f = (float)value;
        if (BitConverter.DoubleToInt64Bits(f) == bits)
        {
            var n = WriteVarint(dst, Header(zz, 2, tag, tagBits));
            BinaryPrimitives.WriteSingleLittleEndian(dst[n..], f);
            return n + 4;
        }
        var m = WriteVarint(dst, Header(zz, 0, tag, tagBits));
        BinaryPrimitives.WriteInt64LittleEndian(dst[m..], bits);
        return m + 8;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Header(ulong zz, int form, int tag, int tagBits) => (((zz << 2) | (uint)form) << tagBits) | (uint)tag;

    private static bool TryScale(double value, long bits, out long scaled)
    {
        var m = Math.Round(value * Scale);
        if (Math.Abs(m) < 1e15)
        {
            scaled = (long)m;
            return BitConverter.DoubleToInt64Bits(scaled / Scale) == bits;
        }
        scaled = 0;
        return false;
    }

    /// <summary>Reads the entries of a log in order.</summary>
    public ref struct Reader(ReadOnlySpan<byte> log, int tagBits)
    {
        private readonly ReadOnlySpan<byte> _log = log;
        private readonly int _tagBits = tagBits;
        private int _pos;
        private long _base;
        private bool _started;

        public readonly int Position => _pos;

        public bool TryNext(out int tag, out long time, out double value)
        {
            if (_pos >= _log.Length)
            {
                tag = 0;
                time = 0;
                value = 0;
                return false;
            }
            var raw = ReadVarint(_log, ref _pos);
            tag = (int)(raw & ((1UL << _tagBits) - 1));
            var header = raw >> _tagBits;
            if (header == 3)
            {
                time = BinaryPrimitives.ReadInt64LittleEndian(_log[_pos..]);
                value = BitConverter.Int64BitsToDouble(BinaryPrimitives.ReadInt64LittleEndian(_log[(_pos + 8)..]));
                _pos += 16;
            }
            else
            {
                time = unchecked(_base + UnZigZag(header >> 2));
                switch (header & 3)
                {
                    case 0:
                        value = BitConverter.Int64BitsToDouble(BinaryPrimitives.ReadInt64LittleEndian(_log[_pos..]));
                        _pos += 8;
                        break;
                    case 1:
                        value = UnZigZag(ReadVarint(_log, ref _pos)) / Scale;
                        break;
                    case 2:
                        value = BinaryPrimitives.ReadSingleLittleEndian(_log[_pos..]);
                        _pos += 4;
                        break;
                    default:
                        throw new ArgumentOutOfRangeException(nameof(log), "Unknown value form.");
                }
            }
            if (!_started)
            {
                _started = true;
                _base = time;
            }
            return true;
        }
    }
}
