using System.Globalization;
using System.Text;

namespace SmartMaintenance.Streams.Kafka.Simulation;

/// <summary>One row of a <see cref="DetectionReport"/>: the episodes of one anomaly kind and how many were caught how fast.</summary>
/// <param name="Injected">Episodes started, warm-up included.</param>
/// <param name="Scored">Episodes that started after their sensor's warm-up: the ones recall is computed over.</param>
/// <param name="DelayP50Ms">Median event time from an episode's first altered reading to its first detection (NaN: none detected).</param>
public sealed record DetectionRow(string Kind, int Injected, int Scored, int Detected, double DelayP50Ms, double DelayP95Ms)
{
    public int Missed => Scored - Detected;

    /// <summary>Detected / scored (NaN when no episode could be scored).</summary>
    public double Recall => Scored == 0 ? double.NaN : (double)Detected / Scored;
}

/// <summary>
/// Reconciles detections (sensor and event time of each alert) with the episodes a simulation injected. A detection
/// belongs to the most recent episode of the same sensor that started at or before it and ended no more than
/// <c>grace</c> before it; an episode with at least one detection is detected (delay: its first one); a detection that
/// belongs to no episode is a false alert, counted per 1,000 sensor-hours of observable (post-warm-up) event time.
/// </summary>
public sealed record DetectionReport(IReadOnlyList<DetectionRow> Kinds, DetectionRow Total, int FalseAlerts, double SensorHours, TimeSpan Grace)
{
    /// <summary>False alerts per 1,000 sensor-hours (NaN without observable time).</summary>
    public double FalseAlertsPerThousandSensorHours => SensorHours > 0 ? FalseAlerts * 1000 / SensorHours : double.NaN;

    public static DetectionReport Build(EpisodeLog log, IEnumerable<(string SensorId, long TimestampMs)> detections, TimeSpan grace)
    {
        ArgumentNullException.ThrowIfNull(log);
        ArgumentNullException.ThrowIfNull(detections);
        var graceMs = (long)grace.TotalMilliseconds;
        var bySensor = new Dictionary<string, List<int>>(StringComparer.Ordinal);
        var episodes = log.Episodes;
        for (var i = 0; i < episodes.Count; i++)
        {
            var id = episodes[i].Episode.SensorId;
            if (!bySensor.TryGetValue(id, out var list))
            {
                bySensor[id] = list = [];
            }
            list.Add(i);
        }
        foreach (var list in bySensor.Values)
        {
            list.Sort((a, b) => episodes[a].Episode.StartMs.CompareTo(episodes[b].Episode.StartMs));
        }

        var firstDetection = new long[episodes.Count];
        Array.Fill(firstDetection, long.MaxValue);
        var falseAlerts = 0;
        foreach (var (sensor, ts) in detections)
        {
            var owner = Owner(bySensor, episodes, sensor, ts, graceMs);
            if (owner < 0)
            {
                falseAlerts++;
            }
            else if (ts < firstDetection[owner])
            {
                firstDetection[owner] = ts;
            }
        }

        var kinds = new List<DetectionRow>();
        foreach (var kind in Enum.GetValues<AnomalyKind>())
        {
            kinds.Add(Row(kind.ToString().ToLowerInvariant(), episodes, firstDetection, e => e.Kind == kind));
        }
        var total = Row("all", episodes, firstDetection, _ => true);
        return new DetectionReport(kinds, total, falseAlerts, log.ObservedSensorHours, grace);
    }

    private static int Owner(Dictionary<string, List<int>> bySensor, IReadOnlyList<LoggedEpisode> episodes, string sensor, long ts, long graceMs)
    {
        if (!bySensor.TryGetValue(sensor, out var list))
        {
            return -1;
        }
        for (var k = list.Count - 1; k >= 0; k--)
        {
            var e = episodes[list[k]].Episode;
            if (e.StartMs <= ts)
            {
                return ts <= e.EndMs + graceMs ? list[k] : -1;
            }
        }
        return -1;
    }

    private static DetectionRow Row(string name, IReadOnlyList<LoggedEpisode> episodes, long[] firstDetection, Func<InjectedEpisode, bool> include)
    {
        int injected = 0, scored = 0, detected = 0;
        var delays = new List<double>();
        for (var i = 0; i < episodes.Count; i++)
        {
            var (e, warmup) = episodes[i];
            if (!include(e))
            {
                continue;
            }
            injected++;
            if (warmup)
            {
                continue;
            }
            scored++;
            if (firstDetection[i] != long.MaxValue)
            {
                detected++;
                delays.Add(firstDetection[i] - e.StartMs);
            }
        }
        delays.Sort();
        return new DetectionRow(name, injected, scored, detected, Percentile(delays, 0.5), Percentile(delays, 0.95));
    }

    /// <summary>Nearest-rank percentile of sorted values (NaN for none).</summary>
    public static double Percentile(IReadOnlyList<double> sorted, double q)
    {
        ArgumentNullException.ThrowIfNull(sorted);
        if (sorted.Count == 0)
        {
            return double.NaN;
        }
        var rank = (int)Math.Ceiling(q * sorted.Count);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Count - 1)];
    }

    public string ToText()
    {
        var c = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.Append(c, $"detection (grace {Grace.TotalSeconds:0} s after an episode; episodes during a sensor's warm-up are not scored)").AppendLine();
        sb.Append("kind         injected  scored  detected  missed  recall   delay p50   delay p95").AppendLine();
        foreach (var row in Kinds)
        {
            Line(sb, row);
        }
        Line(sb, Total);
        sb.Append(c, $"false alerts {FalseAlerts} in {SensorHours:0.##} sensor-hours after warm-up = {FalseAlertsPerThousandSensorHours:0.##} per 1,000 sensor-hours");
        return sb.ToString();

        static void Line(StringBuilder sb, DetectionRow r) =>
            sb.Append(CultureInfo.InvariantCulture,
                $"{r.Kind,-12} {r.Injected,8} {r.Scored,7} {r.Detected,9} {r.Missed,7} {Percent(r.Recall),7} {Delay(r.DelayP50Ms),11} {Delay(r.DelayP95Ms),11}").AppendLine();

        static string Percent(double v) => double.IsNaN(v) ? "-" : (v * 100).ToString("0.0", CultureInfo.InvariantCulture) + " %";

        static string Delay(double ms) => double.IsNaN(ms) ? "-" : (ms / 1000).ToString("0.00", CultureInfo.InvariantCulture) + " s";
    }
}
