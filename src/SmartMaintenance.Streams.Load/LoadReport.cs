using System.Globalization;
using System.Net;
using System.Text;

namespace SmartMaintenance.Streams.Load;

/// <summary>Writes a load run's report: report.md, report.html (plots inline), throughput.svg, latency.svg, lag.svg, series.csv.</summary>
public static class LoadReport
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>Writes every file into <paramref name="directory"/> (created if needed); returns the Markdown report's path.</summary>
    public static string Write(LoadResult result, string directory, string command)
    {
        ArgumentNullException.ThrowIfNull(result);
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, "series.csv"), Csv(result.Samples));
        var charts = Charts(result.Samples);
        foreach (var (name, svg) in charts)
        {
            File.WriteAllText(Path.Combine(directory, name + ".svg"), svg);
        }
        var md = Markdown(result, command);
        var path = Path.Combine(directory, "report.md");
        File.WriteAllText(path, md);
        File.WriteAllText(Path.Combine(directory, "report.html"), Html(result, command, charts));
        return path;
    }

    public static string Csv(IReadOnlyList<LoadSample> samples)
    {
        ArgumentNullException.ThrowIfNull(samples);
        var sb = new StringBuilder("seconds,measured,offered_readings_per_s,sent_readings_per_s,acked_messages_per_s,processed_messages_per_s,lag_messages,ack_p50_ms,ack_p99_ms,e2e_p50_ms,e2e_p99_ms,alert_p99_ms,rss_mb\n");
        foreach (var s in samples)
        {
            sb.AppendLine(string.Join(',',
                F(s.Seconds), s.Measured ? "1" : "0", F(s.OfferedReadingsPerSecond), F(s.SentReadingsPerSecond), F(s.AckedMessagesPerSecond),
                F(s.ProcessedMessagesPerSecond), s.LagMessages.ToString(Inv), F(s.AckP50Ms), F(s.AckP99Ms), F(s.E2eP50Ms), F(s.E2eP99Ms), F(s.AlertP99Ms), F(s.RssMb)));
        }
        return sb.ToString();
    }

    public static string Markdown(LoadResult r, string command)
    {
        ArgumentNullException.ThrowIfNull(r);
        var o = r.Options;
        var sb = new StringBuilder();
        sb.AppendLine(CultureInfo.InvariantCulture, $"# Load report: {o.Scenario}");
        sb.AppendLine();
        sb.AppendLine(CultureInfo.InvariantCulture, $"`{command}`");
        sb.AppendLine();
        sb.AppendLine(CultureInfo.InvariantCulture, $"Machine: {Environment.ProcessorCount} cores, load average {F(r.LoadAverage)} at the end of the run; {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC.");
        sb.AppendLine();
        sb.AppendLine(CultureInfo.InvariantCulture, $"Scenario: {o.Scenario}, rate {F(o.Rate)}/s{(o.Scenario is LoadScenario.Ramp or LoadScenario.Spike ? $" → peak {F(o.PeakRate)}/s" : "")}, " +
            $"{o.Duration.TotalSeconds:F0} s measured after {o.WarmUp.TotalSeconds:F0} s warm-up, {o.Sensors} sensors, {o.Batch} reading(s) per message, " +
            $"malformed {o.MalformedFraction:P2}, spikes {o.AnomalyRate:P3}, {o.ProbesPerSecond} probes/s.");
        sb.AppendLine();
        sb.AppendLine("## Result: " + (r.Passed ? "PASS" : "FAIL"));
        sb.AppendLine();
        sb.AppendLine("| threshold | limit | actual | |");
        sb.AppendLine("|---|---|---|---|");
        foreach (var t in r.Thresholds)
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"| {t.Name} | {t.Limit} | {t.Actual} | {(t.Passed ? "ok" : "**FAIL**")} |");
        }
        sb.AppendLine();
        sb.AppendLine("## Totals");
        sb.AppendLine();
        sb.AppendLine(CultureInfo.InvariantCulture, $"- sent: {r.ReadingsSent} readings in {r.MessagesSent} messages ({r.MalformedSent} malformed, {r.SpikesSent} spikes, {r.ProbesSent} probes); delivery failures {r.DeliveryFailures} ({r.ErrorRate:P3})");
        sb.AppendLine(CultureInfo.InvariantCulture, $"- measured phase: {r.MeasuredReadings} readings sent in {F(r.MeasuredSeconds)} s = {F(r.MeasuredReadings / Math.Max(0.001, r.MeasuredSeconds))} readings/s (offered {F(r.OfferedMeasuredReadings / Math.Max(0.001, r.MeasuredSeconds))}/s)");
        sb.AppendLine(CultureInfo.InvariantCulture, $"- drain after the last send: {(r.Drained ? "complete" : "NOT complete")} in {r.DrainTime.TotalSeconds:F1} s; lag at the end {r.FinalLag} messages");
        sb.AppendLine(CultureInfo.InvariantCulture, $"- probes seen in the readings table: {r.ProbesSeen} of {r.ProbesSent}; alerts (open) seen: {r.AlertsSeen} (plus {r.WindowAlertsSeen} of window detectors, not timed)");
        sb.AppendLine(CultureInfo.InvariantCulture, $"- peak RSS of the engine process: {F(r.PeakRssMb)} MB");
        sb.AppendLine();
        sb.AppendLine("## Latency (measured phase, HdrHistogram)");
        sb.AppendLine();
        sb.AppendLine("| latency | count | p50 | p90 | p99 | p99.9 | max |");
        sb.AppendLine("|---|---|---|---|---|---|---|");
        foreach (var (name, rec) in new[]
        {
            ("producer acknowledgement", r.Ack), ("end to end (send → row visible)", r.EndToEnd), ("event time → alert", r.Alert),
            ("… event time → engine publishes the alert", r.AlertPublish), ("… engine publishes → alert consumed", r.AlertDelivery),
        })
        {
            var h = rec.Total;
            sb.AppendLine(CultureInfo.InvariantCulture, $"| {name} | {h.TotalCount} | {Ms(h, 50)} | {Ms(h, 90)} | {Ms(h, 99)} | {Ms(h, 99.9)} | {(h.TotalCount == 0 ? "–" : F(h.GetValueAtPercentile(100) / 1000.0))} |");
        }
        sb.AppendLine();
        sb.AppendLine("End-to-end latency comes from probe readings polled in the readings table every 20 ms (resolution ±20 ms); " +
            "alert latency is the alert's arrival on the alerts topic minus its `last_seen` (the event time of the reading that opened it; readings carry the wall clock as event time), " +
            "split at the alert's `published_at` (the engine's clock when it handed the alert to its producer: against a remote engine the split includes the clock offset between the hosts). " +
            "Alerts of window detectors (`window/…`) carry the window's end as `last_seen` and are counted, not timed.");
        if (o.Scenario == LoadScenario.Soak)
        {
            var measured = r.Samples.Where(s => s.Measured).ToList();
            if (measured.Count >= 8)
            {
                var q = measured.Count / 4;
                sb.AppendLine();
                sb.AppendLine("## Soak drift (first vs last quarter)");
                sb.AppendLine();
                sb.AppendLine(CultureInfo.InvariantCulture, $"- RSS: {F(measured.Take(q).Average(s => s.RssMb))} MB → {F(measured.Skip(measured.Count - q).Average(s => s.RssMb))} MB");
                sb.AppendLine(CultureInfo.InvariantCulture, $"- e2e p99 (median of seconds): {F(Median(measured.Take(q).Select(s => s.E2eP99Ms)))} ms → {F(Median(measured.Skip(measured.Count - q).Select(s => s.E2eP99Ms)))} ms");
            }
        }
        sb.AppendLine();
        sb.AppendLine("## Plots");
        sb.AppendLine();
        sb.AppendLine("![throughput](throughput.svg)");
        sb.AppendLine();
        sb.AppendLine("![latency](latency.svg)");
        sb.AppendLine();
        sb.AppendLine("![lag](lag.svg)");
        sb.AppendLine();
        sb.AppendLine("Raw series (one row per second): [series.csv](series.csv).");
        return sb.ToString();
    }

    private static string Html(LoadResult r, string command, IReadOnlyList<(string Name, string Svg)> charts)
    {
        var md = Markdown(r, command);
        var sb = new StringBuilder("<!doctype html><html><head><meta charset=\"utf-8\"><title>smstream load report</title>" +
            "<style>body{font-family:sans-serif;max-width:1000px;margin:2em auto}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px}code{background:#f4f4f4}</style></head><body>\n");
        var inTable = false;
        foreach (var raw in md.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (line.StartsWith('|'))
            {
                if (line.StartsWith("|---", StringComparison.Ordinal))
                {
                    continue;
                }
                if (!inTable)
                {
                    sb.Append("<table>");
                    inTable = true;
                }
                var cells = line.Trim('|').Split('|');
                sb.Append("<tr>");
                foreach (var c in cells)
                {
                    sb.Append("<td>").Append(WebUtility.HtmlEncode(c.Trim().Replace("**", "", StringComparison.Ordinal))).Append("</td>");
                }
                sb.Append("</tr>\n");
                continue;
            }
            if (inTable)
            {
                sb.Append("</table>\n");
                inTable = false;
            }
            if (line.StartsWith("![", StringComparison.Ordinal))
            {
                var name = line[(line.IndexOf('(', StringComparison.Ordinal) + 1)..line.IndexOf(".svg", StringComparison.Ordinal)];
                sb.Append(charts.First(c => c.Name == name).Svg).Append('\n');
            }
            else if (line.StartsWith("## ", StringComparison.Ordinal))
            {
                sb.Append("<h2>").Append(WebUtility.HtmlEncode(line[3..])).Append("</h2>\n");
            }
            else if (line.StartsWith("# ", StringComparison.Ordinal))
            {
                sb.Append("<h1>").Append(WebUtility.HtmlEncode(line[2..])).Append("</h1>\n");
            }
            else if (line.StartsWith("- ", StringComparison.Ordinal))
            {
                sb.Append("<li>").Append(WebUtility.HtmlEncode(line[2..])).Append("</li>\n");
            }
            else if (line.Length > 0)
            {
                sb.Append("<p>").Append(WebUtility.HtmlEncode(line.Replace("`", "", StringComparison.Ordinal))).Append("</p>\n");
            }
        }
        sb.Append("<p><a href=\"series.csv\">series.csv</a></p></body></html>\n");
        return sb.ToString();
    }

    public static IReadOnlyList<(string Name, string Svg)> Charts(IReadOnlyList<LoadSample> s)
    {
        ArgumentNullException.ThrowIfNull(s);
        var t = s.Select(x => x.Seconds).ToArray();
        return
        [
            ("throughput", SvgChart.Lines("Throughput (readings/s; messages/s for acked and processed)", "s", t,
                [("offered readings/s", s.Select(x => x.OfferedReadingsPerSecond).ToArray()), ("sent readings/s", s.Select(x => x.SentReadingsPerSecond).ToArray()),
                 ("acked messages/s", s.Select(x => x.AckedMessagesPerSecond).ToArray()), ("engine committed messages/s", s.Select(x => x.ProcessedMessagesPerSecond).ToArray())])),
            ("latency", SvgChart.Lines("Latency percentiles per second (ms)", "s", t,
                [("ack p50", s.Select(x => x.AckP50Ms).ToArray()), ("ack p99", s.Select(x => x.AckP99Ms).ToArray()),
                 ("e2e p50", s.Select(x => x.E2eP50Ms).ToArray()), ("e2e p99", s.Select(x => x.E2eP99Ms).ToArray()), ("alert p99", s.Select(x => x.AlertP99Ms).ToArray())])),
            ("lag", SvgChart.Lines("Consumer lag (messages) and RSS (MB)", "s", t,
                [("lag messages", s.Select(x => (double)x.LagMessages).ToArray()), ("RSS MB", s.Select(x => x.RssMb).ToArray())])),
        ];
    }

    private static string Ms(HdrHistogram.HistogramBase h, double p) => h.TotalCount == 0 ? "–" : F(h.GetValueAtPercentile(p) / 1000.0);

    private static double Median(IEnumerable<double> values)
    {
        var v = values.Where(x => !double.IsNaN(x)).Order().ToArray();
        return v.Length == 0 ? double.NaN : v[v.Length / 2];
    }

    private static string F(double v) => double.IsNaN(v) ? "" : v.ToString(Math.Abs(v) >= 100 ? "F0" : "F2", Inv);
}

/// <summary>Minimal hand-written SVG line charts (no native dependency, renders anywhere).</summary>
public static class SvgChart
{
    private static readonly string[] Colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"];

    public static string Lines(string title, string xLabel, double[] x, IReadOnlyList<(string Name, double[] Y)> series)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(series);
        const int W = 900, H = 320, L = 70, R = 20, T = 30, B = 60;
        var inv = CultureInfo.InvariantCulture;
        var xmax = x.Length == 0 ? 1 : Math.Max(1, x.Max());
        var ymax = series.SelectMany(s => s.Y).Where(v => !double.IsNaN(v) && !double.IsInfinity(v)).DefaultIfEmpty(1).Max();
        ymax = ymax <= 0 ? 1 : ymax * 1.05;
        double Px(double v) => L + (v / xmax * (W - L - R));
        double Py(double v) => H - B - (v / ymax * (H - T - B));
        var sb = new StringBuilder();
        sb.Append(inv, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" font-family=\"sans-serif\" font-size=\"11\">");
        sb.Append(inv, $"<rect width=\"{W}\" height=\"{H}\" fill=\"white\"/><text x=\"{W / 2}\" y=\"18\" text-anchor=\"middle\" font-size=\"13\">{WebUtility.HtmlEncode(title)}</text>");
        for (var i = 0; i <= 4; i++)
        {
            var yv = ymax * i / 4;
            sb.Append(inv, $"<line x1=\"{L}\" x2=\"{W - R}\" y1=\"{Py(yv):F1}\" y2=\"{Py(yv):F1}\" stroke=\"#ddd\"/><text x=\"{L - 5}\" y=\"{Py(yv) + 4:F1}\" text-anchor=\"end\">{Label(yv)}</text>");
            var xv = xmax * i / 4;
            sb.Append(inv, $"<text x=\"{Px(xv):F1}\" y=\"{H - B + 15}\" text-anchor=\"middle\">{xv:F0}</text>");
        }
        sb.Append(inv, $"<text x=\"{(W + L) / 2}\" y=\"{H - B + 30}\" text-anchor=\"middle\">{WebUtility.HtmlEncode(xLabel)}</text>");
        for (var si = 0; si < series.Count; si++)
        {
            var (name, y) = series[si];
            var color = Colors[si % Colors.Length];
            var pts = new StringBuilder();
            for (var i = 0; i < Math.Min(x.Length, y.Length); i++)
            {
                if (double.IsNaN(y[i]) || double.IsInfinity(y[i]))
                {
                    continue;
                }
                pts.Append(inv, $"{Px(x[i]):F1},{Py(y[i]):F1} ");
            }
            sb.Append(inv, $"<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"1.5\" points=\"{pts.ToString().TrimEnd()}\"/>");
            var lx = L + (si * 140);
            sb.Append(inv, $"<rect x=\"{lx}\" y=\"{H - 18}\" width=\"10\" height=\"10\" fill=\"{color}\"/><text x=\"{lx + 14}\" y=\"{H - 9}\">{WebUtility.HtmlEncode(name)}</text>");
        }
        sb.Append("</svg>");
        return sb.ToString();
    }

    private static string Label(double v) => v >= 1_000_000 ? (v / 1_000_000).ToString("0.#", CultureInfo.InvariantCulture) + "M"
        : v >= 1_000 ? (v / 1_000).ToString("0.#", CultureInfo.InvariantCulture) + "k" : v.ToString("0.##", CultureInfo.InvariantCulture);
}
