using System.Globalization;
using System.Text;
using System.Text.Json;

namespace SmartMaintenance.Streams.Scoring.Nab;

/// <summary>One candidate configuration of a leave-one-folder-out run: the base configuration with some detector settings changed.</summary>
public sealed record NabCandidate(string Name, ScoringOptions Options);

/// <summary>How a fold chooses and scores: NAB's protocol (the threshold swept on the other folders) or the engine's (its own fire threshold, no sweep).</summary>
public enum NabProtocol
{
    Swept,
    FireThreshold,
}

/// <summary>The held-out folder of one fold, scored under the configuration and thresholds chosen on the other folders.</summary>
/// <param name="Chosen">Name of the candidate that scored best (standard profile, under the protocol) on the other folders.</param>
/// <param name="Thresholds">Per profile, the threshold used: swept on the other folders, or the chosen configuration's fire threshold.</param>
/// <param name="Scores">Held-out normalized score per profile (NaN for a folder without windows).</param>
/// <param name="Standard">Held-out standard-profile score (TP/FP/FN).</param>
/// <param name="SeriesScores">Normalized standard score of each held-out series with windows.</param>
public sealed record NabFold(
    string Folder,
    int Series,
    string Chosen,
    IReadOnlyList<double> Thresholds,
    IReadOnlyList<double> Scores,
    NabScore Standard,
    IReadOnlyList<double> SeriesScores);

public sealed record NabLofoReport(IReadOnlyList<NabProfile> Profiles, IReadOnlyList<string> Candidates,
    IReadOnlyList<NabFold> AtFireThreshold, IReadOnlyList<NabFold> Swept)
{
    public IReadOnlyList<NabFold> Folds(NabProtocol protocol) => protocol == NabProtocol.Swept ? Swept : AtFireThreshold;

    /// <summary>Mean over the folds that have windows of one profile's held-out score.</summary>
    public double Mean(NabProtocol protocol, int profile)
    {
        double sum = 0;
        var n = 0;
        foreach (var f in Folds(protocol))
        {
            if (f.Standard.Windows > 0)
            {
                sum += f.Scores[profile];
                n++;
            }
        }
        return n == 0 ? double.NaN : sum / n;
    }
}

/// <summary>
/// Leave-one-folder-out evaluation on a NAB-layout corpus: for each folder, every choice (which candidate configuration,
/// which threshold) is made on the other folders alone, and the folder is scored with it. Every candidate replays every
/// series once through <see cref="NabEvaluator.Replay"/> (the engine's code); the folds only re-score those outputs.
/// </summary>
public static class NabLofo
{
    public static NabLofoReport Run(string corpusRoot, IReadOnlyList<NabCandidate> candidates)
    {
        ArgumentNullException.ThrowIfNull(corpusRoot);
        return Run(NabCorpus.Load(corpusRoot), NabCorpus.LoadProfiles(corpusRoot), candidates);
    }

    public static NabLofoReport Run(IReadOnlyList<NabSeries> corpus, IReadOnlyList<NabProfile> profiles, IReadOnlyList<NabCandidate> candidates)
    {
        ArgumentNullException.ThrowIfNull(corpus);
        ArgumentNullException.ThrowIfNull(profiles);
        ArgumentNullException.ThrowIfNull(candidates);
        if (candidates.Count == 0)
        {
            throw new ArgumentException("at least one candidate configuration is needed", nameof(candidates));
        }
        var standard = StandardIndex(profiles);
        var folders = corpus.Select(s => FolderOf(s.Name)).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();

        // rows[candidate][profile][series]
        var rows = new NabRow[candidates.Count][][][];
        for (var c = 0; c < candidates.Count; c++)
        {
            var scores = new double[corpus.Count][];
            var options = candidates[c].Options;
            Parallel.For(0, corpus.Count, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, Environment.ProcessorCount) },
                i => scores[i] = NabEvaluator.Replay(corpus[i], options).Scores);
            rows[c] = new NabRow[profiles.Count][][];
            for (var p = 0; p < profiles.Count; p++)
            {
                rows[c][p] = new NabRow[corpus.Count][];
                for (var i = 0; i < corpus.Count; i++)
                {
                    rows[c][p][i] = NabScorer.Rows(scores[i], corpus[i].Windows, profiles[p]);
                }
            }
        }

        var atFire = new List<NabFold>();
        var swept = new List<NabFold>();
        foreach (var folder in folders)
        {
            var train = new List<int>();
            var test = new List<int>();
            for (var i = 0; i < corpus.Count; i++)
            {
                (FolderOf(corpus[i].Name) == folder ? test : train).Add(i);
            }
            atFire.Add(Fold(folder, NabProtocol.FireThreshold, candidates, profiles, standard, rows, train, test));
            swept.Add(Fold(folder, NabProtocol.Swept, candidates, profiles, standard, rows, train, test));
        }
        return new NabLofoReport(profiles, [.. candidates.Select(c => c.Name)], atFire, swept);
    }

    private static NabFold Fold(string folder, NabProtocol protocol, IReadOnlyList<NabCandidate> candidates, IReadOnlyList<NabProfile> profiles,
        int standard, NabRow[][][][] rows, List<int> train, List<int> test)
    {
        var best = 0;
        var bestScore = double.NegativeInfinity;
        for (var c = 0; c < candidates.Count; c++)
        {
            var trainRows = Pick(rows[c][standard], train);
            var score = protocol == NabProtocol.Swept
                ? NabScorer.Sweep(trainRows, profiles[standard]).Score
                : NabScorer.ScoreAt(trainRows, candidates[c].Options.Defaults.FireThreshold, profiles[standard]);
            // Ties keep the earlier candidate: the base configuration comes first.
            if (score.Raw > bestScore + 1e-9)
            {
                bestScore = score.Raw;
                best = c;
            }
        }
        var thresholds = new double[profiles.Count];
        var scores = new double[profiles.Count];
        NabScore standardScore = null!;
        var seriesScores = new List<double>();
        for (var p = 0; p < profiles.Count; p++)
        {
            var threshold = protocol == NabProtocol.Swept
                ? NabScorer.Sweep(Pick(rows[best][p], train), profiles[p]).Threshold
                : candidates[best].Options.Defaults.FireThreshold;
            thresholds[p] = threshold;
            var held = NabScorer.ScoreAt(Pick(rows[best][p], test), threshold, profiles[p]);
            scores[p] = held.Normalized(profiles[p]);
            if (p == standard)
            {
                standardScore = held;
                foreach (var i in test)
                {
                    var s = NabScorer.ScoreAt([rows[best][p][i]], threshold, profiles[p]).Normalized(profiles[p]);
                    if (!double.IsNaN(s))
                    {
                        seriesScores.Add(s);
                    }
                }
            }
        }
        return new NabFold(folder, test.Count, candidates[best].Name, thresholds, scores, standardScore, seriesScores);
    }

    /// <summary>
    /// The base configuration and, for each named detector setting, the base with that one setting multiplied by each
    /// factor: a one-at-a-time neighbourhood, so each fold can move any listed constant away from where the whole corpus put it.
    /// </summary>
    public static IReadOnlyList<NabCandidate> Neighbourhood(ScoringOptions baseline, IReadOnlyList<string> settings, IReadOnlyList<double> factors)
    {
        ArgumentNullException.ThrowIfNull(baseline);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(factors);
        var list = new List<NabCandidate> { new("base", baseline) };
        foreach (var name in settings)
        {
            var property = typeof(DetectorOptions).GetProperty(name)
                ?? throw new ArgumentException($"DetectorOptions has no setting '{name}'", nameof(settings));
            foreach (var factor in factors)
            {
                var options = Clone(baseline);
                var value = Convert.ToDouble(property.GetValue(options.Defaults), CultureInfo.InvariantCulture) * factor;
                object boxed = property.PropertyType == typeof(int) ? (object)(int)Math.Round(value)
                    : property.PropertyType == typeof(long) ? (object)(long)Math.Round(value)
                    : (object)value;
                property.SetValue(options.Defaults, boxed);
                options.Validate();
                list.Add(new NabCandidate(string.Create(CultureInfo.InvariantCulture, $"{name}×{factor:0.##}"), options));
            }
        }
        return list;
    }

    /// <summary>The settings the default neighbourhood moves: every threshold, memory and factor the detectors were tuned with on NAB.</summary>
    public static IReadOnlyList<string> TunedSettings { get; } =
    [
        nameof(DetectorOptions.WarmupReadings), nameof(DetectorOptions.SuppressReadings), nameof(DetectorOptions.SuppressDurationMs),
        nameof(DetectorOptions.LevelZThreshold), nameof(DetectorOptions.LevelEnvelopeFactor), nameof(DetectorOptions.EnvelopeHalfLifeMs),
        nameof(DetectorOptions.SpikeZThreshold), nameof(DetectorOptions.SpikeEnvelopeFactor),
        nameof(DetectorOptions.ShiftK), nameof(DetectorOptions.ShiftH), nameof(DetectorOptions.ShiftAlpha),
        nameof(DetectorOptions.HabituationHalfLifeMs), nameof(DetectorOptions.ContextThreshold),
        nameof(DetectorOptions.SeasonalThreshold), nameof(DetectorOptions.SeasonalScaleHalfLifeMs),
    ];

    private static ScoringOptions Clone(ScoringOptions options) =>
        JsonSerializer.Deserialize<ScoringOptions>(JsonSerializer.Serialize(options))!;

    private static List<NabRow[]> Pick(NabRow[][] rows, List<int> indices)
    {
        var list = new List<NabRow[]>(indices.Count);
        foreach (var i in indices)
        {
            list.Add(rows[i]);
        }
        return list;
    }

    private static int StandardIndex(IReadOnlyList<NabProfile> profiles)
    {
        for (var p = 0; p < profiles.Count; p++)
        {
            if (profiles[p].Name == "standard")
            {
                return p;
            }
        }
        return 0;
    }

    public static string FolderOf(string seriesName)
    {
        ArgumentNullException.ThrowIfNull(seriesName);
        var slash = seriesName.IndexOf('/', StringComparison.Ordinal);
        return slash < 0 ? "" : seriesName[..slash];
    }

    public static string Markdown(NabLofoReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"Leave-one-folder-out over {report.Candidates.Count} candidate configurations: for each folder the configuration (and, under NAB's protocol, the thresholds) are chosen on the other folders alone, by the standard profile.\n");
        Table(sb, report, NabProtocol.FireThreshold, "\nAt the engine's fire threshold (configuration chosen by its score at the fire threshold on the other folders):\n\n");
        Table(sb, report, NabProtocol.Swept, "\nNAB's protocol (configuration and each profile's threshold chosen by the sweep on the other folders):\n\n");
        return sb.ToString();
    }

    private static void Table(StringBuilder sb, NabLofoReport report, NabProtocol protocol, string title)
    {
        var c = CultureInfo.InvariantCulture;
        sb.Append(title).Append("| held-out folder | series | windows | chosen on the others |");
        foreach (var p in report.Profiles)
        {
            sb.Append(c, $" {p.Name} |");
        }
        sb.Append(" TP/FP/FN (standard) | series min / median / max (standard) |\n|---|---:|---:|---|");
        foreach (var _ in report.Profiles)
        {
            sb.Append("---:|");
        }
        sb.Append("---|---|\n");
        var folds = report.Folds(protocol);
        foreach (var f in folds)
        {
            sb.Append(c, $"| {f.Folder} | {f.Series} | {f.Standard.Windows} | {f.Chosen} |");
            foreach (var v in f.Scores)
            {
                sb.Append(' ').Append(Num(v)).Append(" |");
            }
            sb.Append(c, $" {f.Standard.TruePositives}/{f.Standard.FalsePositives}/{f.Standard.FalseNegatives} |");
            sb.Append(' ').Append(Spread(f.SeriesScores)).Append(" |\n");
        }
        sb.Append("| **mean of the folds with windows** | | | |");
        for (var p = 0; p < report.Profiles.Count; p++)
        {
            sb.Append(" **").Append(Num(report.Mean(protocol, p))).Append("** |");
        }
        sb.Append(" | ").Append(Spread([.. folds.SelectMany(f => f.SeriesScores)])).Append(" |\n");

        static string Num(double v) => double.IsNaN(v) ? "–" : v.ToString("0.0", CultureInfo.InvariantCulture);

        static string Spread(IReadOnlyList<double> values)
        {
            if (values.Count == 0)
            {
                return "–";
            }
            var sorted = values.Order().ToArray();
            var median = sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
            return string.Create(CultureInfo.InvariantCulture, $"{sorted[0]:0.0} / {median:0.0} / {sorted[^1]:0.0}");
        }
    }

    public static string Csv(NabLofoReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var sb = new StringBuilder("protocol,folder,series,windows,chosen,profile,threshold,held_out_score\n");
        foreach (var protocol in (NabProtocol[])[NabProtocol.FireThreshold, NabProtocol.Swept])
        {
            foreach (var f in report.Folds(protocol))
            {
                for (var p = 0; p < report.Profiles.Count; p++)
                {
                    sb.Append(CultureInfo.InvariantCulture,
                        $"{protocol},{f.Folder},{f.Series},{f.Standard.Windows},{f.Chosen},{report.Profiles[p].Name},{f.Thresholds[p]:0.######},{f.Scores[p]:0.##}\n");
                }
            }
        }
        return sb.ToString();
    }
}
