using BenchmarkDotNet.Attributes;
using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Prediction.Cmapss;
using SmartMaintenance.Streams.Prediction.Rul;
using SmartMaintenance.Streams.Prediction.Training;
using SmartMaintenance.Streams.Scoring;

namespace SmartMaintenance.Streams.Benchmarks;

/// <summary>
/// In-stream RUL cost per reading (cycle assembly, features, one ONNX call per cycle) on the FD001 test split,
/// against the engine's statistical detectors on the same readings.
/// `dotnet run -c Release --project perf/SmartMaintenance.Streams.Benchmarks -- --filter '*RulScoring*' --job short`
/// </summary>
[MemoryDiagnoser]
[ShortRunJob]
public class RulScoringBenchmarks
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "smstream-rul-bench-" + Guid.NewGuid().ToString("N"));
    private SensorReading[] _readings = [];
    private RulModel _model = null!;
    private DetectorPipeline _detectors = null!;

    [GlobalSetup]
    public void Setup()
    {
        var data = CmapssData.VendoredFd001();
        var trained = RulTraining.TrainAndWrite(CmapssData.Read(Path.Combine(data, "train_FD001.txt")), new RulFeatureSpec(),
            new RulTrainerOptions { Folds = 2 }, _dir, "rul-bench", 1);
        _model = RulModel.Load(trained.MetadataPath);
        var readings = new CmapssReadings("bench", CmapssEvaluator.ReplayStart, TimeSpan.FromMinutes(1));
        var list = new List<SensorReading>();
        foreach (var unit in CmapssData.Read(Path.Combine(data, "test_FD001.txt")))
        {
            foreach (var row in unit.Rows)
            {
                readings.Cycle(unit.Unit, row, list);
            }
        }
        _readings = [.. list];
        _detectors = new DetectorPipeline(new ScoringOptions());
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _model.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    /// <summary>The readings of the FD001 test split (100 engines × their cycles × 25 channels).</summary>
    public const int ReadingsPerInvoke = 327_400;

    [Benchmark(Baseline = true, OperationsPerInvoke = ReadingsPerInvoke, Description = "statistical detectors")]
    public int Detectors()
    {
        var fired = 0;
        foreach (ref readonly var r in _readings.AsSpan())
        {
            if (_detectors.Process(r, out _))
            {
                fired++;
            }
        }
        return fired;
    }

    [Benchmark(OperationsPerInvoke = ReadingsPerInvoke, Description = "RUL predictor (assembly, features, ONNX)")]
    public double Rul()
    {
        // A fresh predictor per pass: the split's timestamps repeat, and a closed cycle's readings would be ignored.
        var predictor = new RulPredictor(_model);
        var sum = 0.0;
        foreach (ref readonly var r in _readings.AsSpan())
        {
            if (predictor.OnReading(r, out var e))
            {
                sum += e.Rul;
            }
        }
        return sum;
    }
}
