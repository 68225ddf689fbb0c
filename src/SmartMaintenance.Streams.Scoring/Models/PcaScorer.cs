using System.Text.Json;
using SmartMaintenance.Streams.Scoring.Detectors;

namespace SmartMaintenance.Streams.Scoring.Models;

/// <summary>Scores the native PCA artefact: ML.NET's normalized reconstruction error, calibrated so the training threshold maps to 0.5. Thread-safe.</summary>
public sealed class PcaScorer : IModelScorer
{
    private const int MaxFeatures = 256;
    private readonly PcaArtefact _pca;

    public PcaScorer(string modelId, PcaArtefact artefact)
    {
        ArgumentNullException.ThrowIfNull(artefact);
        var f = artefact.Mean.Length;
        if (f == 0 || artefact.Offset.Length != f || artefact.Scale.Length != f || artefact.EigenVectors.Length == 0
            || f > MaxFeatures || artefact.EigenVectors.Any(v => v.Length != f) || !(artefact.Threshold > 0))
        {
            throw new InvalidDataException("PCA artefact is inconsistent (feature counts, rank or threshold).");
        }
        ModelId = modelId;
        _pca = artefact;
    }

    public static PcaScorer Load(string modelId, string path) =>
        new(modelId, JsonSerializer.Deserialize(File.ReadAllBytes(path), ScoringJsonContext.Default.PcaArtefact)
            ?? throw new InvalidDataException($"{path}: empty PCA artefact."));

    public string ModelId { get; }

    public int FeatureCount => _pca.Mean.Length;

    public void Score(ReadOnlySpan<float> features, int rows, Span<float> scores)
    {
        var f = FeatureCount;
        for (var r = 0; r < rows; r++)
        {
            var raw = RawScore(features.Slice(r * f, f));
            scores[r] = (float)ScoreMath.FromRatio(raw / _pca.Threshold);
        }
    }

    /// <summary>ML.NET's PCA anomaly score: sqrt(‖x − μ − P(x − μ)‖² / ‖x − μ‖²), on standardized features.</summary>
    public double RawScore(ReadOnlySpan<float> row)
    {
        // Stack buffer: the scorer is stateless between calls, so one instance may serve several threads.
        Span<float> z = stackalloc float[_pca.Mean.Length];
        double norm2 = 0;
        for (var i = 0; i < z.Length; i++)
        {
            z[i] = ((row[i] - _pca.Offset[i]) * _pca.Scale[i]) - _pca.Mean[i];
            norm2 += (double)z[i] * z[i];
        }
        double projected = 0;
        foreach (var axis in _pca.EigenVectors)
        {
            double c = 0;
            for (var i = 0; i < z.Length; i++)
            {
                c += (double)axis[i] * z[i];
            }
            projected += c * c;
        }
        if (norm2 <= 0)
        {
            return 0;
        }
        return Math.Sqrt(Math.Max(0, norm2 - projected) / norm2);
    }

    public void Dispose()
    {
    }
}
