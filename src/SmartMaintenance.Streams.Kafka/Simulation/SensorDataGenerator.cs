using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using SmartMaintenance.Streams.Contracts;

namespace SmartMaintenance.Streams.Kafka.Simulation;

/// <summary>One generated Kafka message. <see cref="Value"/> is only valid until the next <see cref="SensorDataGenerator.TryNext"/>.</summary>
public readonly record struct SimulatedMessage(byte[] Key, ReadOnlyMemory<byte> Value, int Readings, bool IsEnvelope);

/// <summary>
/// Deterministic source of realistic sensor messages (no Kafka involved): per sensor a base level,
/// Gaussian noise, a daily cycle and slow drift; anomaly episodes and malformed readings at the
/// configured rates. Same options, seed and start time give byte-identical output, so benchmarks can
/// replay exactly what <see cref="SensorSimulator"/> published.
/// </summary>
public sealed class SensorDataGenerator
{
    private static readonly JsonEncodedText SensorIdName = JsonEncodedText.Encode("sensor_id");
    private static readonly JsonEncodedText TsName = JsonEncodedText.Encode("ts");
    private static readonly JsonEncodedText ValueName = JsonEncodedText.Encode("value");
    private static readonly JsonEncodedText AssetIdName = JsonEncodedText.Encode("asset_id");
    private static readonly JsonEncodedText SensorTypeName = JsonEncodedText.Encode("sensor_type");
    private static readonly JsonEncodedText UnitName = JsonEncodedText.Encode("unit");
    private static readonly JsonEncodedText QualityName = JsonEncodedText.Encode("quality");
    private static readonly JsonEncodedText SeqName = JsonEncodedText.Encode("seq");
    private static readonly JsonEncodedText ReadingsName = JsonEncodedText.Encode("readings");
    private static readonly JsonEncodedText[] NonFinite = [JsonEncodedText.Encode("NaN"), JsonEncodedText.Encode("Infinity"), JsonEncodedText.Encode("-Infinity")];

    private static readonly SensorType[] Types =
    [
        //            name           unit    base lo/hi   noise σ  daily amp  drift/h  impossible value
        new("temperature", "°C",   45, 75,      0.3,     4.0,       0.2,     -500),
        new("vibration",   "mm/s", 1.5, 4.5,    0.15,    0.2,       0.02,    -100),
        new("pressure",    "bar",  4, 8,        0.05,    0.15,      0.01,    -100),
        new("current",     "A",    10, 40,      0.3,     2.5,       0.05,    -10000),
    ];

    /// <summary>The sensor_type of the simulated sensors, in the order they repeat within an asset.</summary>
    public static IReadOnlyList<string> SensorTypeNames { get; } = Array.ConvertAll(Types, t => t.Name);

    private const int SensorsPerAsset = 4;
    private const double DayMs = 86_400_000;

    private readonly SimulatorOptions _options;
    private readonly Random _random;
    private readonly Sensor[] _sensors;
    private readonly Asset[] _assets;
    private readonly long _startMs;
    private readonly double _periodMs;
    private readonly long _target;
    private readonly ArrayBufferWriter<byte> _buffer = new(64 * 1024);
    private readonly Utf8JsonWriter _writer;

    private long _generated;
    private int _nextSensor;
    private long _tick;
    private bool _completed;
    private int _flushCursor;
    private ISimulationObserver? _observer;
    private string[]? _sensorNames;

    private long _messages, _envelopes, _valid, _anomalousReadings;
    private readonly long[] _malformed = new long[MalformedKinds.All.Count];
    private readonly long[] _anomalies = new long[3];

    public SensorDataGenerator(SimulatorOptions options, int seed, DateTimeOffset startTime)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        Seed = seed;
        StartTime = startTime;
        _random = new Random(seed);
        _startMs = startTime.ToUnixTimeMilliseconds();
        _periodMs = options.EffectiveSamplePeriod.TotalMilliseconds;
        _target = options.TargetReadings;
        _writer = new Utf8JsonWriter(_buffer, new JsonWriterOptions { SkipValidation = true });

        var assetCount = (options.Sensors + SensorsPerAsset - 1) / SensorsPerAsset;
        _assets = new Asset[assetCount];
        for (var a = 0; a < assetCount; a++)
        {
            var id = "asset-" + (a + 1).ToString("D4", CultureInfo.InvariantCulture);
            _assets[a] = new Asset(JsonEncodedText.Encode(id), Encoding.UTF8.GetBytes(id), options.Batch);
        }
        _sensors = new Sensor[options.Sensors];
        for (var s = 0; s < _sensors.Length; s++)
        {
            var type = Types[s % SensorsPerAsset];
            var asset = _assets[s / SensorsPerAsset];
            var id = $"{Encoding.UTF8.GetString(asset.KeyBytes)}.{type.Name}";
            _sensors[s] = new Sensor(JsonEncodedText.Encode(id), Encoding.UTF8.GetBytes(id), type, s / SensorsPerAsset)
            {
                Base = type.BaseLow + (_random.NextDouble() * (type.BaseHigh - type.BaseLow)),
                DriftPerMs = (_random.NextDouble() * 2 - 1) * type.DriftPerHour / 3_600_000,
                Phase = _random.NextDouble() * 2 * Math.PI,
                EpochMillis = options.TimestampFormat == TimestampFormat.EpochMillis
                    || (options.TimestampFormat == TimestampFormat.Mixed && s % 2 == 1),
            };
        }
    }

    public int Seed { get; }
    public DateTimeOffset StartTime { get; }

    /// <summary>Told of every episode and valid reading (null: nobody listens, nothing extra is done per reading).</summary>
    public ISimulationObserver? Observer
    {
        get => _observer;
        set
        {
            _observer = value;
            _sensorNames ??= value is null ? null : Array.ConvertAll(_sensors, s => s.Id.ToString());
        }
    }

    /// <summary>Readings generated so far.</summary>
    public long ReadingsGenerated => _generated;

    /// <summary>Stop generating readings; following <see cref="TryNext"/> calls return the partly filled envelopes, then false.</summary>
    public void Complete() => _completed = true;

    /// <summary>The next message, or false when the target count is reached (or after <see cref="Complete"/>) and everything is flushed.</summary>
    public bool TryNext(out SimulatedMessage message)
    {
        while (!_completed)
        {
            if (_target > 0 && _generated >= _target)
            {
                _completed = true;
                break;
            }
            if (NextReading(out message))
            {
                return true;
            }
        }
        // Flush partial envelopes, asset by asset.
        while (_flushCursor < _assets.Length)
        {
            var asset = _assets[_flushCursor++];
            if (asset.Count > 0)
            {
                message = WriteEnvelope(asset);
                return true;
            }
        }
        message = default;
        return false;
    }

    /// <summary>Counts of everything returned so far.</summary>
    public SimulationSummary Summary(TimeSpan elapsed = default, long deliveryFailures = 0)
    {
        var malformed = new Dictionary<MalformedKind, long>();
        long malformedTotal = 0;
        foreach (var kind in MalformedKinds.All)
        {
            malformed[kind] = _malformed[(int)kind];
            malformedTotal += _malformed[(int)kind];
        }
        var anomalies = new Dictionary<AnomalyKind, long>();
        long anomaliesTotal = 0;
        foreach (var kind in Enum.GetValues<AnomalyKind>())
        {
            anomalies[kind] = _anomalies[(int)kind];
            anomaliesTotal += _anomalies[(int)kind];
        }
        return new SimulationSummary
        {
            Messages = _messages,
            Envelopes = _envelopes,
            Readings = _valid + malformedTotal,
            ValidReadings = _valid,
            MalformedReadings = malformedTotal,
            MalformedByKind = malformed,
            AnomaliesInjected = anomaliesTotal,
            AnomaliesByKind = anomalies,
            AnomalousReadings = _anomalousReadings,
            DeliveryFailures = deliveryFailures,
            Seed = Seed,
            StartTime = StartTime,
            Elapsed = elapsed,
        };
    }

    /// <summary>Generates one reading; true when it completed a message.</summary>
    private bool NextReading(out SimulatedMessage message)
    {
        var index = _nextSensor;
        var sensor = _sensors[index];
        var ts = _startMs + (long)(_tick * _periodMs);
        if (++_nextSensor == _sensors.Length)
        {
            _nextSensor = 0;
            _tick++;
        }
        _generated++;

        var value = NextValue(sensor, index, ts, out var anomalous);
        var quality = _random.NextDouble() < 0.05 ? Math.Round(0.8 + (_random.NextDouble() * 0.19), 2) : 1.0;
        var seq = sensor.Seq++;
        MalformedKind? bad = null;
        if (_options.BadRate > 0 && _random.NextDouble() < _options.BadRate)
        {
            bad = (MalformedKind)_random.Next(MalformedKinds.All.Count);
            _malformed[(int)bad.Value]++;
        }
        else
        {
            _valid++;
            if (anomalous)
            {
                _anomalousReadings++;
            }
            _observer?.OnReading(new SensorReading(_sensorNames![index], ts, value, SensorType: sensor.Type.Name));
        }
        var reading = new PendingReading(index, ts, value, quality, seq, bad, _random.Next());

        if (bad == MalformedKind.BrokenJson || _options.Batch == 1)
        {
            message = WriteSingle(reading);
            return true;
        }
        var asset = _assets[sensor.Asset];
        asset.Pending[asset.Count++] = reading;
        if (asset.Count == _options.Batch)
        {
            message = WriteEnvelope(asset);
            return true;
        }
        message = default;
        return false;
    }

    private double NextValue(Sensor sensor, int index, long ts, out bool anomalous)
    {
        var type = sensor.Type;
        var elapsedMs = ts - _startMs;
        var daily = type.DailyAmplitude * Math.Sin((2 * Math.PI * (ts % DayMs) / DayMs) + sensor.Phase);
        var normal = sensor.Base + daily + (sensor.DriftPerMs * elapsedMs) + (Gaussian() * type.Noise);

        if (sensor.EpisodeLeft == 0 && _options.AnomalyRate > 0 && _random.NextDouble() < _options.AnomalyRate)
        {
            var kind = (AnomalyKind)_random.Next(3);
            _anomalies[(int)kind]++;
            sensor.Episode = kind;
            var sign = _random.Next(2) == 0 ? -1 : 1;
            switch (kind)
            {
                case AnomalyKind.Spike:
                    sensor.EpisodeLeft = 1;
                    sensor.EpisodeOffset = sign * (10 + (_random.NextDouble() * 10)) * type.Noise;
                    break;
                case AnomalyKind.LevelShift:
                    sensor.EpisodeLeft = 60 + _random.Next(121);
                    sensor.EpisodeOffset = sign * (6 + (_random.NextDouble() * 4)) * type.Noise;
                    break;
                default:
                    sensor.EpisodeLeft = 60 + _random.Next(121);
                    sensor.StuckValue = sensor.Seq == 0 ? Math.Round(normal, 3) : sensor.LastValue;
                    break;
            }
            _observer?.OnEpisode(new InjectedEpisode(_sensorNames![index], kind, ts, ts + (long)((sensor.EpisodeLeft - 1) * _periodMs)));
        }

        double value;
        if (sensor.EpisodeLeft > 0)
        {
            sensor.EpisodeLeft--;
            anomalous = true;
            value = sensor.Episode == AnomalyKind.Stuck ? sensor.StuckValue : Math.Round(normal + sensor.EpisodeOffset, 3);
        }
        else
        {
            anomalous = false;
            value = Math.Round(normal, 3);
        }
        if (sensor.Type.Name == "vibration" && value < 0)
        {
            value = 0;
        }
        sensor.LastValue = value;
        return value;
    }

    private double Gaussian()
    {
        // Box-Muller; 1 - NextDouble() keeps the logarithm finite.
        var u1 = 1.0 - _random.NextDouble();
        var u2 = _random.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }

    private SimulatedMessage WriteSingle(in PendingReading reading)
    {
        _buffer.ResetWrittenCount();
        _writer.Reset(_buffer);
        WriteReading(reading);
        _writer.Flush();
        _messages++;
        var sensor = _sensors[reading.Sensor];
        if (reading.Bad == MalformedKind.BrokenJson)
        {
            return new SimulatedMessage(sensor.KeyBytes, Corrupt(reading.Noise), 1, false);
        }
        return new SimulatedMessage(sensor.KeyBytes, _buffer.WrittenMemory, 1, false);
    }

    private SimulatedMessage WriteEnvelope(Asset asset)
    {
        _buffer.ResetWrittenCount();
        _writer.Reset(_buffer);
        _writer.WriteStartObject();
        _writer.WriteStartArray(ReadingsName);
        for (var i = 0; i < asset.Count; i++)
        {
            WriteReading(asset.Pending[i]);
        }
        _writer.WriteEndArray();
        _writer.WriteEndObject();
        _writer.Flush();
        var count = asset.Count;
        asset.Count = 0;
        _messages++;
        _envelopes++;
        return new SimulatedMessage(asset.KeyBytes, _buffer.WrittenMemory, count, true);
    }

    private void WriteReading(in PendingReading r)
    {
        var sensor = _sensors[r.Sensor];
        var type = sensor.Type;
        var w = _writer;
        w.WriteStartObject();
        var omit = r.Bad == MalformedKind.MissingField ? r.Noise % 3 : -1;
        if (omit != 0)
        {
            w.WriteString(SensorIdName, sensor.Id);
        }
        w.WriteString(AssetIdName, _assets[sensor.Asset].Id);
        w.WriteString(SensorTypeName, type.EncodedName);
        w.WriteString(UnitName, type.EncodedUnit);
        if (omit != 1)
        {
            var ts = r.Bad == MalformedKind.FutureTimestamp ? r.Timestamp + (3650L * 86_400_000) : r.Timestamp;
            if (sensor.EpochMillis)
            {
                w.WriteNumber(TsName, ts);
            }
            else
            {
                w.WriteString(TsName, DateTime.UnixEpoch.AddMilliseconds(ts));
            }
        }
        var outOfRangeQuality = r.Bad == MalformedKind.OutOfRange && r.Noise % 2 == 1;
        if (omit != 2)
        {
            if (r.Bad == MalformedKind.NonFiniteValue)
            {
                w.WriteString(ValueName, NonFinite[r.Noise % NonFinite.Length]);
            }
            else if (r.Bad == MalformedKind.OutOfRange && !outOfRangeQuality)
            {
                w.WriteNumber(ValueName, type.ImpossibleValue);
            }
            else
            {
                w.WriteNumber(ValueName, r.Value);
            }
        }
        w.WriteNumber(QualityName, outOfRangeQuality ? 1.5 : r.Quality);
        w.WriteNumber(SeqName, r.Seq);
        w.WriteEndObject();
    }

    /// <summary>Turns the reading just written into one of three kinds of non-JSON.</summary>
    private ReadOnlyMemory<byte> Corrupt(int noise)
    {
        var written = _buffer.WrittenCount;
        switch (noise % 3)
        {
            case 0:
                // Truncated in the middle: cut before the closing brace, so it can never be valid.
                return _buffer.WrittenMemory[..Math.Max(1, (written / 2) + (noise % (written / 4 + 1)))];
            case 1:
                _buffer.Write("}}garbage"u8);
                return _buffer.WrittenMemory;
            default:
                _buffer.ResetWrittenCount();
                _buffer.Write("sensor=broken;value=1.0;unit=none"u8);
                return _buffer.WrittenMemory;
        }
    }

    private readonly record struct PendingReading(int Sensor, long Timestamp, double Value, double Quality, long Seq, MalformedKind? Bad, int Noise);

    private sealed record SensorType(string Name, string Unit, double BaseLow, double BaseHigh, double Noise, double DailyAmplitude, double DriftPerHour, double ImpossibleValue)
    {
        public JsonEncodedText EncodedName { get; } = JsonEncodedText.Encode(Name);
        public JsonEncodedText EncodedUnit { get; } = JsonEncodedText.Encode(Unit);
    }

    private sealed class Sensor(JsonEncodedText id, byte[] keyBytes, SensorType type, int asset)
    {
        public JsonEncodedText Id { get; } = id;
        public byte[] KeyBytes { get; } = keyBytes;
        public SensorType Type { get; } = type;
        public int Asset { get; } = asset;
        public double Base { get; init; }
        public double DriftPerMs { get; init; }
        public double Phase { get; init; }
        public bool EpochMillis { get; init; }
        public long Seq { get; set; }
        public double LastValue { get; set; }
        public AnomalyKind Episode { get; set; }
        public int EpisodeLeft { get; set; }
        public double EpisodeOffset { get; set; }
        public double StuckValue { get; set; }
    }

    private sealed class Asset(JsonEncodedText id, byte[] keyBytes, int batch)
    {
        public JsonEncodedText Id { get; } = id;
        public byte[] KeyBytes { get; } = keyBytes;
        public PendingReading[] Pending { get; } = new PendingReading[batch];
        public int Count { get; set; }
    }
}
