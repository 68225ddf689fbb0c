using System.Text.Json;
using System.Text.Json.Serialization;

namespace SmartMaintenance.Streams.Scoring.Models;

/// <summary>Model kinds: ONNX graphs (trained here with FastTree or dropped in) and the native PCA artefact.</summary>
public static class ModelKinds
{
    public const string FastTree = "fasttree";
    public const string Pca = "pca";
    public const string Onnx = "onnx";
}

/// <summary>The <c>*.meta.json</c> beside a model file; also the content of a model_registry row.</summary>
public sealed record ModelMetadata
{
    [JsonPropertyName("model_id")] public required string ModelId { get; init; }
    [JsonPropertyName("name")] public required string Name { get; init; }
    [JsonPropertyName("version")] public int Version { get; init; }
    [JsonPropertyName("kind")] public required string Kind { get; init; }
    /// <summary>Sensor type the model scores; null = any type without a model of its own.</summary>
    [JsonPropertyName("sensor_type")] public string? SensorType { get; init; }
    [JsonPropertyName("features")] public IReadOnlyList<string> Features { get; init; } = WindowFeatures.Names;
    /// <summary>ONNX input tensor name (float32 [N, features]); default "features".</summary>
    [JsonPropertyName("input")] public string? Input { get; init; }
    /// <summary>ONNX output tensor name (float32 [N] or [N,1], in [0,1]); default "score", else ML.NET's "Probability.output".</summary>
    [JsonPropertyName("output")] public string? Output { get; init; }
    [JsonPropertyName("metrics")] public IReadOnlyDictionary<string, double>? Metrics { get; init; }
    [JsonPropertyName("training_from")] public DateTimeOffset? TrainingFrom { get; init; }
    [JsonPropertyName("training_to")] public DateTimeOffset? TrainingTo { get; init; }
    [JsonPropertyName("data_hash")] public string? DataHash { get; init; }
    /// <summary>Model file name, relative to the metadata file's directory.</summary>
    [JsonPropertyName("file")] public required string File { get; init; }
    [JsonPropertyName("created_at")] public DateTimeOffset CreatedAt { get; init; }

    public const string Suffix = ".meta.json";

    public static ModelMetadata Read(string path)
    {
        var meta = JsonSerializer.Deserialize(System.IO.File.ReadAllBytes(path), ScoringJsonContext.Default.ModelMetadata)
            ?? throw new InvalidDataException($"{path}: empty model metadata.");
        return meta;
    }

    public void Write(string path) =>
        System.IO.File.WriteAllBytes(path, JsonSerializer.SerializeToUtf8Bytes(this, ScoringJsonContext.Default.ModelMetadata));
}

/// <summary>The PCA artefact (RandomizedPca cannot be exported to ONNX): standardization, mean and principal axes, scored natively.</summary>
public sealed record PcaArtefact
{
    [JsonPropertyName("kind")] public string Kind { get; init; } = ModelKinds.Pca;
    /// <summary>Per-feature offset and scale applied first: z = (x − offset) · scale.</summary>
    [JsonPropertyName("offset")] public required float[] Offset { get; init; }
    [JsonPropertyName("scale")] public required float[] Scale { get; init; }
    /// <summary>Mean of the standardized training features (ML.NET's PcaModelParameters.GetMean).</summary>
    [JsonPropertyName("mean")] public required float[] Mean { get; init; }
    /// <summary>Principal axes, rank × features (PcaModelParameters.GetEigenVectors).</summary>
    [JsonPropertyName("eigenvectors")] public required float[][] EigenVectors { get; init; }
    /// <summary>Raw reconstruction error that maps to score 0.5 (a high quantile of the training errors).</summary>
    [JsonPropertyName("threshold")] public double Threshold { get; init; }
}

[JsonSourceGenerationOptions(WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ModelMetadata))]
[JsonSerializable(typeof(PcaArtefact))]
[JsonSerializable(typeof(Dictionary<string, double>))]
[JsonSerializable(typeof(List<string>))]
internal sealed partial class ScoringJsonContext : JsonSerializerContext;
