using System.Globalization;
using System.Security.Cryptography;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers;

namespace SmartMaintenance.Streams.Scoring.Models;

/// <summary>A trained model written to the model directory (model file + *.meta.json).</summary>
public sealed record TrainedModel(ModelMetadata Metadata, string ModelPath, string MetadataPath);

/// <summary>Training input: window-aggregate feature rows (<see cref="WindowFeatures"/> order) and the range they cover.</summary>
public sealed record TrainingSet(IReadOnlyList<float[]> Features, IReadOnlyList<bool>? Labels, DateTimeOffset? From, DateTimeOffset? To)
{
    /// <summary>SHA-256 over the feature values (and labels), so a registry row says exactly which data trained it.</summary>
    public string DataHash()
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<byte> buffer = stackalloc byte[4];
        foreach (var row in Features)
        {
            foreach (var v in row)
            {
                System.Buffers.Binary.BinaryPrimitives.WriteSingleLittleEndian(buffer, v);
                hash.AppendData(buffer);
            }
        }
        if (Labels is not null)
        {
            foreach (var l in Labels)
            {
                hash.AppendData(l ? [1] : [0]);
            }
        }
        return "sha256:" + Convert.ToHexStringLower(hash.GetHashAndReset());
    }
}

/// <summary>
/// Trains models on window-aggregate features with ML.NET: a randomized-PCA anomaly detector (unsupervised,
/// written as a native JSON artefact because ML.NET cannot export PCA to ONNX) and, when labels exist, a
/// supervised FastTree classifier exported to ONNX.
/// </summary>
public sealed class ModelTrainer(int seed = 1)
{
    private readonly MLContext _ml = new(seed);

    private sealed class Row
    {
        [VectorType(WindowFeatures.Count)] public float[] Features { get; set; } = [];
        public bool Label { get; set; }
    }

    private sealed class FeaturesOnly
    {
        [VectorType(WindowFeatures.Count)] public float[] Features { get; set; } = [];
    }

    private sealed class PcaOutput
    {
        public float Score { get; set; }
    }

    private sealed class BinaryOutput
    {
        public float Probability { get; set; }
    }

    /// <summary>Trains randomized PCA on standardized features; the artefact's threshold is the 99.5th percentile of training errors.</summary>
    public (PcaArtefact Artefact, IReadOnlyDictionary<string, double> Metrics, ITransformer Model) TrainPca(TrainingSet data, int rank = 3)
    {
        ArgumentNullException.ThrowIfNull(data);
        Check(data.Features);
        rank = Math.Clamp(rank, 1, WindowFeatures.Count - 1);
        var (offset, scale) = Standardization(data.Features);
        var rows = data.Features.Select(f => new FeaturesOnly { Features = Standardize(f, offset, scale) }).ToList();
        var view = _ml.Data.LoadFromEnumerable(rows);
        var model = _ml.AnomalyDetection.Trainers.RandomizedPca("Features", rank: rank, ensureZeroMean: true, seed: 1).Fit(view);
        var parameters = model.Model;
        VBuffer<float>[] vectors = [];
        parameters.GetEigenVectors(ref vectors, out var actualRank);
        VBuffer<float> mean = default;
        parameters.GetMean(ref mean);
        var artefact = new PcaArtefact
        {
            Offset = offset,
            Scale = scale,
            Mean = mean.DenseValues().ToArray(),
            EigenVectors = [.. vectors.Take(actualRank).Select(v => v.DenseValues().ToArray())],
            Threshold = 1,
        };
        var probe = new PcaScorer("probe", artefact);
        var errors = data.Features.Select(f => probe.RawScore(f)).Order().ToArray();
        var threshold = Math.Max(1e-6, Quantile(errors, 0.995));
        artefact = artefact with { Threshold = threshold };
        var metrics = new Dictionary<string, double>(StringComparer.Ordinal)
        {
            ["rows"] = data.Features.Count,
            ["rank"] = actualRank,
            ["error_p50"] = Quantile(errors, 0.5),
            ["error_p99"] = Quantile(errors, 0.99),
            ["threshold"] = threshold,
        };
        return (artefact, metrics, model);
    }

    /// <summary>ML.NET's own PCA scores for rows (standardized as the artefact does), to check the native scorer.</summary>
    public float[] PredictPca(ITransformer model, PcaArtefact artefact, IReadOnlyList<float[]> features)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(artefact);
        ArgumentNullException.ThrowIfNull(features);
        var view = _ml.Data.LoadFromEnumerable(features.Select(f => new FeaturesOnly { Features = Standardize(f, artefact.Offset, artefact.Scale) }));
        return [.. _ml.Data.CreateEnumerable<PcaOutput>(model.Transform(view), reuseRowObject: false).Select(o => o.Score)];
    }

    /// <summary>Trains FastTree on labelled rows (80/20 split for metrics) and returns the ONNX bytes (only the probability output).</summary>
    public (byte[] Onnx, IReadOnlyDictionary<string, double> Metrics, ITransformer Model) TrainFastTree(TrainingSet data, int trees = 100)
    {
        ArgumentNullException.ThrowIfNull(data);
        Check(data.Features);
        if (data.Labels is null || data.Labels.Count != data.Features.Count)
        {
            throw new ArgumentException("FastTree needs one label per feature row.", nameof(data));
        }
        if (!data.Labels.Contains(true) || !data.Labels.Contains(false))
        {
            throw new ArgumentException("FastTree needs both anomalous and normal labelled rows.", nameof(data));
        }
        var rows = data.Features.Select((f, i) => new Row { Features = f, Label = data.Labels[i] }).ToList();
        var view = _ml.Data.LoadFromEnumerable(rows);
        var split = _ml.Data.TrainTestSplit(view, testFraction: 0.2, seed: 1);
        var trainer = _ml.BinaryClassification.Trainers.FastTree(new Microsoft.ML.Trainers.FastTree.FastTreeBinaryTrainer.Options
        {
            NumberOfTrees = trees,
            NumberOfLeaves = 16,
            MinimumExampleCountPerLeaf = 5,
            Seed = 1,
            NumberOfThreads = 1,
        });
        var metrics = new Dictionary<string, double>(StringComparer.Ordinal) { ["rows"] = rows.Count, ["anomalous_rows"] = data.Labels.Count(l => l) };
        try
        {
            var holdout = _ml.BinaryClassification.Evaluate(trainer.Fit(split.TrainSet).Transform(split.TestSet));
            metrics["holdout_auc"] = holdout.AreaUnderRocCurve;
            metrics["holdout_f1"] = holdout.F1Score;
            metrics["holdout_accuracy"] = holdout.Accuracy;
        }
        catch (ArgumentOutOfRangeException)
        {
            // Too few rows of one class in the hold-out for AUC: metrics stay without it.
        }
        var model = trainer.Fit(view);
        // Export into memory first: a failed export must not leave a 0-byte model file behind.
        var exportView = _ml.Data.LoadFromEnumerable(data.Features.Take(1).Select(f => new FeaturesOnly { Features = f }));
        using var stream = new MemoryStream();
        _ml.Model.ConvertToOnnx(model, exportView, stream, "Probability");
        return (stream.ToArray(), metrics, model);
    }

    public float[] PredictFastTree(ITransformer model, IReadOnlyList<float[]> features)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(features);
        var view = _ml.Data.LoadFromEnumerable(features.Select(f => new Row { Features = f }));
        return [.. _ml.Data.CreateEnumerable<BinaryOutput>(model.Transform(view), reuseRowObject: false).Select(o => o.Probability)];
    }

    /// <summary>Trains the kind asked for and writes model file + metadata into <paramref name="directory"/> as name.vN.*.</summary>
    public TrainedModel TrainAndWrite(string kind, TrainingSet data, string name, int version, string? sensorType, string directory, int rank = 3)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        Directory.CreateDirectory(directory);
        var stem = string.Create(CultureInfo.InvariantCulture, $"{name}.v{version}");
        string file;
        IReadOnlyDictionary<string, double> metrics;
        string? input = null, output = null;
        byte[] bytes;
        if (kind == ModelKinds.Pca)
        {
            var (artefact, m, _) = TrainPca(data, rank);
            metrics = m;
            file = stem + ".pca.json";
            bytes = System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(artefact, ScoringJsonContext.Default.PcaArtefact);
        }
        else if (kind == ModelKinds.FastTree)
        {
            var (onnx, m, _) = TrainFastTree(data);
            metrics = m;
            file = stem + ".onnx";
            bytes = onnx;
            input = "Features";
            output = "Probability.output";
        }
        else
        {
            throw new ArgumentException($"Unknown model kind '{kind}'.", nameof(kind));
        }
        var meta = new ModelMetadata
        {
            ModelId = $"{stem}-{Guid.NewGuid():N}"[..Math.Min(64, stem.Length + 33)],
            Name = name,
            Version = version,
            Kind = kind,
            SensorType = sensorType,
            Input = input,
            Output = output,
            Metrics = metrics,
            TrainingFrom = data.From,
            TrainingTo = data.To,
            DataHash = data.DataHash(),
            File = file,
            CreatedAt = DateTimeOffset.UtcNow,
        };
        // Model file first (atomically via rename), metadata last: the provider only looks at complete pairs.
        var modelPath = Path.Combine(directory, file);
        WriteAtomically(modelPath, bytes);
        var metaPath = Path.Combine(directory, stem + ModelMetadata.Suffix);
        WriteAtomically(metaPath, System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(meta, ScoringJsonContext.Default.ModelMetadata));
        return new TrainedModel(meta, modelPath, metaPath);
    }

    private static void WriteAtomically(string path, byte[] bytes)
    {
        var temp = path + ".tmp";
        File.WriteAllBytes(temp, bytes);
        File.Move(temp, path, overwrite: true);
    }

    private static void Check(IReadOnlyList<float[]> features)
    {
        ArgumentNullException.ThrowIfNull(features);
        if (features.Count < 10)
        {
            throw new ArgumentException("At least 10 feature rows are needed to train.", nameof(features));
        }
        foreach (var f in features)
        {
            if (f.Length != WindowFeatures.Count)
            {
                throw new ArgumentException($"Every row needs {WindowFeatures.Count} features.", nameof(features));
            }
        }
    }

    private static (float[] Offset, float[] Scale) Standardization(IReadOnlyList<float[]> rows)
    {
        var n = rows.Count;
        var offset = new float[WindowFeatures.Count];
        var scale = new float[WindowFeatures.Count];
        for (var j = 0; j < WindowFeatures.Count; j++)
        {
            double sum = 0, sq = 0;
            foreach (var r in rows)
            {
                sum += r[j];
            }
            var mean = sum / n;
            foreach (var r in rows)
            {
                sq += (r[j] - mean) * (r[j] - mean);
            }
            var sd = Math.Sqrt(sq / Math.Max(1, n - 1));
            offset[j] = (float)mean;
            scale[j] = sd > 1e-12 ? (float)(1 / sd) : 1f;
        }
        return (offset, scale);
    }

    private static float[] Standardize(float[] f, float[] offset, float[] scale)
    {
        var z = new float[f.Length];
        for (var i = 0; i < f.Length; i++)
        {
            z[i] = (f[i] - offset[i]) * scale[i];
        }
        return z;
    }

    private static double Quantile(double[] sorted, double q) =>
        sorted.Length == 0 ? 0 : sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Length) - 1, 0, sorted.Length - 1)];
}
