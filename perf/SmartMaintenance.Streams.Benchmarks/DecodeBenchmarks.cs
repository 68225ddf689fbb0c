using System.Globalization;
using System.Text;
using BenchmarkDotNet.Attributes;
using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Ingest;

namespace SmartMaintenance.Streams.Benchmarks;

/// <summary>Shared payloads: 1,000 sensors, realistic readings (all optional fields), timestamps near now.</summary>
internal static class DecodePayloads
{
    public const int Sensors = 1_000;

    public static string Reading(int sensor, long tsMs, bool epoch, int seq) =>
        string.Create(CultureInfo.InvariantCulture,
            $"{{\"sensor_id\":\"pump-{sensor:D4}.vibration\",\"ts\":{(epoch ? tsMs.ToString(CultureInfo.InvariantCulture) : "\"" + DateTimeOffset.FromUnixTimeMilliseconds(tsMs).ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture) + "\"")}," +
            $"\"value\":{3 + (sensor % 7 * 0.01):F3},\"asset_id\":\"pump-{sensor:D4}\",\"sensor_type\":\"vibration\",\"unit\":\"mm/s\",\"quality\":0.98,\"seq\":{seq}}}");

    public static byte[][] Singles(int count, bool epoch)
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - 60_000;
        var list = new byte[count][];
        for (var i = 0; i < count; i++)
        {
            list[i] = Encoding.UTF8.GetBytes(Reading(i % Sensors, now + i, epoch, i));
        }
        return list;
    }

    public static byte[][] Envelopes(int count, int perEnvelope, bool epoch)
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - 60_000;
        var list = new byte[count][];
        var n = 0;
        for (var e = 0; e < count; e++)
        {
            var sb = new StringBuilder("{\"readings\":[");
            for (var i = 0; i < perEnvelope; i++, n++)
            {
                sb.Append(i == 0 ? "" : ",").Append(Reading(n % Sensors, now + n, epoch, n));
            }
            list[e] = Encoding.UTF8.GetBytes(sb.Append("]}").ToString());
        }
        return list;
    }
}

/// <summary>ReadingDecoder on valid input: ns and bytes allocated per reading, single readings vs 100-reading envelopes.
/// Ids are interned in GlobalSetup (every sensor seen once), so the goal is 0 B/reading.</summary>
/// <remarks><c>dotnet run -c Release --project perf/SmartMaintenance.Streams.Benchmarks -- --filter '*DecodeBenchmarks*' --job short</c></remarks>
[MemoryDiagnoser]
public class DecodeBenchmarks
{
    private const int Readings = 1_000;
    private readonly List<SensorReading> _readings = new(128);
    private readonly List<Rejection> _rejects = [];
    private ReadingDecoder _decoder = null!;
    private byte[][] _singles = [];
    private byte[][] _envelopes = [];

    [Params(false, true)]
    public bool EpochMillis { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _decoder = new ReadingDecoder(new ValidationOptions());
        _singles = DecodePayloads.Singles(Readings, EpochMillis);
        _envelopes = DecodePayloads.Envelopes(Readings / 100, 100, EpochMillis);
        // Intern every id once, as a running engine has.
        SingleReadings();
        Envelopes();
    }

    [Benchmark(OperationsPerInvoke = Readings, Description = "single readings, per reading")]
    public int SingleReadings()
    {
        var n = 0;
        for (var i = 0; i < _singles.Length; i++)
        {
            _readings.Clear();
            _rejects.Clear();
            n += _decoder.Decode(_singles[i], new SourcePosition(0, i, 0), _readings, _rejects);
        }
        return n;
    }

    [Benchmark(OperationsPerInvoke = Readings, Description = "100-reading envelopes, per reading")]
    public int Envelopes()
    {
        var n = 0;
        for (var i = 0; i < _envelopes.Length; i++)
        {
            _readings.Clear();
            _rejects.Clear();
            n += _decoder.Decode(_envelopes[i], new SourcePosition(0, i, 0), _readings, _rejects);
        }
        return n;
    }
}
