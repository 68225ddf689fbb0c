using SmartMaintenance.Streams.Scoring.Models;

namespace SmartMaintenance.Streams.Prediction.Rul;

/// <summary>A trained RUL model: ONNX trees scored by OnnxRuntime (one row per call, no allocation) plus its artefact.</summary>
/// <remarks>RUL models live in the <c>rul</c> folder of the model directory, so the anomaly model provider (which reads
/// the directory's top level) never mistakes one for an anomaly scorer.</remarks>
public sealed class RulModel : IDisposable
{
    public const string Kind = "rul-fasttree";
    public const string Folder = "rul";

    private readonly OnnxScorer _scorer;
    private readonly float[] _score = new float[1];

    public RulModel(ModelMetadata metadata, RulArtefact artefact, string onnxPath)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        ArgumentNullException.ThrowIfNull(artefact);
        Metadata = metadata;
        Artefact = artefact;
        _scorer = new OnnxScorer(metadata.ModelId, onnxPath, metadata.Input, metadata.Output, batchSize: 1);
        if (_scorer.FeatureCount != artefact.Spec.FeatureCount)
        {
            _scorer.Dispose();
            throw new InvalidDataException($"{onnxPath}: the model takes {_scorer.FeatureCount} features, its spec has {artefact.Spec.FeatureCount}.");
        }
    }

    public ModelMetadata Metadata { get; }
    public RulArtefact Artefact { get; }
    public RulFeatureSpec Spec => Artefact.Spec;
    public int Version => Metadata.Version;

    /// <summary>Loads the model a <c>*.meta.json</c> describes (its ONNX file and the <c>.rul.json</c> beside it).</summary>
    public static RulModel Load(string metadataPath)
    {
        var meta = ModelMetadata.Read(metadataPath);
        if (meta.Kind != Kind)
        {
            throw new InvalidDataException($"{metadataPath}: kind '{meta.Kind}' is not an RUL model ({Kind}).");
        }
        var dir = Path.GetDirectoryName(Path.GetFullPath(metadataPath))!;
        var stem = Path.GetFileName(metadataPath)[..^ModelMetadata.Suffix.Length];
        var artefact = RulArtefact.Read(Path.Combine(dir, stem + RulArtefact.Suffix));
        return new RulModel(meta, artefact, Path.Combine(dir, meta.File));
    }

    /// <summary>The newest RUL model (created_at, then version) in <paramref name="modelDirectory"/>/rul, or null.</summary>
    public static string? Latest(string modelDirectory)
    {
        var dir = Path.Combine(modelDirectory, Folder);
        if (!Directory.Exists(dir))
        {
            return null;
        }
        string? best = null;
        ModelMetadata? bestMeta = null;
        foreach (var path in Directory.EnumerateFiles(dir, "*" + ModelMetadata.Suffix))
        {
            var meta = ModelMetadata.Read(path);
            if (meta.Kind == Kind && (bestMeta is null || (meta.CreatedAt, meta.Version).CompareTo((bestMeta.CreatedAt, bestMeta.Version)) > 0))
            {
                best = path;
                bestMeta = meta;
            }
        }
        return best;
    }

    /// <summary>RUL in cycles for one feature row, clamped to [0, cap], with its interval.</summary>
    public (double Rul, double Lower, double Upper) Estimate(ReadOnlySpan<float> features)
    {
        _scorer.Score(features, 1, _score);
        var rul = Math.Clamp(_score[0], 0, Artefact.Cap);
        var (lower, upper) = Artefact.Intervals.Around(rul);
        return (rul, lower, upper);
    }

    public void Dispose() => _scorer.Dispose();
}
