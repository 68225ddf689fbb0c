using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace SmartMaintenance.Streams.Load;

/// <summary>Builds the load tool's messages: readings stamped with the wall clock (event time ≈ send time, so
/// event-time → alert latency is meaningful at any offered rate), spikes, a malformed fraction, latency probes.</summary>
/// <remarks>Not thread-safe: one instance per sending thread.</remarks>
public sealed class LoadMessageFactory
{
    /// <summary>Sensor id of the latency probes; its rows are what the end-to-end poller looks for.</summary>
    public const string ProbeSensorId = "load.probe";

    /// <summary>Attribute carrying the probe's send time, Unix microseconds.</summary>
    public const string SentAttribute = "sent_us";

    private static readonly byte[] ProbeKey = Encoding.UTF8.GetBytes(ProbeSensorId);
    private readonly LoadOptions _options;
    private readonly Random _random;
    private readonly byte[][] _keys;
    private readonly ArrayBufferWriter<byte> _buffer = new(64 * 1024);
    private readonly Utf8JsonWriter _writer;
    private readonly long[] _seq;
    private int _next;
    private long _probeSeq;

    public LoadMessageFactory(LoadOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _random = new Random(options.Seed);
        _keys = new byte[options.Sensors][];
        for (var i = 0; i < _keys.Length; i++)
        {
            _keys[i] = Encoding.UTF8.GetBytes("load-" + i.ToString("D7", CultureInfo.InvariantCulture) + ".vibration");
        }
        _seq = new long[options.Sensors];
        _writer = new Utf8JsonWriter(_buffer, new JsonWriterOptions { SkipValidation = true });
    }

    /// <summary>Malformed readings written so far (each is one DLQ record in the engine).</summary>
    public long Malformed { get; private set; }

    /// <summary>Anomalous (spike) readings written so far.</summary>
    public long Spikes { get; private set; }

    /// <summary>Probe readings written so far.</summary>
    public long Probes => _probeSeq;

    /// <summary>Next message of <see cref="LoadOptions.Batch"/> readings; the key is the first reading's sensor.</summary>
    public (byte[] Key, byte[] Value) Next(long nowMs)
    {
        _buffer.ResetWrittenCount();
        var batch = _options.Batch;
        var key = _keys[_next];
        if (batch == 1)
        {
            WriteReading(nowMs, envelope: false);
        }
        else
        {
            _writer.Reset(_buffer);
            _writer.WriteStartObject();
            _writer.WritePropertyName("readings"u8);
            _writer.WriteStartArray();
            _writer.Flush();
            for (var i = 0; i < batch; i++)
            {
                if (i > 0)
                {
                    _buffer.Write(","u8);
                }
                WriteReading(nowMs, envelope: true);
            }
            _buffer.Write("]}"u8);
        }
        return (key, _buffer.WrittenSpan.ToArray());
    }

    /// <summary>A probe: a single valid reading on <see cref="ProbeSensorId"/>, seq = probe number, send time in attributes.</summary>
    public (byte[] Key, byte[] Value) Probe(long nowMs, long sentUnixMicros)
    {
        _buffer.ResetWrittenCount();
        _writer.Reset(_buffer);
        _writer.WriteStartObject();
        _writer.WriteString("sensor_id"u8, ProbeSensorId);
        _writer.WriteNumber("ts"u8, nowMs);
        _writer.WriteNumber("value"u8, 1.0);
        _writer.WriteString("sensor_type"u8, "probe");
        _writer.WriteNumber("seq"u8, ++_probeSeq);
        _writer.WriteStartObject("attributes"u8);
        _writer.WriteNumber(SentAttribute, sentUnixMicros);
        _writer.WriteEndObject();
        _writer.WriteEndObject();
        _writer.Flush();
        return (ProbeKey, _buffer.WrittenSpan.ToArray());
    }

    private void WriteReading(long nowMs, bool envelope)
    {
        var s = _next;
        _next = _next + 1 == _keys.Length ? 0 : _next + 1;
        var seq = ++_seq[s];
        _writer.Reset(_buffer);
        var malformed = _options.MalformedFraction > 0 && _random.NextDouble() < _options.MalformedFraction;
        if (malformed)
        {
            Malformed++;
            // Broken JSON would take a whole envelope with it; inside envelopes only element-level faults.
            var kind = _random.Next(envelope ? 3 : 4);
            if (kind == 3)
            {
                _buffer.Write("{\"sensor_id\":\""u8);
                _buffer.Write(_keys[s]);
                _buffer.Write("\",\"ts\":"u8);
                return;
            }
            _writer.WriteStartObject();
            _writer.WritePropertyName("sensor_id"u8);
            _writer.WriteStringValue(_keys[s].AsSpan());
            _writer.WriteNumber("ts"u8, nowMs);
            switch (kind)
            {
                case 0:
                    break; // value missing
                case 1:
                    _writer.WriteString("value"u8, "NaN");
                    break;
                default:
                    _writer.WriteNumber("value"u8, 3.0);
                    _writer.WriteNumber("quality"u8, 7);
                    break;
            }
            _writer.WriteEndObject();
            _writer.Flush();
            return;
        }
        var value = 3.0 + ((_random.NextDouble() - 0.5) * 0.2);
        if (_options.AnomalyRate > 0 && _random.NextDouble() < _options.AnomalyRate)
        {
            Spikes++;
            value = 40 + (_random.NextDouble() * 10);
        }
        _writer.WriteStartObject();
        _writer.WritePropertyName("sensor_id"u8);
        _writer.WriteStringValue(_keys[s].AsSpan());
        _writer.WriteNumber("ts"u8, nowMs);
        _writer.WriteNumber("value"u8, Math.Round(value, 3));
        _writer.WriteString("sensor_type"u8, "vibration"u8);
        _writer.WriteString("unit"u8, "mm/s"u8);
        _writer.WriteNumber("seq"u8, seq);
        _writer.WriteEndObject();
        _writer.Flush();
    }
}
