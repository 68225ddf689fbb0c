using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace SmartMaintenance.Streams.Scoring;

/// <summary>
/// The inputs of a young detector state, (event time, value) pairs in arrival order, in a few bytes each: the same bytes
/// are kept in memory and written to a stored state row.
/// </summary>
/// <remarks>
/// An entry is a varint header <c>(zigzag(time − base) &lt;&lt; 2) | form</c> followed by the value, where base is the first
/// entry's time (0 for the first entry itself) and form says how the value is held: 0 its 8 raw bytes, 1 a zigzag varint
/// of value·1000 (readings with up to three decimals, when dividing back gives exactly the same bits), 2 a float (when
/// exact). Form 3 (header exactly 3) is the fallback for a time too far from the base: 8 raw bytes of time, 8 of value.
/// Every value comes back bit for bit, so replaying a log gives exactly the state updated input by input.
/// A reading seen every 25 s takes 6–11 bytes, a window mean 11; 16 of them as (long, long) took 256.
/// </remarks>
internal static class YoungLog
{
    /// <summary>Largest entry: a 10-byte header varint and a 10-byte value varint, or 1 + 8 + 8 for form 3.</summary>
    public const int MaxEntryBytes = 20;
    private const double Scale = 1000;
    private const ulong FarTime = 1UL << 61;

    /// <summary>Appends (time, value) to a log of <paramref name="count"/> entries in its first <paramref name="length"/> bytes,
    /// growing the array by half (rounded to 8 bytes, what the runtime allocates anyway) when it is full.</summary>
    public static void Append(ref byte[]? log, ref ushort length, int count, long time, double value)
    {
        Span<byte> entry = stackalloc byte[MaxEntryBytes];
        var n = Encode(entry, count == 0 ? 0 : FirstTime(log!), time, value);
        var needed = length + n;
        if (log is null || log.Length < needed)
        {
            var size = Math.Max(needed, (log?.Length ?? 0) + ((log?.Length ?? 0) / 2));
            var grown = new byte[(size + 7) & ~7];
            log?.AsSpan(0, length).CopyTo(grown);
            log = grown;
        }
        entry[..n].CopyTo(log.AsSpan(length));
        length = (ushort)needed;
    }

    /// <summary>Time of the first entry.</summary>
    public static long FirstTime(ReadOnlySpan<byte> log)
    {
        var pos = 0;
        var header = ReadVarint(log, ref pos);
        return header == 3 ? BinaryPrimitives.ReadInt64LittleEndian(log[pos..]) : UnZigZag(header >> 2);
    }

    /// <summary>Checks that <paramref name="log"/> holds exactly <paramref name="count"/> well-formed entries (a stored row).</summary>
    public static bool IsWellFormed(ReadOnlySpan<byte> log, int count)
    {
        try
        {
            var reader = new Reader(log);
            for (var i = 0; i < count; i++)
            {
                if (!reader.TryNext(out _, out _))
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

    private static int Encode(Span<byte> dst, long baseTime, long time, double value)
    {
        var zz = ZigZag(unchecked(time - baseTime));
        if (zz >= FarTime || (baseTime != 0 && ((time ^ baseTime) & (time ^ (time - baseTime))) < 0))
        {
            dst[0] = 3;
            BinaryPrimitives.WriteInt64LittleEndian(dst[1..], time);
            BinaryPrimitives.WriteInt64LittleEndian(dst[9..], BitConverter.DoubleToInt64Bits(value));
            return 17;
        }
        var bits = BitConverter.DoubleToInt64Bits(value);
        if (TryScale(value, bits, out var scaled))
        {
            var n = WriteVarint(dst, (zz << 2) | 1);
            return n + WriteVarint(dst[n..], ZigZag(scaled));
        }
        var f = (float)value;
        if (BitConverter.DoubleToInt64Bits(f) == bits)
        {
            var n = WriteVarint(dst, (zz << 2) | 2);
            BinaryPrimitives.WriteSingleLittleEndian(dst[n..], f);
            return n + 4;
        }
        var m = WriteVarint(dst, zz << 2);
        BinaryPrimitives.WriteInt64LittleEndian(dst[m..], bits);
        return m + 8;
    }

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

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong ZigZag(long v) => (ulong)((v << 1) ^ (v >> 63));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
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
            if (shift > 63)
            {
                throw new ArgumentOutOfRangeException(nameof(src), "Varint longer than 64 bits.");
            }
            b = src[pos++];
            v |= (ulong)(b & 0x7F) << shift;
            shift += 7;
        }
        while ((b & 0x80) != 0);
        return v;
    }

    /// <summary>Reads the entries of a log in order.</summary>
    public ref struct Reader(ReadOnlySpan<byte> log)
    {
        private readonly ReadOnlySpan<byte> _log = log;
        private int _pos;
        private long _base;
        private bool _started;

        public readonly int Position => _pos;

        public bool TryNext(out long time, out double value)
        {
            if (_pos >= _log.Length)
            {
                time = 0;
                value = 0;
                return false;
            }
            var header = ReadVarint(_log, ref _pos);
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
                    default:
                        value = BinaryPrimitives.ReadSingleLittleEndian(_log[_pos..]);
                        _pos += 4;
                        break;
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
