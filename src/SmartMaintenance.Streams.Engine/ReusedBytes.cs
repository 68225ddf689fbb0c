using Confluent.Kafka;

namespace SmartMaintenance.Streams.Engine;

/// <summary>
/// The consume loop's key and value deserializer (one instance each) and what it returns: each message's bytes are copied
/// into one buffer that is reused for the next message, instead of a new array per message (Confluent.Kafka's byte[]
/// deserializer). The loop processes a message completely before it consumes the next, so one buffer is enough; the
/// rejection path copies the bytes it keeps (<see cref="ToArray"/>, <see cref="ToArrayOrNull"/>).
/// </summary>
internal sealed class ReusedBytes : IDeserializer<ReusedBytes>
{
    // A rare huge message gets an array of its own rather than pinning that much memory for the life of the engine.
    private const int MaxRetainedBytes = 1 << 20;

    private byte[] _retained = new byte[4096];
    private byte[] _current;
    private int _length;
    private bool _isNull;

    public ReusedBytes() => _current = _retained;

    /// <summary>The current message's value (empty for a null value).</summary>
    public ReadOnlySpan<byte> Span => _current.AsSpan(0, _length);

    public int Length => _length;

    /// <summary>A copy of the current bytes that outlives the next message (DLQ records).</summary>
    public byte[] ToArray() => Span.ToArray();

    /// <summary>As <see cref="ToArray"/>, but null when the message had a null key or value (a DLQ record keeps it null).</summary>
    public byte[]? ToArrayOrNull() => _isNull ? null : ToArray();

    public ReusedBytes Deserialize(ReadOnlySpan<byte> data, bool isNull, SerializationContext context)
    {
        _isNull = isNull;
        if (data.Length > _retained.Length)
        {
            if (data.Length > MaxRetainedBytes)
            {
                _current = data.ToArray();
                _length = data.Length;
                return this;
            }
            _retained = new byte[Math.Max(data.Length, Math.Min(_retained.Length * 2, MaxRetainedBytes))];
        }
        data.CopyTo(_retained);
        _current = _retained;
        _length = data.Length;
        return this;
    }
}
