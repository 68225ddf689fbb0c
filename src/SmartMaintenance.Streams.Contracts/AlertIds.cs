using System.Security.Cryptography;
using System.Text;

namespace SmartMaintenance.Streams.Contracts;

/// <summary>Content-derived alert ids: the same episode always gets the same id, so replays republish it.</summary>
public static class AlertIds
{
    public static string For(string sensorId, string detector, long episodeStartMs)
    {
        ArgumentNullException.ThrowIfNull(sensorId);
        ArgumentNullException.ThrowIfNull(detector);
        var text = $"{sensorId}\n{detector}\n{episodeStartMs}";
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(text), hash);
        // 128 bits in hex: collision-free in practice, short enough for logs and URLs.
        return "al_" + Convert.ToHexStringLower(hash[..16]);
    }
}
