using BenchmarkDotNet.Attributes;
using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Scoring;
using SmartMaintenance.Streams.Scoring.Models;

namespace SmartMaintenance.Streams.Benchmarks;

/// <summary>
/// Statistical detector throughput per reading, against a bare loop computing a plain z-score per sensor.
/// `dotnet run -c Release --project perf/SmartMaintenance.Streams.Benchmarks -- --filter '*ScoringDetector*' --job short`
/// </summary>
[MemoryDiagnoser]
[ShortRunJob]
public class ScoringDetectorBenchmarks
{
    private const int Sensors = 100;
    private const int Readings = 100_000;
    private SensorReading[] _readings = [];
    private DetectorPipeline _full = null!;
    private DetectorPipeline _noContext = null!;
    private DetectorPipeline _noSeasonal = null!;
    private double[] _sum = [];
    private double[] _sumSq = [];
    private long[] _count = [];
    private int[] _sensorIndex = [];

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(1);
        var ids = Enumerable.Range(0, Sensors).Select(i => string.Intern($"sensor-{i}")).ToArray();
        _readings = new SensorReading[Readings];
        _sensorIndex = new int[Readings];
        for (var i = 0; i < Readings; i++)
        {
            var s = i % Sensors;
            _sensorIndex[i] = s;
            _readings[i] = new SensorReading(ids[s], 1_700_000_000_000 + (i * 1000L), 50 + (10 * Math.Sin(i / 500.0)) + rng.NextDouble());
        }
        _full = new DetectorPipeline(new ScoringOptions());
        var options = new ScoringOptions();
        options.Defaults.ContextWeight = 0;
        _noContext = new DetectorPipeline(options);
        var withoutSeasonal = new ScoringOptions();
        withoutSeasonal.Defaults.SeasonalWeight = 0;
        _noSeasonal = new DetectorPipeline(withoutSeasonal);
        _sum = new double[Sensors];
        _sumSq = new double[Sensors];
        _count = new long[Sensors];
        // Warm every sensor until both context rings are full size (14 × 1,000 readings per sensor > 271 points
        // × stride 48) so the measured path is the steady state.
        for (var k = 0; k < 14; k++)
        {
            Full();
            WithoutContext();
            WithoutSeasonal();
        }
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Readings, Description = "bare z-score loop")]
    public int BareZScore()
    {
        var flagged = 0;
        for (var i = 0; i < _readings.Length; i++)
        {
            var s = _sensorIndex[i];
            var x = _readings[i].Value;
            var n = ++_count[s];
            _sum[s] += x;
            _sumSq[s] += x * x;
            var mean = _sum[s] / n;
            var sd = Math.Sqrt(Math.Max(1e-12, (_sumSq[s] / n) - (mean * mean)));
            if (Math.Abs(x - mean) / sd > 5)
            {
                flagged++;
            }
        }
        return flagged;
    }

    [Benchmark(OperationsPerInvoke = Readings, Description = "DetectorPipeline.Process (all detectors)")]
    public int Full()
    {
        var fired = 0;
        foreach (ref readonly var r in _readings.AsSpan())
        {
            if (_full.Process(r, out _))
            {
                fired++;
            }
        }
        return fired;
    }

    [Benchmark(OperationsPerInvoke = Readings, Description = "DetectorPipeline.Process (context off)")]
    public int WithoutContext()
    {
        var fired = 0;
        foreach (ref readonly var r in _readings.AsSpan())
        {
            if (_noContext.Process(r, out _))
            {
                fired++;
            }
        }
        return fired;
    }

    [Benchmark(OperationsPerInvoke = Readings, Description = "DetectorPipeline.Process (seasonal off)")]
    public int WithoutSeasonal()
    {
        var fired = 0;
        foreach (ref readonly var r in _readings.AsSpan())
        {
            if (_noSeasonal.Process(r, out _))
            {
                fired++;
            }
        }
        return fired;
    }
}

/// <summary>
/// Model scoring throughput per row: OnnxRuntime (FastTree, 100 trees, 8 features) at several micro-batch sizes,
/// against batch size 1 in the same run, and the native PCA artefact.
/// `dotnet run -c Release --project perf/SmartMaintenance.Streams.Benchmarks -- --filter '*ScoringModel*' --job short`
/// </summary>
[MemoryDiagnoser]
[ShortRunJob]
public class ScoringModelBenchmarks
{
    private const int Rows = 4096;
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "smstream-bench-" + Environment.ProcessId);
    private float[] _features = [];
    private float[] _scores = [];
    private OnnxScorer _batch1 = null!;
    private OnnxScorer _batch64 = null!;
    private OnnxScorer _batch256 = null!;
    private OnnxScorer _batch1024 = null!;
    private PcaScorer _pca = null!;

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(2);
        var rows = new List<float[]>();
        var labels = new List<bool>();
        for (var i = 0; i < 2000; i++)
        {
            var anomalous = i % 10 == 0;
            var sd = anomalous ? 6 + (3 * rng.NextDouble()) : 1 + (0.3 * rng.NextDouble());
            var m = 50 + (4 * rng.NextDouble());
            rows.Add([(float)m, (float)sd, (float)(m - (2.5 * sd)), (float)(m + (2.5 * sd)), (float)m, (float)(m + (1.6 * sd)), (float)(m + (2.3 * sd)), (float)(rng.NextDouble() - 0.5)]);
            labels.Add(anomalous);
        }
        var data = new TrainingSet(rows, labels, null, null);
        var trainer = new ModelTrainer();
        var ft = trainer.TrainAndWrite(ModelKinds.FastTree, data, "bench-ft", 1, null, _dir);
        var pca = trainer.TrainAndWrite(ModelKinds.Pca, data with { Labels = null }, "bench-pca", 1, null, _dir);
        _batch1 = new OnnxScorer("b1", ft.ModelPath, batchSize: 1);
        _batch64 = new OnnxScorer("b64", ft.ModelPath, batchSize: 64);
        _batch256 = new OnnxScorer("b256", ft.ModelPath, batchSize: 256);
        _batch1024 = new OnnxScorer("b1024", ft.ModelPath, batchSize: 1024);
        _pca = PcaScorer.Load("pca", pca.ModelPath);
        _features = new float[Rows * WindowFeatures.Count];
        for (var i = 0; i < Rows; i++)
        {
            rows[i % rows.Count].CopyTo(_features, i * WindowFeatures.Count);
        }
        _scores = new float[Rows];
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _batch1.Dispose();
        _batch64.Dispose();
        _batch256.Dispose();
        _batch1024.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Rows, Description = "ONNX FastTree, batch 1")]
    public void Batch1() => _batch1.Score(_features, Rows, _scores);

    [Benchmark(OperationsPerInvoke = Rows, Description = "ONNX FastTree, batch 64")]
    public void Batch64() => _batch64.Score(_features, Rows, _scores);

    [Benchmark(OperationsPerInvoke = Rows, Description = "ONNX FastTree, batch 256")]
    public void Batch256() => _batch256.Score(_features, Rows, _scores);

    [Benchmark(OperationsPerInvoke = Rows, Description = "ONNX FastTree, batch 1024")]
    public void Batch1024() => _batch1024.Score(_features, Rows, _scores);

    [Benchmark(OperationsPerInvoke = Rows, Description = "native PCA artefact (rank 3)")]
    public void Pca() => _pca.Score(_features, Rows, _scores);
}
