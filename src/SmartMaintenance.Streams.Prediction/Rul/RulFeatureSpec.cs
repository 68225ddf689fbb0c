using System.Globalization;
using System.Text.Json.Serialization;

namespace SmartMaintenance.Streams.Prediction.Rul;

/// <summary>Which channels feed the RUL model and over how many cycles; fixes the feature layout.</summary>
/// <remarks>Layout: <c>cycle</c>, then per channel its mean over the last <see cref="Window"/> cycles, its mean over the last
/// <see cref="ShortWindow"/> cycles and its least-squares slope per cycle over the last <see cref="Window"/> cycles, all
/// on values normalised per operating condition. With fewer cycles seen the windows cover what there is.</remarks>
public sealed record RulFeatureSpec
{
    public const int PerChannel = 3;

    /// <summary>The FD001 sensors that move with wear (the other seven are constant or nearly so in its training data).</summary>
    public static readonly IReadOnlyList<string> DefaultChannels =
        ["s2", "s3", "s4", "s7", "s8", "s9", "s11", "s12", "s13", "s14", "s15", "s17", "s20", "s21"];

    [JsonPropertyName("channels")] public IReadOnlyList<string> Channels { get; init; } = DefaultChannels;
    [JsonPropertyName("window")] public int Window { get; init; } = 80;
    [JsonPropertyName("short_window")] public int ShortWindow { get; init; } = 5;

    [JsonIgnore] public int FeatureCount => 1 + Channels.Count * PerChannel;

    public IReadOnlyList<string> FeatureNames()
    {
        var names = new List<string>(FeatureCount) { RulChannels.Cycle };
        foreach (var c in Channels)
        {
            names.Add(string.Create(CultureInfo.InvariantCulture, $"{c}_mean{Window}"));
            names.Add(string.Create(CultureInfo.InvariantCulture, $"{c}_mean{ShortWindow}"));
            names.Add(string.Create(CultureInfo.InvariantCulture, $"{c}_slope{Window}"));
        }
        return names;
    }

    /// <summary>Checks the spec; a bad one fails when the model is trained or loaded, not on the first reading.</summary>
    public void Validate()
    {
        if (Channels.Count == 0)
        {
            throw new InvalidDataException("RUL feature spec: no channels.");
        }
        foreach (var c in Channels)
        {
            var i = RulChannels.IndexOf(c);
            if (i < 1 + RulChannels.Settings.Count)
            {
                throw new InvalidDataException($"RUL feature spec: '{c}' is not a sensor channel (s1..s21).");
            }
        }
        if (Window < 2 || ShortWindow < 1 || ShortWindow > Window)
        {
            throw new InvalidDataException($"RUL feature spec: window {Window} and short window {ShortWindow} need 2 ≤ window and 1 ≤ short window ≤ window.");
        }
    }

    /// <summary>Index of each model channel in <see cref="RulChannels.All"/>.</summary>
    internal int[] ChannelIndices()
    {
        var idx = new int[Channels.Count];
        for (var k = 0; k < idx.Length; k++)
        {
            idx[k] = RulChannels.IndexOf(Channels[k]);
        }
        return idx;
    }
}
