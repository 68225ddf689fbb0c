using System.Globalization;
using System.Text;
using System.Text.Json;

namespace SmartMaintenance.Streams.Scoring.Nab;

/// <summary>One candidate configuration of a leave-one-folder-out run: the base configuration with some detector settings changed.</summary>
public sealed record NabCandidate(string Name, ScoringOptions Options);

/// <summary>The held-out folder of one fold, scored under the configuration and thresholds chosen on the other folders.</summary>
/// <param name="Chosen">Name of the candidate that scored best (standard profile, swept threshold) on the other folders.</param>
/// <param name="Swept">Held-out score per profile at that profile's threshold swept on the other folders (normalized; NaN for a folder without windows).</param>
/// <param name="AtFireThreshold">Held-out score per profile at the chosen configuration's own fire threshold (no sweep at all).</param>
/// <param name="SeriesScores">Normalized standard score of each held-out series with windows (swept threshold of the other folders).</param>
public sealed record NabFold(
    string Folder,
    int Series,
    int Windows,
    string Chosen,
    IReadOnlyList<double> Swept,
    IReadOnlyList<double> AtFireThreshold,
    NabScore StandardSwept,
    NabScore StandardAtFire,
    IReadOnlyList<double> SeriesScores);

public sealed record NabLofoReport(IReadOnlyList<NabProfile> Profiles, IReadOnlyList<string> Candidates, IReadOnlyList<NabFold> Folds)
{
    /// <summary>Mean over the folds that have windows, per profile (swept threshold of the other folders).</summary>
    public double MeanSwept(int profile) => Mean(f => f.Swept[profile]);

    /// <summary>Mean over the folds that have windows, per profile (fire threshold).</summary>
    public double MeanAtFire(int profile) => Mean(f => f.AtFireThreshold[profile]);

    private double Mean(Func<NabFold, double> pick)
    {
        double sum = 0;
        var n = 0;
        foreach (var f in Folds)
        {
            if (f.Windows > 0)
            {
                sum += pick(f);
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
        ArgumentNullException.ThrowIfNull(candidates);
        if (candidates.Count == 0)
        {
            throw new ArgumentException("at least one candidate configuration is needed", nameof(candidates));
        }
        var corpus = NabCorpus.Load(corpusRoot);
        var profiles = NabCorpus.LoadProfiles(corpusRoot);
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

        var folds = new List<NabFold>();
        foreach (var folder in folders)
        {
            var train = new List<int>();
            var test = new List<int>();
            for (var i = 0; i < corpus.Count; i++)
            {
                (FolderOf(corpus[i].Name) == folder ? test : train).Add(i);
            }
            var best = 0;
            var bestScore = double.NegativeInfinity;
            for (var c = 0; c < candidates.Count; c++)
            {
                var (_, score) = NabScorer.Sweep(Pick(rows[c][standard], train), profiles[standard]);
                // Ties keep the earlier candidate: the base configuration comes first.
                if (score.Raw > bestScore + 1e-9)
                {
                    bestScore = score.Raw;
                    best = c;
                }
            }
            var fire = candidates[best].Options.Defaults.FireThreshold;
            var swept = new double[profiles.Count];
            var atFire = new double[profiles.Count];
            NabScore standardSwept = null!, standardAtFire = null!;
            var seriesScores = new List<double>();
            for (var p = 0; p < profiles.Count; p++)
            {
                var (threshold, _) = NabScorer.Sweep(Pick(rows[best][p], train), profiles[p]);
                var held = NabScorer.ScoreAt(Pick(rows[best][p], test), threshold, profiles[p]);
                var heldAtFire = NabScorer.ScoreAt(Pick(rows[best][p], test), fire, profiles[p]);
                swept[p] = held.Normalized(profiles[p]);
                atFire[p] = heldAtFire.Normalized(profiles[p]);
                if (p == standard)
                {
                    standardSwept = held;
                    standardAtFire = heldAtFire;
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
            folds.Add(new NabFold(folder, test.Count, standardSwept.Windows, candidates[best].Name, swept, atFire, standardSwept, standardAtFire, seriesScores));
        }
        return new NabLofoReport(profiles, [.. candidates.Select(c => c.Name)], folds);
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
                object boxed = property.PropertyType == typeof(int) ? (int)Math.Round(value)
                    : property.PropertyType == typeof(long) ? (long)Math.Round(value)
                    : value;
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
        nameof(DetectorOptions.HabituationHalfLifeMs), nameof(DetectorOptions.ContextThreshold), nameof(DetectorOptions.ContextAlpha),
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
        var c = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.Append(c, $"Leave-one-folder-out: {report.Candidates.Count} candidate configurations; for each folder the configuration and thresholds are chosen on the other folders (standard profile picks the configuration).\n\n");
        sb.Append("| held-out folder | series | windows | chosen on the others |");
        foreach (var p in report.Profiles)
        {
            sb.Append(c, $" {p.Name} (swept on others) |");
        }
        sb.Append(" standard at fire threshold | TP/FP/FN (standard, swept) | series min / median / max |\n|---|---:|---:|---|");
        foreach (var _ in report.Profiles)
        {
            sb.Append("---:|");
        }
        sb.Append("---:|---|---|\n");
        var standard = StandardIndex(report.Profiles);
        foreach (var f in report.Folds)
        {
            sb.Append(c, $"| {f.Folder} | {f.Series} | {f.Windows} | {f.Chosen} |");
            foreach (var v in f.Swept)
            {
                sb.Append(' ').Append(Num(v)).Append(" |");
            }
            sb.Append(' ').Append(Num(f.AtFireThreshold[standard])).Append(" |");
            sb.Append(c, $" {f.StandardSwept.TruePositives}/{f.StandardSwept.FalsePositives}/{f.StandardSwept.FalseNegatives} |");
            sb.Append(' ').Append(Spread(f.SeriesScores)).Append(" |\n");
        }
        sb.Append("| **mean of folds with windows** | | | |");
        for (var p = 0; p < report.Profiles.Count; p++)
        {
            sb.Append(" **").Append(Num(report.MeanSwept(p))).Append("** |");
        }
        sb.Append(' ').Append(Num(report.MeanAtFire(standard))).Append(" | | ");
        sb.Append(Spread([.. report.Folds.SelectMany(f => f.SeriesScores)])).Append(" |\n");
        return sb.ToString();

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
        var sb = new StringBuilder("folder,series,windows,chosen,profile,swept_on_others,at_fire_threshold\n");
        foreach (var f in report.Folds)
        {
            for (var p = 0; p < report.Profiles.Count; p++)
            {
                sb.Append(CultureInfo.InvariantCulture, $"{f.Folder},{f.Series},{f.Windows},{f.Chosen},{report.Profiles[p].Name},{f.Swept[p]:0.##},{f.AtFireThreshold[p]:0.##}\n");
            }
        }
        return sb.ToString();
    }
}
