using System.Text;

namespace SmartMaintenance.Streams.Operations.Dlq;

/// <summary>
/// Shows an arbitrary payload safely on a terminal: valid UTF-8 without control characters as text (escaped,
/// truncated), anything else as hex. A DLQ holds whatever producers sent, including bytes that would corrupt
/// the terminal or the JSON output.
/// </summary>
public static class PayloadPreview
{
    /// <summary>True when <paramref name="bytes"/> is UTF-8 text without control characters other than tab/CR/LF.</summary>
    public static bool IsText(ReadOnlySpan<byte> bytes)
    {
        if (!System.Text.Unicode.Utf8.IsValid(bytes))
        {
            return false;
        }
        foreach (var b in bytes)
        {
            if ((b < 0x20 && b is not (byte)'\t' and not (byte)'\r' and not (byte)'\n') || b == 0x7F)
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>Text (newlines and tabs escaped) or hex, cut at <paramref name="maxBytes"/> with a note of the full size.</summary>
    public static string Format(ReadOnlySpan<byte> bytes, int maxBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBytes, 1);
        var cut = bytes.Length > maxBytes;
        if (IsText(bytes))
        {
            var take = cut ? Utf8Boundary(bytes, maxBytes) : bytes.Length;
            var text = Encoding.UTF8.GetString(bytes[..take])
                .Replace("\\", "\\\\", StringComparison.Ordinal)
                .Replace("\r", "\\r", StringComparison.Ordinal)
                .Replace("\n", "\\n", StringComparison.Ordinal)
                .Replace("\t", "\\t", StringComparison.Ordinal);
            return cut ? $"{text}… ({bytes.Length} bytes)" : text;
        }
        var hex = Convert.ToHexString(bytes[..Math.Min(bytes.Length, maxBytes)]).ToLowerInvariant();
        return cut ? $"hex:{hex}… ({bytes.Length} bytes)" : $"hex:{hex}";
    }

    // Never split a multi-byte character: back up to the start of the character at the cut.
    private static int Utf8Boundary(ReadOnlySpan<byte> bytes, int max)
    {
        var i = max;
        while (i > 0 && (bytes[i] & 0xC0) == 0x80)
        {
            i--;
        }
        return i;
    }
}
