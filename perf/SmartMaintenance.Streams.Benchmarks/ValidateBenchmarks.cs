using System.Globalization;
using System.Text;
using BenchmarkDotNet.Attributes;
using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Ingest;

namespace SmartMaintenance.Streams.Benchmarks;

/// <summary>The validation paths of ReadingDecoder: readings that pass every check (range table included) vs readings
/// rejected for each common reason, ns and bytes per reading. A rejected reading costs a Rejection entry, never an exception.</summary>
/// <remarks><c>dotnet run -c Release --project perf/SmartMaintenance.Streams.Benchmarks -- --filter '*ValidateBenchmarks*' --job short</c></remarks>
[MemoryDiagnoser]
public class ValidateBenchmarks
{
    private const int Readings = 1_000;
    private readonly List<SensorReading> _readings = new(128);
    private readonly List<Rejection> _rejects = new(128);
    private ReadingDecoder _decoder = null!;
    private byte[][] _messages = [];

    public enum Case
    {
        Valid,
        MissingValue,
        NonFinite,
        QualityOutOfRange,
        ValueOutOfTypeRange,
        FutureTimestamp,
        BrokenJson,
    }

    [Params(Case.Valid, Case.MissingValue, Case.NonFinite, Case.QualityOutOfRange, Case.ValueOutOfTypeRange, Case.FutureTimestamp, Case.BrokenJson)]
    public Case Input { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _decoder = new ReadingDecoder(new ValidationOptions());
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        _messages = new byte[Readings][];
        for (var i = 0; i < Readings; i++)
        {
            var id = string.Create(CultureInfo.InvariantCulture, $"pump-{i % DecodePayloads.Sensors:D4}.temp");
            var ts = Input == Case.FutureTimestamp ? now + 3_600_000 : now - 60_000 + i;
            var json = Input switch
            {
                Case.MissingValue => $"{{\"sensor_id\":\"{id}\",\"ts\":{ts},\"sensor_type\":\"temperature\"}}",
                Case.NonFinite => $"{{\"sensor_id\":\"{id}\",\"ts\":{ts},\"value\":\"NaN\",\"sensor_type\":\"temperature\"}}",
                Case.QualityOutOfRange => $"{{\"sensor_id\":\"{id}\",\"ts\":{ts},\"value\":70.5,\"sensor_type\":\"temperature\",\"quality\":7}}",
                Case.ValueOutOfTypeRange => $"{{\"sensor_id\":\"{id}\",\"ts\":{ts},\"value\":-9000,\"sensor_type\":\"temperature\"}}",
                Case.BrokenJson => $"{{\"sensor_id\":\"{id}\",\"ts\":{ts},\"value\":70.",
                _ => $"{{\"sensor_id\":\"{id}\",\"ts\":{ts},\"value\":70.5,\"sensor_type\":\"temperature\",\"unit\":\"°C\",\"quality\":0.9}}",
            };
            _messages[i] = Encoding.UTF8.GetBytes(json);
        }
        Decode();
    }

    [Benchmark(OperationsPerInvoke = Readings, Description = "per reading")]
    public int Decode()
    {
        var n = 0;
        for (var i = 0; i < _messages.Length; i++)
        {
            _readings.Clear();
            _rejects.Clear();
            n += _decoder.Decode(_messages[i], new SourcePosition(0, i, 0), _readings, _rejects) + _rejects.Count;
        }
        return n;
    }
}
