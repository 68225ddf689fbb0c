using BenchmarkDotNet.Attributes;
using SmartMaintenance.Streams.Windowing;
using SmartMaintenance.Streams.Alerting;
using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Engine.Stages;
using SmartMaintenance.Streams.Ingest;
using SmartMaintenance.Streams.Scoring;

namespace SmartMaintenance.Streams.Benchmarks;

/// <summary>The engine's per-reading work without Kafka or the database: decode + validate, then the processing
/// stages as `smstream run` wires them (dedup/tumbling windows → detectors → alert tracker), a batch boundary every
/// 1,000 readings. Event time advances from one invocation to the next, so windows close and nothing is a duplicate.</summary>
/// <remarks><c>dotnet run -c Release --project perf/SmartMaintenance.Streams.Benchmarks -- --filter '*PipelineBenchmarks*' --job short</c></remarks>
[MemoryDiagnoser]
public class PipelineBenchmarks
{
    private const int Readings = 1_000;
    private readonly List<SensorReading> _decoded = new(128);
    private readonly List<Rejection> _rejects = [];
    private readonly StageOutputs _outputs = new();
    private ReadingDecoder _decoder = null!;
    private IProcessingStages _stages = null!;
    private byte[][] _messages = [];
    private SensorReading[] _template = [];
    private long _shift;

    [Params(100, 10_000)]
    public int Sensors { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _decoder = new ReadingDecoder(new ValidationOptions());
        _stages = new PipelineStages(new RxWindowStage(new WindowingSettings()), new DetectorPipeline(new ScoringOptions()), new AlertTracker(new AlertOptions()));
        _messages = DecodePayloads.Singles(Readings, epoch: false);
        _template = new SensorReading[Readings];
        var start = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - 3_600_000;
        for (var i = 0; i < Readings; i++)
        {
            _decoded.Clear();
            _decoder.Decode(_messages[i], new SourcePosition(0, i, 0), _decoded, _rejects);
            var r = _decoded[0];
            var sensor = $"pump-{i % Sensors:D5}.vibration";
            _template[i] = r with { SensorId = sensor, Timestamp = start + i, Seq = i };
        }
    }

    [Benchmark(OperationsPerInvoke = Readings, Description = "decode + validate, per reading")]
    public int Decode()
    {
        var n = 0;
        for (var i = 0; i < _messages.Length; i++)
        {
            _decoded.Clear();
            _rejects.Clear();
            n += _decoder.Decode(_messages[i], new SourcePosition(0, i, 0), _decoded, _rejects);
        }
        return n;
    }

    [Benchmark(OperationsPerInvoke = Readings, Description = "window + score + alert stages, per reading")]
    public int Stages()
    {
        // Each invocation is the next 1,000 ms of event time for every sensor.
        var shift = (_shift += Readings);
        var kept = 0;
        for (var i = 0; i < _template.Length; i++)
        {
            var t = _template[i];
            var r = t with { Timestamp = t.Timestamp + shift, Seq = t.Seq + shift };
            if (_stages.OnReading(r, replaying: false, _outputs, out _) == RejectReason.None)
            {
                kept++;
            }
        }
        _stages.OnBatchBoundary(_outputs);
        _outputs.Clear();
        return kept;
    }
}
