using System.Globalization;
using System.Text;
using SmartMaintenance.Streams.Contracts;

namespace SmartMaintenance.Streams.Scoring.Nab;

/// <summary>Result of one series under one profile at the corpus-wide threshold.</summary>
public sealed record NabSeriesResult(string Series, NabScore Score, double Normalized);

/// <summary>Result of one profile: NAB's swept threshold and, for comparison, the engine's own fire threshold.</summary>
public sealed record NabProfileResult(
    NabProfile Profile,
    double Threshold,
    NabScore Total,
    double Normalized,
    NabScore AtFireThreshold,
    double NormalizedAtFireThreshold,
    IReadOnlyList<NabSeriesResult> Series);

public sealed record NabReport(int SeriesCount, long Rows, IReadOnlyList<NabProfileResult> Profiles, double FireThreshold);

/// <summary>
/// Replays every series of a NAB-layout corpus through <see cref="DetectorPipeline"/> (exactly the code the
/// engine runs: one reading at a time, no look-ahead, labels never reach the detectors) and scores the
/// per-row outputs with <see cref="NabScorer"/>.
/// </summary>
public static class NabEvaluator
{
    public static NabReport Run(string corpusRoot, ScoringOptions options, string? outDir = null, IReadOnlyList<string>? only = null)
    {
        ArgumentNullException.ThrowIfNull(corpusRoot);
        ArgumentNullException.ThrowIfNull(options);
        var corpus = NabCorpus.Load(corpusRoot);
        if (only is not null)
        {
            corpus = [.. corpus.Where(s => only.Contains(s.Name, StringComparer.Ordinal))];
        }
        var profiles = NabCorpus.LoadProfiles(corpusRoot);
        var scores = new List<double[]>(corpus.Count);
        long rows = 0;
        foreach (var series in corpus)
        {
            var (output, detectors, fired) = Replay(series, options);
            scores.Add(output);
            rows += output.Length;
            if (outDir is not null)
            {
                WriteSeries(outDir, series, output, detectors, fired);
            }
        }

        var results = new List<NabProfileResult>();
        foreach (var profile in profiles)
        {
            var rowSets = new List<NabRow[]>(corpus.Count);
            for (var i = 0; i < corpus.Count; i++)
            {
                rowSets.Add(NabScorer.Rows(scores[i], corpus[i].Windows, profile));
            }
            var (threshold, total) = NabScorer.Sweep(rowSets, profile);
            var perSeries = new List<NabSeriesResult>(corpus.Count);
            for (var i = 0; i < corpus.Count; i++)
            {
                var s = NabScorer.ScoreAt([rowSets[i]], threshold, profile);
                perSeries.Add(new NabSeriesResult(corpus[i].Name, s, s.Normalized(profile)));
            }
            var atFire = NabScorer.ScoreAt(rowSets, options.Defaults.FireThreshold, profile);
            results.Add(new NabProfileResult(profile, threshold, total, total.Normalized(profile), atFire, atFire.Normalized(profile), perSeries));
        }
        var report = new NabReport(corpus.Count, rows, results, options.Defaults.FireThreshold);
        if (outDir is not null)
        {
            File.WriteAllText(Path.Combine(outDir, "results.csv"), ResultsCsv(report));
            File.WriteAllText(Path.Combine(outDir, "summary.md"), Markdown(report));
        }
        return report;
    }

    /// <summary>Runs one series through a fresh pipeline; returns per-row output scores, firing detectors and fired flags.</summary>
    public static (double[] Scores, string?[] Detectors, bool[] Fired) Replay(NabSeries series, ScoringOptions options)
    {
        ArgumentNullException.ThrowIfNull(series);
        var pipeline = new DetectorPipeline(options);
        var n = series.Values.Length;
        var scores = new double[n];
        var detectors = new string?[n];
        var fired = new bool[n];
        var id = string.Intern(series.Name);
        for (var i = 0; i < n; i++)
        {
            var reading = new SensorReading(id, series.Timestamps[i], series.Values[i]);
            scores[i] = pipeline.Score(reading, out var result, out var anomaly);
            fired[i] = result.Fired;
            detectors[i] = anomaly?.Detector;
        }
        return (scores, detectors, fired);
    }

    private static void WriteSeries(string outDir, NabSeries series, double[] scores, string?[] detectors, bool[] fired)
    {
        var path = Path.Combine(outDir, "series", series.Name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var inWindow = new bool[scores.Length];
        foreach (var (l, r) in series.Windows)
        {
            for (var i = l; i <= r; i++)
            {
                inWindow[i] = true;
            }
        }
        var sb = new StringBuilder("timestamp,value,anomaly_score,fired,detector,label\n");
        for (var i = 0; i < scores.Length; i++)
        {
            sb.Append(NabCorpus.FormatTime(series.Timestamps[i])).Append(',')
              .Append(series.Values[i].ToString("R", CultureInfo.InvariantCulture)).Append(',')
              .Append(scores[i].ToString("0.######", CultureInfo.InvariantCulture)).Append(',')
              .Append(fired[i] ? '1' : '0').Append(',')
              .Append(detectors[i]).Append(',')
              .Append(inWindow[i] ? '1' : '0').Append('\n');
        }
        File.WriteAllText(path, sb.ToString());
    }

    public static string ResultsCsv(NabReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var sb = new StringBuilder("profile,series,threshold,raw_score,normalized,tp,fp,fn,windows\n");
        foreach (var p in report.Profiles)
        {
            foreach (var s in p.Series)
            {
                Row(sb, p.Profile.Name, s.Series, p.Threshold, s.Score, s.Normalized);
            }
            Row(sb, p.Profile.Name, "TOTAL", p.Threshold, p.Total, p.Normalized);
            Row(sb, p.Profile.Name, "TOTAL@fire_threshold", report.FireThreshold, p.AtFireThreshold, p.NormalizedAtFireThreshold);
        }
        return sb.ToString();

        static void Row(StringBuilder sb, string profile, string series, double threshold, NabScore s, double normalized) =>
            sb.Append(CultureInfo.InvariantCulture, $"{profile},{series},{threshold:0.######},{s.Raw:0.####},{normalized:0.##},{s.TruePositives},{s.FalsePositives},{s.FalseNegatives},{s.Windows}\n");
    }

    public static string Markdown(NabReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"NAB evaluation: {report.SeriesCount} series, {report.Rows} rows.\n\n");
        sb.Append("| profile | score (swept threshold) | threshold | TP | FP | FN | score at fire threshold ")
          .Append(report.FireThreshold.ToString(CultureInfo.InvariantCulture)).Append(" |\n|---|---:|---:|---:|---:|---:|---:|\n");
        foreach (var p in report.Profiles)
        {
            sb.Append(CultureInfo.InvariantCulture, $"| {p.Profile.Name} | {p.Normalized:0.0} | {p.Threshold:0.####} | {p.Total.TruePositives} | {p.Total.FalsePositives} | {p.Total.FalseNegatives} | {p.NormalizedAtFireThreshold:0.0} |\n");
        }
        sb.Append("\nPer series (raw NAB score at each profile's swept threshold; normalized where the series has windows):\n\n| series | windows |");
        foreach (var p in report.Profiles)
        {
            sb.Append(' ').Append(p.Profile.Name).Append(" |");
        }
        sb.Append(" TP/FP/FN (standard) |\n|---|---:|");
        foreach (var _ in report.Profiles)
        {
            sb.Append("---:|");
        }
        sb.Append("---|\n");
        for (var i = 0; i < report.SeriesCount; i++)
        {
            var first = report.Profiles[0].Series[i];
            sb.Append(CultureInfo.InvariantCulture, $"| {first.Series} | {first.Score.Windows} |");
            foreach (var p in report.Profiles)
            {
                var s = p.Series[i];
                sb.Append(CultureInfo.InvariantCulture, $" {s.Score.Raw:0.###}");
                if (!double.IsNaN(s.Normalized))
                {
                    sb.Append(CultureInfo.InvariantCulture, $" ({s.Normalized:0.0})");
                }
                sb.Append(" |");
            }
            sb.Append(CultureInfo.InvariantCulture, $" {first.Score.TruePositives}/{first.Score.FalsePositives}/{first.Score.FalseNegatives} |\n");
        }
        return sb.ToString();
    }
}
