using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace SmartMaintenance.Streams.Alerting.Notifier;

/// <summary>
/// The webhook signature: <c>X-Signature: sha256=&lt;hex HMAC-SHA256(secret, timestamp + "." + body)&gt;</c> with
/// <c>X-Timestamp</c> = Unix seconds. Receivers verify it and reject stale timestamps to stop replays.
/// </summary>
public static class WebhookSignature
{
    public const string SignatureHeader = "X-Signature";
    public const string TimestampHeader = "X-Timestamp";
    public const string IdempotencyKeyHeader = "Idempotency-Key";
    public const string Prefix = "sha256=";

    public static string Compute(string secret, long unixSeconds, ReadOnlySpan<byte> body)
    {
        ArgumentNullException.ThrowIfNull(secret);
        var ts = unixSeconds.ToString(CultureInfo.InvariantCulture);
        var signed = new byte[Encoding.ASCII.GetByteCount(ts) + 1 + body.Length];
        var n = Encoding.ASCII.GetBytes(ts, signed);
        signed[n] = (byte)'.';
        body.CopyTo(signed.AsSpan(n + 1));
        var mac = HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), signed);
        return Prefix + Convert.ToHexStringLower(mac);
    }

    /// <summary>True when the signature matches and the timestamp is within <paramref name="tolerance"/> of <paramref name="now"/>.</summary>
    public static bool Verify(string secret, string? timestampHeader, ReadOnlySpan<byte> body, string? signatureHeader, DateTimeOffset now, TimeSpan tolerance)
    {
        if (timestampHeader is null || signatureHeader is null ||
            !long.TryParse(timestampHeader, NumberStyles.None, CultureInfo.InvariantCulture, out var ts))
        {
            return false;
        }
        if (Math.Abs(now.ToUnixTimeSeconds() - ts) > tolerance.TotalSeconds)
        {
            return false;
        }
        var expected = Encoding.ASCII.GetBytes(Compute(secret, ts, body));
        var actual = Encoding.ASCII.GetBytes(signatureHeader);
        return CryptographicOperations.FixedTimeEquals(expected, actual);
    }
}
