using System.Text.Json;
using System.Text.Json.Serialization;

namespace SmartMaintenance.Streams.Prediction.Rul;

/// <summary>What an RUL model needs beside its ONNX trees (<c>NAME.vN.rul.json</c>): the feature spec, the operating
/// conditions' normalisation, the target cap and the interval table.</summary>
public sealed record RulArtefact
{
    [JsonPropertyName("spec")] public required RulFeatureSpec Spec { get; init; }
    [JsonPropertyName("conditions")] public required OperatingConditions Conditions { get; init; }
    [JsonPropertyName("cap")] public double Cap { get; init; }
    [JsonPropertyName("intervals")] public required RulIntervals Intervals { get; init; }

    public const string Suffix = ".rul.json";

    public static RulArtefact Read(string path)
    {
        var artefact = JsonSerializer.Deserialize(File.ReadAllBytes(path), PredictionJsonContext.Default.RulArtefact)
            ?? throw new InvalidDataException($"{path}: empty RUL artefact.");
        artefact.Spec.Validate();
        var k = artefact.Spec.Channels.Count;
        var c = artefact.Conditions;
        if (c.Centres.Length == 0 || c.Mean.Length != c.Centres.Length || c.Std.Length != c.Centres.Length
            || c.Mean.Any(m => m.Length != k) || c.Std.Any(s => s.Length != k) || c.SettingScale.Length != RulChannels.Settings.Count)
        {
            throw new InvalidDataException($"{path}: operating conditions do not match the {k} channels of the feature spec.");
        }
        var i = artefact.Intervals;
        if (i.Low.Length != i.Edges.Length + 1 || i.High.Length != i.Edges.Length + 1)
        {
            throw new InvalidDataException($"{path}: interval table needs one low and high quantile per bucket ({i.Edges.Length + 1}).");
        }
        return artefact;
    }

    public void Write(string path) => File.WriteAllBytes(path, JsonSerializer.SerializeToUtf8Bytes(this, PredictionJsonContext.Default.RulArtefact));
}

[JsonSourceGenerationOptions(WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(RulArtefact))]
internal sealed partial class PredictionJsonContext : JsonSerializerContext;
