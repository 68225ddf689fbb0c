using System.Runtime.CompilerServices;

namespace SmartMaintenance.Streams.Contracts;

/// <summary>LEB128 varints and zigzag for the compact in-memory and stored encodings (dedup entries, young detector
/// logs): small deltas take one or two bytes instead of eight.</summary>
internal static class Varint
{
    /// <summary>Largest encoded size of a 64-bit value.</summary>
    public const int MaxBytes = 10;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong ZigZag(long v) => (ulong)((v << 1) ^ (v >> 63));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static long UnZigZag(ulong v) => (long)(v >> 1) ^ -(long)(v & 1);

    /// <summary>Writes <paramref name="v"/> at the start of <paramref name="dst"/>; returns the bytes written.</summary>
    public static int WriteVarint(Span<byte> dst, ulong v)
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

    /// <summary>Reads a varint at <paramref name="pos"/> and moves past it.</summary>
    /// <exception cref="ArgumentOutOfRangeException">More than ten bytes (corrupt input: stored rows are checked with it).</exception>
    /// <exception cref="IndexOutOfRangeException">The input ends inside the varint.</exception>
    public static ulong ReadVarint(ReadOnlySpan<byte> src, ref int pos)
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
}
