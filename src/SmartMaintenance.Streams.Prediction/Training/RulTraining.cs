using System.Globalization;
using System.Security.Cryptography;
using SmartMaintenance.Streams.Prediction.Cmapss;
using SmartMaintenance.Streams.Prediction.Rul;
using SmartMaintenance.Streams.Scoring.Models;

namespace SmartMaintenance.Streams.Prediction.Training;

/// <summary>A written RUL model and the cross-validation that chose its interval.</summary>
public sealed record TrainedRulModel(ModelMetadata Metadata, string MetadataPath, string ModelPath, RulCrossValidationResult CrossValidation);

/// <summary>Trains an RUL model end to end: grouped cross-validation (figures and interval table), then the final trees on
/// every engine, exported to ONNX and written to <c>MODELS/rul</c> with its artefact and metadata.</summary>
public static class RulTraining
{
    public static TrainedRulModel TrainAndWrite(IReadOnlyList<CmapssUnit> units, RulFeatureSpec spec, RulTrainerOptions options,
        string modelDirectory, string name, int version, DateTimeOffset? from = null, DateTimeOffset? to = null)
    {
        ArgumentNullException.ThrowIfNull(units);
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        spec.Validate();
        var cv = RulCrossValidation.Run(units, spec, options);
        var conditions = OperatingConditions.Learn(units.SelectMany(u => u.Rows).ToList(), spec.ChannelIndices());
        var data = RulDataset.Build(units, spec, conditions);
        var regressor = new RulRegressor(options, spec.FeatureCount);
        var model = regressor.Fit(data.Features, data.Rul);
        var onnx = regressor.ToOnnx(model, data.Features[0]);

        var dir = Path.Combine(modelDirectory, RulModel.Folder);
        Directory.CreateDirectory(dir);
        var stem = string.Create(CultureInfo.InvariantCulture, $"{name}.v{version}");
        var onnxPath = Path.Combine(dir, stem + ".onnx");
        File.WriteAllBytes(onnxPath, onnx);
        new RulArtefact { Spec = spec, Conditions = conditions, Cap = options.Cap, Intervals = cv.Intervals }.Write(Path.Combine(dir, stem + RulArtefact.Suffix));
        var mean = cv.Mean;
        var metrics = new Dictionary<string, double>(StringComparer.Ordinal)
        {
            ["engines"] = units.Count,
            ["rows"] = data.Features.Count,
            ["cap"] = options.Cap,
            ["cv_folds"] = options.Folds,
            ["cv_rmse_truncated"] = mean.RmseTruncated,
            ["cv_nasa_truncated_per100"] = mean.NasaTruncated,
            ["cv_rmse_all_cycles"] = mean.RmseAllCycles,
            ["cv_interval_coverage"] = cv.IntervalCoverage,
        };
        var meta = new ModelMetadata
        {
            ModelId = stem + "-" + Convert.ToHexStringLower(SHA256.HashData(onnx))[..12],
            Name = name,
            Version = version,
            Kind = RulModel.Kind,
            Features = spec.FeatureNames(),
            Input = "Features",
            Output = "Score.output",
            Metrics = metrics,
            TrainingFrom = from,
            TrainingTo = to,
            DataHash = DataHash(units),
            File = Path.GetFileName(onnxPath),
            CreatedAt = DateTimeOffset.UtcNow,
        };
        var metaPath = Path.Combine(dir, stem + ModelMetadata.Suffix);
        meta.Write(metaPath);
        return new TrainedRulModel(meta, metaPath, onnxPath, cv);
    }

    private static string DataHash(IReadOnlyList<CmapssUnit> units)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<byte> buffer = stackalloc byte[8];
        foreach (var u in units)
        {
            foreach (var row in u.Rows)
            {
                foreach (var v in row)
                {
                    System.Buffers.Binary.BinaryPrimitives.WriteDoubleLittleEndian(buffer, v);
                    hash.AppendData(buffer);
                }
            }
        }
        return "sha256:" + Convert.ToHexStringLower(hash.GetHashAndReset());
    }
}
