using System.Globalization;
using SmartMaintenance.Streams.Kafka.Simulation;

namespace SmartMaintenance.Streams.Prediction.Forecasting;

/// <summary>Forecast quality against known failure times.</summary>
/// <param name="Forecasts">Forecasts judged: made while the true time to the limit was inside the horizon.</param>
/// <param name="MaeHours">Mean absolute error of the predicted time to the limit.</param>
/// <param name="Coverage">Share of judged forecasts whose interval held the true time.</param>
/// <param name="EpisodesWarned">Episodes whose maintenance came after at least one forecast alert (lower bound inside the horizon).</param>
public sealed record ForecastReport(DegradationMode? Mode, int Forecasts, double MaeHours, double MedianErrorHours, double Coverage, int Episodes, int EpisodesWarned, double NominalCoverage)
{
    public string Line() => string.Create(CultureInfo.InvariantCulture,
        $"{(Mode?.ToString().ToLowerInvariant() ?? "all"),-12} forecasts {Forecasts,6}  MAE {MaeHours,6:0.00} h  median |error| {MedianErrorHours,6:0.00} h  interval coverage {Coverage,6:P1} (nominal {NominalCoverage:P0})  episodes warned {EpisodesWarned}/{Episodes}");
}

/// <summary>Runs a <see cref="DegradationScenario"/> through one <see cref="TimeToLimitForecaster"/> per sensor and scores
/// each forecast made inside the horizon against the episode's known failure time.</summary>
public static class ForecastEvaluation
{
    public static IReadOnlyList<ForecastReport> Run(DegradationScenario scenario, DegradationOptions options, TimeSpan bucket, int buckets, TimeSpan horizon, double coverage = 0.8)
    {
        ArgumentNullException.ThrowIfNull(scenario);
        ArgumentNullException.ThrowIfNull(options);
        var forecasters = new Dictionary<string, TimeToLimitForecaster>(StringComparer.Ordinal);
        var errors = new Dictionary<DegradationMode, List<double>>();
        var inside = new Dictionary<DegradationMode, int>();
        var warned = new HashSet<(string, long)>();
        var modes = scenario.Episodes.GroupBy(e => e.SensorId).ToDictionary(g => g.Key, g => g.First().Mode, StringComparer.Ordinal);
        var horizonMs = horizon.TotalMilliseconds;
        foreach (var r in scenario.Readings())
        {
            if (!forecasters.TryGetValue(r.SensorId, out var f))
            {
                forecasters[r.SensorId] = f = new TimeToLimitForecaster(options.Limit, upper: true, bucket, buckets, coverage);
            }
            if (!f.OnReading(r.Timestamp, r.Value, out var forecast))
            {
                continue;
            }
            if (forecast.LowerMs <= horizonMs)
            {
                warned.Add((r.SensorId, r.FailureMs));
            }
            var truth = r.FailureMs - forecast.Timestamp;
            if (truth <= 0 || truth > horizonMs || f.Buckets < buckets)
            {
                continue;
            }
            var mode = modes[r.SensorId];
            if (!errors.TryGetValue(mode, out var list))
            {
                errors[mode] = list = [];
                inside[mode] = 0;
            }
            // An infinite forecast (no trend towards the limit yet) counts as the horizon: the alert would not fire.
            list.Add(Math.Abs(Math.Min(forecast.TimeToLimitMs, horizonMs) - truth) / 3_600_000);
            if (forecast.LowerMs <= truth && truth <= forecast.UpperMs)
            {
                inside[mode]++;
            }
        }
        var reports = new List<ForecastReport>();
        foreach (var mode in errors.Keys.Order())
        {
            reports.Add(Report(mode, errors[mode], inside[mode], Eligible(scenario, options, horizon, mode), warned, coverage));
        }
        reports.Add(Report(null, [.. errors.Values.SelectMany(x => x)], inside.Values.Sum(), Eligible(scenario, options, horizon, null), warned, coverage));
        return reports;
    }

    private static ForecastReport Report(DegradationMode? mode, List<double> errors, int inside, List<DegradationEpisode> episodes, HashSet<(string, long)> warned, double coverage)
    {
        var sorted = errors.Order().ToArray();
        return new ForecastReport(mode, errors.Count, errors.Count == 0 ? double.NaN : errors.Average(),
            sorted.Length == 0 ? double.NaN : sorted[sorted.Length / 2], errors.Count == 0 ? double.NaN : (double)inside / errors.Count,
            episodes.Count, episodes.Count(e => warned.Contains((e.SensorId, e.FailureMs))), coverage);
    }

    /// <summary>Episodes whose last horizon before maintenance lies wholly inside the simulated span: only those can be warned about.</summary>
    private static List<DegradationEpisode> Eligible(DegradationScenario scenario, DegradationOptions options, TimeSpan horizon, DegradationMode? mode)
    {
        var start = options.Start.ToUnixTimeMilliseconds();
        var end = start + (long)options.Duration.TotalMilliseconds;
        return [.. scenario.Episodes.Where(e => (mode is null || e.Mode == mode) && e.MaintenanceMs <= end && e.MaintenanceMs - horizon.TotalMilliseconds >= start)];
    }
}
