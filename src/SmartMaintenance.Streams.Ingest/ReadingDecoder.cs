using System.Text.Json;
using SmartMaintenance.Streams.Contracts;

namespace SmartMaintenance.Streams.Ingest;

/// <summary>Decodes and validates the value of one Kafka message: a single reading or a batch envelope.</summary>
/// <remarks>
/// One instance per consume loop (not thread-safe: it owns the intern pool). The valid path allocates
/// nothing once ids are interned: Utf8JsonReader over the original bytes, strings pooled.
/// A syntax error anywhere rejects the whole message (malformed_json); a semantically bad reading inside
/// an otherwise well-formed envelope is rejected alone, with its own bytes, so its siblings are kept.
/// </remarks>
public sealed class ReadingDecoder
{
    private static ReadOnlySpan<byte> PropReadings => "readings"u8;
    private static ReadOnlySpan<byte> PropSensorId => "sensor_id"u8;
    private static ReadOnlySpan<byte> PropTs => "ts"u8;
    private static ReadOnlySpan<byte> PropValue => "value"u8;
    private static ReadOnlySpan<byte> PropAssetId => "asset_id"u8;
    private static ReadOnlySpan<byte> PropSensorType => "sensor_type"u8;
    private static ReadOnlySpan<byte> PropUnit => "unit"u8;
    private static ReadOnlySpan<byte> PropQuality => "quality"u8;
    private static ReadOnlySpan<byte> PropSeq => "seq"u8;
    private static ReadOnlySpan<byte> PropAttributes => "attributes"u8;

    // Epoch-ms bounds of what can be a timestamp at all (0001..9999); tighter limits are policy (options).
    private const long MinRepresentableMs = -62135596800000;
    private const long MaxRepresentableMs = 253402300799999;

    private readonly ValidationOptions _options;
    private readonly TimeProvider _time;
    private readonly JsonReaderOptions _readerOptions;
    private readonly Dictionary<string, (double Min, double Max)> _ranges;
    private readonly long _maxFutureMs;
    private readonly long _maxPastMs;
    // Direct-mapped: a collision just replaces the entry. 8,192 references (64 KB) cover the ids of a few thousand sensors;
    // a larger fleet misses more often and falls back to the pool, as before.
    private const int IdCacheSize = 8192;
    private readonly string?[] _idCache = new string?[IdCacheSize];
    private readonly byte[]?[] _idCacheUtf8 = new byte[]?[IdCacheSize];

    public ReadingDecoder(ValidationOptions options, TimeProvider? time = null, StringPool? pool = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _time = time ?? TimeProvider.System;
        Pool = pool ?? new StringPool();
        _readerOptions = new JsonReaderOptions { MaxDepth = options.MaxDepth, CommentHandling = JsonCommentHandling.Disallow };
        _ranges = new Dictionary<string, (double, double)>(StringComparer.Ordinal);
        foreach (var (type, text) in options.Ranges)
        {
            ValidationOptions.TryParseRange(text, out var min, out var max);
            _ranges[type] = (min, max);
        }
        _maxFutureMs = (long)options.MaxFutureSkew.TotalMilliseconds;
        _maxPastMs = (long)Math.Min(options.MaxPastAge.TotalMilliseconds, long.MaxValue / 2);
    }

    public StringPool Pool { get; }

    /// <summary>The sensor registry's per-sensor values (null: none). Set before decoding starts; its content may change
    /// at any time (swapped whole).</summary>
    public SensorOverrides? Overrides { get; set; }

    /// <summary>Whether the last decoded message was a batch envelope (its readings have no bytes of their own).</summary>
    public bool LastWasEnvelope { get; private set; }

    /// <summary>Decodes <paramref name="value"/>, appending valid readings and rejections.</summary>
    /// <returns>Number of readings the message carried (valid + rejected), or 0 if the whole message was rejected.</returns>
    public int Decode(ReadOnlySpan<byte> value, SourcePosition position, List<SensorReading> readings, List<Rejection> rejects) =>
        Decode(value, position, _time.GetUtcNow().ToUnixTimeMilliseconds(), readings, rejects);

    /// <summary>As <see cref="Decode(ReadOnlySpan{byte}, SourcePosition, List{SensorReading}, List{Rejection})"/>, with the
    /// clock already read by the caller (epoch ms, the time the timestamp limits are checked against): a consume loop that
    /// needs the time anyway reads the clock once per message, not twice.</summary>
    public int Decode(ReadOnlySpan<byte> value, SourcePosition position, long nowMs, List<SensorReading> readings, List<Rejection> rejects)
    {
        ArgumentNullException.ThrowIfNull(readings);
        ArgumentNullException.ThrowIfNull(rejects);
        LastWasEnvelope = false;
        if (value.Length == 0)
        {
            rejects.Add(new Rejection(RejectReason.MalformedJson, "empty message (null or zero-length value)", -1, 0, 0));
            return 0;
        }
        if (value.Length > _options.MaxMessageBytes)
        {
            rejects.Add(new Rejection(RejectReason.TooLarge, $"message is {value.Length} bytes; limit Validation:MaxMessageBytes={_options.MaxMessageBytes}", -1, 0, value.Length));
            return 0;
        }

        var readingsBefore = readings.Count;
        var rejectsBefore = rejects.Count;
        try
        {
            var reader = new Utf8JsonReader(value, _readerOptions);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                rejects.Add(new Rejection(RejectReason.MalformedJson, "top-level JSON value must be an object", -1, 0, value.Length));
                return 0;
            }

            var fields = new Fields();
            var envelopeCount = -1;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals(PropReadings))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.StartArray)
                    {
                        LastWasEnvelope = true;
                        envelopeCount = ReadEnvelope(ref reader, value, position, nowMs, readings, rejects);
                        if (envelopeCount < 0)
                        {
                            // Oversized envelope: the whole message goes to the DLQ as one record.
                            var tooMany = rejects[^1];
                            readings.RemoveRange(readingsBefore, readings.Count - readingsBefore);
                            rejects.RemoveRange(rejectsBefore, rejects.Count - rejectsBefore);
                            rejects.Add(tooMany);
                            return 0;
                        }
                        continue;
                    }
                    reader.Skip();
                    continue;
                }
                ReadField(ref reader, ref fields);
            }
            if (reader.TokenType != JsonTokenType.EndObject || reader.Read())
            {
                // Utf8JsonReader reports trailing garbage lazily; make sure it is seen.
                throw new JsonException("trailing data after the top-level object");
            }

            if (envelopeCount >= 0)
            {
                return envelopeCount;
            }
            if (Complete(ref fields, value, position, nowMs, out var reading, out var reason, out var detail))
            {
                readings.Add(reading);
            }
            else
            {
                rejects.Add(new Rejection(reason, detail, -1, 0, value.Length));
            }
            return 1;
        }
        catch (JsonException ex)
        {
            // A syntax error invalidates everything decoded from this message: all of it goes to the DLQ as one record.
            readings.RemoveRange(readingsBefore, readings.Count - readingsBefore);
            rejects.RemoveRange(rejectsBefore, rejects.Count - rejectsBefore);
            rejects.Add(new Rejection(RejectReason.MalformedJson, Truncate(ex.Message), -1, 0, value.Length));
            return 0;
        }
    }

    private int ReadEnvelope(ref Utf8JsonReader reader, ReadOnlySpan<byte> value, SourcePosition position, long nowMs,
        List<SensorReading> readings, List<Rejection> rejects)
    {
        var index = 0;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (index >= _options.MaxReadingsPerMessage)
            {
                rejects.Add(new Rejection(RejectReason.TooManyReadings,
                    $"envelope has more than Validation:MaxReadingsPerMessage={_options.MaxReadingsPerMessage} readings", -1, 0, value.Length));
                return -1;
            }
            var start = (int)reader.TokenStartIndex;
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                reader.Skip();
                var len = (int)reader.BytesConsumed - start;
                rejects.Add(new Rejection(RejectReason.InvalidField, "envelope element is not an object", index, start, len));
                index++;
                continue;
            }
            var fields = new Fields();
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                ReadField(ref reader, ref fields);
            }
            var length = (int)reader.BytesConsumed - start;
            var elementPosition = position with { Index = index };
            if (Complete(ref fields, value, elementPosition, nowMs, out var reading, out var reason, out var detail))
            {
                readings.Add(reading);
            }
            else
            {
                rejects.Add(new Rejection(reason, detail, index, start, length));
            }
            index++;
        }
        return index;
    }

    /// <summary>Reads one property's value into <paramref name="f"/>; type problems are recorded, not thrown.</summary>
    private void ReadField(ref Utf8JsonReader reader, ref Fields f)
    {
        if (reader.ValueTextEquals(PropSensorId))
        {
            reader.Read();
            f.SensorId = ReadId(ref reader, "sensor_id", ref f, required: true);
        }
        else if (reader.ValueTextEquals(PropTs))
        {
            reader.Read();
            ReadTimestamp(ref reader, ref f);
        }
        else if (reader.ValueTextEquals(PropValue))
        {
            reader.Read();
            ReadValue(ref reader, ref f);
        }
        else if (reader.ValueTextEquals(PropAssetId))
        {
            reader.Read();
            f.AssetId = ReadId(ref reader, "asset_id", ref f, required: false);
        }
        else if (reader.ValueTextEquals(PropSensorType))
        {
            reader.Read();
            f.SensorType = ReadId(ref reader, "sensor_type", ref f, required: false);
        }
        else if (reader.ValueTextEquals(PropUnit))
        {
            reader.Read();
            f.Unit = ReadId(ref reader, "unit", ref f, required: false);
        }
        else if (reader.ValueTextEquals(PropQuality))
        {
            reader.Read();
            if (reader.TokenType == JsonTokenType.Number && reader.TryGetDouble(out var q))
            {
                f.Quality = q;
                if (!(q >= 0 && q <= 1))
                {
                    f.Fail(RejectReason.OutOfRange, "quality must be within 0..1");
                }
            }
            else if (reader.TokenType != JsonTokenType.Null)
            {
                f.Fail(RejectReason.InvalidField, "quality must be a number");
                reader.Skip();
            }
        }
        else if (reader.ValueTextEquals(PropSeq))
        {
            reader.Read();
            if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var seq) && seq >= 0)
            {
                f.Seq = seq;
            }
            else if (reader.TokenType != JsonTokenType.Null)
            {
                f.Fail(RejectReason.InvalidField, "seq must be a non-negative integer");
                reader.Skip();
            }
        }
        else if (reader.ValueTextEquals(PropAttributes))
        {
            reader.Read();
            if (reader.TokenType == JsonTokenType.StartObject)
            {
                var start = reader.TokenStartIndex;
                reader.Skip();
                var length = reader.BytesConsumed - start;
                if (length > _options.MaxAttributesBytes)
                {
                    f.Fail(RejectReason.InvalidField, $"attributes larger than Validation:MaxAttributesBytes={_options.MaxAttributesBytes}");
                }
                else
                {
                    f.AttributesStart = start;
                    f.AttributesLength = length;
                }
            }
            else if (reader.TokenType != JsonTokenType.Null)
            {
                f.Fail(RejectReason.InvalidField, "attributes must be an object");
                reader.Skip();
            }
        }
        else
        {
            // Unknown fields are tolerated (forward compatibility), but still bounded by MaxDepth.
            reader.Read();
            reader.Skip();
        }
    }

    private string? ReadId(ref Utf8JsonReader reader, string name, ref Fields f, bool required)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            if (required)
            {
                f.Fail(RejectReason.MissingField, name + " is null");
            }
            return null;
        }
        if (reader.TokenType != JsonTokenType.String)
        {
            f.Fail(RejectReason.InvalidField, name + " must be a string");
            reader.Skip();
            return null;
        }
        var raw = reader.HasValueSequence ? (int)reader.ValueSequence.Length : reader.ValueSpan.Length;
        if (raw == 0)
        {
            f.Fail(required ? RejectReason.MissingField : RejectReason.InvalidField, name + " is empty");
            return null;
        }
        if (raw > _options.MaxIdLength)
        {
            f.Fail(RejectReason.InvalidField, $"{name} longer than Validation:MaxIdLength={_options.MaxIdLength}");
            return null;
        }
        // Fast path: an unescaped id seen recently is matched on its UTF-8 bytes, without transcoding and hashing it as
        // UTF-16 for the pool (4 ids per reading: 7 % of the consume thread). Only valid, pooled ids are ever cached.
        var cacheable = !reader.HasValueSequence && !reader.ValueIsEscaped;
        var slot = 0;
        if (cacheable)
        {
            var utf8 = reader.ValueSpan;
            slot = IdSlot(utf8);
            if (_idCache[slot] is { } cached)
            {
                // ASCII ids (the usual case) compare with the string itself; others with their UTF-8 bytes, kept beside.
                if (_idCacheUtf8[slot] is { } bytes ? utf8.SequenceEqual(bytes) : cached.Length == utf8.Length && System.Text.Ascii.Equals(utf8, cached))
                {
                    return cached;
                }
            }
        }
        Span<char> buffer = stackalloc char[raw];
        var written = reader.CopyString(buffer);
        var chars = buffer[..written];
        if (chars.IsWhiteSpace())
        {
            f.Fail(required ? RejectReason.MissingField : RejectReason.InvalidField, name + " is blank");
            return null;
        }
        var id = Pool.Intern(chars);
        if (cacheable)
        {
            var utf8 = reader.ValueSpan;
            _idCache[slot] = id;
            _idCacheUtf8[slot] = System.Text.Ascii.IsValid(utf8) ? null : utf8.ToArray();
        }
        return id;
    }

    /// <summary>Cache slot of an id: its first and last eight bytes and its length, mixed (ids of one fleet usually differ
    /// in their last characters). A byte-at-a-time hash cost as much as the transcoding the cache saves.</summary>
    private static int IdSlot(ReadOnlySpan<byte> utf8)
    {
        ulong head;
        ulong tail;
        if (utf8.Length >= 8)
        {
            head = System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(utf8);
            tail = System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(utf8[^8..]);
        }
        else
        {
            head = 0;
            for (var i = 0; i < utf8.Length; i++)
            {
                head = (head << 8) | utf8[i];
            }
            tail = 0;
        }
        var h = ((head * 0x9E3779B97F4A7C15UL) ^ (tail * 0xC2B2AE3D27D4EB4FUL) ^ (ulong)utf8.Length) * 0x165667B19E3779F9UL;
        return (int)(h >> 51) & (IdCacheSize - 1);
    }

    private static void ReadTimestamp(ref Utf8JsonReader reader, ref Fields f)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.Number:
                if (reader.TryGetInt64(out var ms))
                {
                    f.Ts = ms;
                    f.HasTs = true;
                }
                else if (reader.TryGetDouble(out var dms) && double.IsFinite(dms) && dms is > MinRepresentableMs and < MaxRepresentableMs)
                {
                    f.Ts = (long)Math.Floor(dms);
                    f.HasTs = true;
                }
                else
                {
                    f.Fail(RejectReason.InvalidField, "ts number is not epoch milliseconds");
                }
                break;
            case JsonTokenType.String:
                if (reader.TryGetDateTimeOffset(out var dto))
                {
                    f.Ts = dto.ToUnixTimeMilliseconds();
                    f.HasTs = true;
                }
                else
                {
                    f.Fail(RejectReason.InvalidField, "ts is not RFC 3339 (e.g. 2026-01-31T12:00:00.123Z) or epoch milliseconds");
                }
                break;
            case JsonTokenType.Null:
                break;
            default:
                f.Fail(RejectReason.InvalidField, "ts must be a string or a number");
                reader.Skip();
                break;
        }
    }

    private static void ReadValue(ref Utf8JsonReader reader, ref Fields f)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.Number:
                if (reader.TryGetDouble(out var v) && double.IsFinite(v))
                {
                    f.Value = v;
                    f.HasValue = true;
                }
                else
                {
                    f.Fail(RejectReason.NonFiniteValue, "value overflows a double");
                }
                break;
            case JsonTokenType.String:
                // Producers that serialise NaN/Infinity as strings: name the problem precisely.
                if (reader.ValueTextEquals("NaN"u8) || reader.ValueTextEquals("Infinity"u8) || reader.ValueTextEquals("-Infinity"u8)
                    || reader.ValueTextEquals("+Infinity"u8) || reader.ValueTextEquals("nan"u8) || reader.ValueTextEquals("inf"u8)
                    || reader.ValueTextEquals("-inf"u8))
                {
                    f.Fail(RejectReason.NonFiniteValue, "value is not finite");
                }
                else
                {
                    f.Fail(RejectReason.InvalidField, "value must be a JSON number");
                }
                break;
            case JsonTokenType.Null:
                break;
            default:
                f.Fail(RejectReason.InvalidField, "value must be a JSON number");
                reader.Skip();
                break;
        }
    }

    private bool Complete(ref Fields f, ReadOnlySpan<byte> message, SourcePosition position, long nowMs, out SensorReading reading, out RejectReason reason, out string detail)
    {
        reading = default;
        if (f.Reason != RejectReason.None)
        {
            reason = f.Reason;
            detail = f.Detail!;
            return false;
        }
        if (f.SensorId is null || !f.HasTs || !f.HasValue)
        {
            reason = RejectReason.MissingField;
            detail = "missing required field(s):" + (f.SensorId is null ? " sensor_id" : "") + (f.HasTs ? "" : " ts") + (f.HasValue ? "" : " value");
            return false;
        }
        if (f.Ts is < MinRepresentableMs or > MaxRepresentableMs)
        {
            reason = RejectReason.InvalidField;
            detail = "ts outside years 0001..9999";
            return false;
        }
        if (f.Ts > nowMs + _maxFutureMs)
        {
            reason = RejectReason.FutureTimestamp;
            detail = $"ts is {(f.Ts - nowMs) / 1000} s ahead of the clock; limit Validation:MaxFutureSkew={_options.MaxFutureSkew}";
            return false;
        }
        if (f.Ts < nowMs - _maxPastMs)
        {
            reason = RejectReason.PastTimestamp;
            detail = $"ts is older than Validation:MaxPastAge={_options.MaxPastAge}";
            return false;
        }
        if (Overrides is { } overrides && overrides.TryGet(f.SensorId, out var entry))
        {
            f.AssetId ??= entry.AssetId;
            f.SensorType ??= entry.SensorType;
            f.Unit ??= entry.Unit;
            if (entry.HasRange)
            {
                var min = entry.RangeMin ?? double.NegativeInfinity;
                var max = entry.RangeMax ?? double.PositiveInfinity;
                if (f.Value < min || f.Value > max)
                {
                    reason = RejectReason.OutOfRange;
                    detail = $"value outside {min}..{max} for sensor {f.SensorId} (sensor registry)";
                    return false;
                }
                return Keep(ref f, message, position, out reading, out reason, out detail);
            }
        }
        if (f.SensorType is not null && _ranges.TryGetValue(f.SensorType, out var range) && (f.Value < range.Min || f.Value > range.Max))
        {
            reason = RejectReason.OutOfRange;
            detail = $"value outside {range.Min}..{range.Max} for sensor_type {f.SensorType}";
            return false;
        }
        return Keep(ref f, message, position, out reading, out reason, out detail);
    }

    private static bool Keep(ref Fields f, ReadOnlySpan<byte> message, SourcePosition position, out SensorReading reading, out RejectReason reason, out string detail)
    {
        // Attributes are optional and rare: materialised only for readings that are kept.
        var attributes = f.AttributesStart >= 0
            ? System.Text.Encoding.UTF8.GetString(message.Slice((int)f.AttributesStart, (int)f.AttributesLength))
            : null;
        reading = new SensorReading(f.SensorId!, f.Ts, f.Value, f.AssetId, f.SensorType, f.Unit, f.Quality, f.Seq,
            attributes, position);
        reason = RejectReason.None;
        detail = "";
        return true;
    }

    private static string Truncate(string s) => s.Length <= 300 ? s : s[..300];

    private struct Fields
    {
        public string? SensorId;
        public string? AssetId;
        public string? SensorType;
        public string? Unit;
        public long Ts;
        public bool HasTs;
        public double Value;
        public bool HasValue;
        public double Quality;
        public long Seq;
        public long AttributesStart;
        public long AttributesLength;
        public RejectReason Reason;
        public string? Detail;

        public Fields()
        {
            Quality = double.NaN;
            Seq = -1;
            AttributesStart = -1;
        }

        public void Fail(RejectReason reason, string detail)
        {
            // The first problem found is the one reported: it is what a producer fixes first.
            if (Reason == RejectReason.None)
            {
                Reason = reason;
                Detail = detail;
            }
        }
    }
}
