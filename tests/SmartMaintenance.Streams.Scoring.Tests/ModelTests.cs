using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Scoring.Models;
using Xunit;

namespace SmartMaintenance.Streams.Scoring.Tests;

public sealed class ModelTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "smstream-models-" + Guid.NewGuid().ToString("N"));

    /// <summary>Window features of normal windows (correlated: a sensor around 50) and, when asked, anomalous ones.</summary>
    private static TrainingSet Data(int n, bool withAnomalies, int seed = 3)
    {
        var rng = new Random(seed);
        var rows = new List<float[]>();
        var labels = new List<bool>();
        for (var i = 0; i < n; i++)
        {
            var anomalous = withAnomalies && i % 10 == 0;
            var mean = 50 + (rng.NextDouble() * 4) - 2;
            var sd = anomalous ? 6 + (rng.NextDouble() * 3) : 1 + (rng.NextDouble() * 0.3);
            var f = Features(mean, sd, rng.NextDouble() - 0.5);
            for (var j = 0; j < f.Length; j++)
            {
                f[j] += (float)((rng.NextDouble() - 0.5) * 0.1); // independent jitter: real aggregates are not exactly collinear
            }
            rows.Add(f);
            labels.Add(anomalous);
        }
        return new TrainingSet(rows, withAnomalies ? labels : null, DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch.AddDays(1));
    }

    private static float[] Features(double mean, double sd, double drift) =>
        [(float)mean, (float)sd, (float)(mean - (2.5 * sd)), (float)(mean + (2.5 * sd)), (float)mean, (float)(mean + (1.6 * sd)), (float)(mean + (2.3 * sd)), (float)drift];

    [Fact]
    public void FastTree_exported_to_onnx_scores_like_mlnet_within_1e_4()
    {
        var trainer = new ModelTrainer();
        var data = Data(1500, withAnomalies: true);
        var (onnx, metrics, model) = trainer.TrainFastTree(data);
        Assert.True(metrics["holdout_auc"] > 0.9);
        var path = Path.Combine(Directory.CreateDirectory(_dir).FullName, "ft.onnx");
        File.WriteAllBytes(path, onnx);

        var probe = Data(301, withAnomalies: true, seed: 11).Features;
        var expected = trainer.PredictFastTree(model, probe);
        using var scorer = new OnnxScorer("ft", path, "Features", "Probability.output", batchSize: 64);
        var flat = probe.SelectMany(f => f).ToArray();
        var actual = new float[probe.Count];
        scorer.Score(flat, probe.Count, actual); // 4 full batches of 64 and a tail of 45
        for (var i = 0; i < probe.Count; i++)
        {
            Assert.InRange(actual[i] - expected[i], -1e-4f, 1e-4f);
        }
    }

    [Fact]
    public void Native_pca_artefact_scores_like_mlnet_randomized_pca_within_1e_4()
    {
        var trainer = new ModelTrainer();
        var data = Data(1000, withAnomalies: false);
        var (artefact, metrics, model) = trainer.TrainPca(data, rank: 3);
        Assert.Equal(3, metrics["rank"]);
        var probe = Data(200, withAnomalies: true, seed: 5).Features;
        var expected = trainer.PredictPca(model, artefact, probe);
        var scorer = new PcaScorer("pca", artefact);
        // ML.NET computes in float32; the artefact in double. Agreement within 5e-4 absolute on a [0,1] error.
        for (var i = 0; i < probe.Count; i++)
        {
            Assert.InRange(scorer.RawScore(probe[i]) - expected[i], -5e-4, 5e-4);
        }
        // Calibrated: a typical window scores below 0.5, one whose maximum breaks the correlations above.
        var normal = Features(50, 1, 0);
        var broken = Features(50, 1, 0);
        broken[3] = 80;
        var scores = new float[2];
        scorer.Score([.. normal, .. broken], 2, scores);
        Assert.InRange(scores[0], 0f, 0.5f);
        Assert.InRange(scores[1], 0.5f, 1f);
    }

    [Fact]
    public void Provider_hot_reloads_new_versions_and_keeps_the_old_one_when_the_new_file_is_corrupt()
    {
        var trainer = new ModelTrainer();
        using var provider = new ModelProvider(_dir);
        Assert.False(provider.TryGetScorer("pump", out _)); // fallback: no model directory yet

        var v1 = trainer.TrainAndWrite(ModelKinds.Pca, Data(300, false), "pump-pca", 1, "pump", _dir);
        Assert.True(provider.Poll() > 0);
        Assert.True(provider.TryGetScorer("pump", out var s1));
        Assert.Equal(v1.Metadata.ModelId, s1.ModelId);
        Assert.False(provider.TryGetScorer("fan", out _));

        // v2: metadata fine, model file garbage → rejected, v1 stays.
        var v2 = trainer.TrainAndWrite(ModelKinds.Pca, Data(300, false, seed: 9), "pump-pca", 2, "pump", _dir);
        File.WriteAllText(v2.ModelPath, "{ not json");
        provider.Poll();
        Assert.True(provider.TryGetScorer("pump", out var still));
        Assert.Equal(v1.Metadata.ModelId, still.ModelId);

        // v3: a corrupt ONNX file → rejected as well.
        var v3 = trainer.TrainAndWrite(ModelKinds.FastTree, Data(500, true), "pump-ft", 3, "pump", _dir);
        File.WriteAllBytes(v3.ModelPath, [1, 2, 3, 4]);
        provider.Poll();
        Assert.True(provider.TryGetScorer("pump", out still));
        Assert.Equal(v1.Metadata.ModelId, still.ModelId);

        // v4: a good ONNX model → picked up without restart.
        var v4 = trainer.TrainAndWrite(ModelKinds.FastTree, Data(500, true), "pump-ft", 4, "pump", _dir);
        provider.Poll();
        Assert.True(provider.TryGetScorer("pump", out var s4));
        Assert.Equal(v4.Metadata.ModelId, s4.ModelId);
        Assert.Equal(4, provider.ActiveModels["pump"].Version);

        // All model files removed → fallback to the statistical detectors.
        foreach (var f in Directory.GetFiles(_dir))
        {
            File.Delete(f);
        }
        provider.Poll();
        Assert.False(provider.TryGetScorer("pump", out _));
    }

    [Fact]
    public void Provider_rejects_a_model_whose_features_do_not_match_the_contract()
    {
        var trainer = new ModelTrainer();
        var v1 = trainer.TrainAndWrite(ModelKinds.Pca, Data(300, false), "m", 1, null, _dir);
        var meta = ModelMetadata.Read(v1.MetadataPath) with { Features = ["mean", "max"] };
        meta.Write(v1.MetadataPath);
        using var provider = new ModelProvider(_dir);
        Assert.False(provider.TryGetScorer("any", out _));
    }

    [Fact]
    public void Provider_does_not_retry_a_rejected_model_until_its_files_change()
    {
        var trainer = new ModelTrainer();
        var v1 = trainer.TrainAndWrite(ModelKinds.Pca, Data(300, false), "m", 1, "pump", _dir);
        File.WriteAllText(v1.ModelPath, "garbage");
        File.WriteAllText(Path.Combine(_dir, "broken.meta.json"), "{");
        using var provider = new ModelProvider(_dir);
        Assert.False(provider.TryGetScorer("pump", out _));
        Assert.Equal(0, provider.Poll()); // nothing changed: no new transition, no repeated warning
        Assert.Equal(0, provider.Poll());

        trainer.TrainAndWrite(ModelKinds.Pca, Data(300, false), "m", 1, "pump", _dir); // same version, fixed file
        Assert.Equal(1, provider.Poll());
        Assert.True(provider.TryGetScorer("pump", out _));
    }

    [Fact]
    public void Provider_timer_picks_up_a_model_dropped_in_while_running()
    {
        using var provider = new ModelProvider(_dir, pollInterval: TimeSpan.FromMilliseconds(50));
        Assert.False(provider.TryGetScorer(null, out _));
        new ModelTrainer().TrainAndWrite(ModelKinds.Pca, Data(300, false), "m", 1, null, _dir);
        var deadline = DateTime.UtcNow.AddSeconds(20);
        IModelScorer? scorer = null;
        while (DateTime.UtcNow < deadline && !provider.TryGetScorer("anything", out scorer))
        {
            Thread.Sleep(20);
        }
        Assert.NotNull(scorer);
    }

    [Fact]
    public void Pipeline_uses_the_model_for_windows_when_one_is_loaded()
    {
        new ModelTrainer().TrainAndWrite(ModelKinds.Pca, Data(1000, false), "pump-pca", 1, "pump", _dir);
        using var provider = new ModelProvider(_dir);
        var options = new ScoringOptions();
        options.Defaults.WarmupReadings = 1000; // statistical window detectors stay silent: only the model can fire
        var pipeline = new DetectorPipeline(options, provider);
        var rng = new Random(1);
        for (var i = 0; i < 50; i++)
        {
            var normal = Window(i, 50 + rng.NextDouble(), 1, "pump");
            Assert.False(pipeline.ProcessWindow(normal, out _));
        }
        // Mean and percentiles normal, but a maximum far above p99: only the feature correlations say this is wrong.
        Assert.True(pipeline.ProcessWindow(Window(50, 50, 1, "pump") with { Max = 80 }, out var anomaly));
        Assert.Equal("window/model", anomaly!.Detector);
        Assert.Contains("pump-pca.v1", anomaly.Evidence, StringComparison.Ordinal);
        // A sensor type without a model falls back to the statistical detectors (silent while warming up).
        Assert.False(pipeline.ProcessWindow(Window(51, 50, 1, "fan") with { Max = 80 }, out _));
    }

    [Fact]
    public void Batch_window_scoring_gives_the_same_anomalies_as_one_at_a_time()
    {
        new ModelTrainer().TrainAndWrite(ModelKinds.Pca, Data(1000, false), "pump-pca", 1, "pump", _dir);
        using var provider = new ModelProvider(_dir);
        var options = new ScoringOptions();
        options.Defaults.WarmupReadings = 20;
        options.SensorTypes["fan"] = new DetectorOptions { WarmupReadings = 20, RangeMax = 70 };
        var single = new DetectorPipeline(options, provider);
        var batched = new DetectorPipeline(options, provider);
        var rng = new Random(2);
        var windows = new List<WindowAggregate>();
        for (var i = 0; i < 60; i++)
        {
            windows.Add(Window(i, 50 + rng.NextDouble(), 1, "pump") with { SensorId = "p1" });
            windows.Add(Window(i, 50 + rng.NextDouble(), 1, "fan") with { SensorId = "f1" });
        }
        windows[80] = windows[80] with { Max = 80 }; // pump (even index): model fires
        windows[91] = windows[91] with { Max = 80 }; // fan (odd index): range rule fires
        var expected = new List<Anomaly>();
        foreach (var w in windows)
        {
            if (single.ProcessWindow(w, out var a))
            {
                expected.Add(a!);
            }
        }
        var actual = new List<Anomaly>();
        for (var i = 0; i < windows.Count; i += 40)
        {
            batched.ProcessWindows(windows.GetRange(i, 40), actual);
        }
        Assert.Equal(expected, actual);
        Assert.Contains(actual, a => a.Detector == "window/model" && a.SensorId == "p1");
        Assert.Contains(actual, a => a.Detector == "window/range" && a.SensorId == "f1");
    }

    private static WindowAggregate Window(int i, double mean, double sd, string type)
    {
        var f = Features(mean, sd, 0);
        return new WindowAggregate("s-" + type, "1m", i * 60_000L, (i + 1) * 60_000L, 60, mean * 60, f[2], f[3], mean, sd, mean, mean, f[4], f[5], f[6], 0, true, SensorType: type);
    }

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }
}
