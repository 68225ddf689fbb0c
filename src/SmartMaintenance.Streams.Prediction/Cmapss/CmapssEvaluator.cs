using System.Globalization;
using System.Text;
using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Prediction.Rul;
using SmartMaintenance.Streams.Prediction.Training;

namespace SmartMaintenance.Streams.Prediction.Cmapss;

/// <summary>Final RUL estimate of one engine of a split, after its last cycle.</summary>
public sealed record CmapssFinalEstimate(int Unit, int Cycles, double Rul, double Lower, double Upper);

/// <summary>
/// Replays the engines of a C-MAPSS file as readings through <see cref="RulPredictor"/> (the engine's own assembly,
/// features and model) and keeps each engine's estimate after its last cycle.
/// </summary>
public static class CmapssEvaluator
{
    public static readonly DateTimeOffset ReplayStart = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public static IReadOnlyList<CmapssFinalEstimate> FinalEstimates(IReadOnlyList<CmapssUnit> units, RulModel model, string assetPrefix = "cmapss")
    {
        ArgumentNullException.ThrowIfNull(units);
        var predictor = new RulPredictor(model);
        var readings = new CmapssReadings(assetPrefix, ReplayStart, TimeSpan.FromMinutes(1));
        var batch = new List<SensorReading>(RulChannels.All.Count);
        var results = new List<CmapssFinalEstimate>(units.Count);
        foreach (var unit in units)
        {
            RulEstimate last = default;
            var any = false;
            foreach (var row in unit.Rows)
            {
                batch.Clear();
                readings.Cycle(unit.Unit, row, batch);
                foreach (var r in batch)
                {
                    if (predictor.OnReading(r, out var e))
                    {
                        last = e;
                        any = true;
                    }
                }
            }
            if (!any)
            {
                throw new InvalidDataException($"Engine {unit.Unit}: no cycle produced an estimate.");
            }
            results.Add(new CmapssFinalEstimate(unit.Unit, unit.Cycles, last.Rul, last.Lower, last.Upper));
        }
        return results;
    }

    /// <summary><c>unit,rul</c> rows, RUL rounded to 0.01 cycles.</summary>
    public static string Csv(IReadOnlyList<CmapssFinalEstimate> estimates, bool withInterval = false)
    {
        ArgumentNullException.ThrowIfNull(estimates);
        var sb = new StringBuilder(withInterval ? "unit,rul,lower,upper\n" : "unit,rul\n");
        foreach (var e in estimates)
        {
            sb.Append(CultureInfo.InvariantCulture, $"{e.Unit},{e.Rul:0.##}");
            if (withInterval)
            {
                sb.Append(CultureInfo.InvariantCulture, $",{e.Lower:0.##},{e.Upper:0.##}");
            }
            sb.Append('\n');
        }
        return sb.ToString();
    }

    /// <summary>Cross-validation figures as a Markdown table: per fold and the mean.</summary>
    public static string Markdown(RulCrossValidationResult cv)
    {
        ArgumentNullException.ThrowIfNull(cv);
        var sb = new StringBuilder();
        sb.Append("| fold | engines | RMSE (truncated, capped truth) | NASA /100 engines | RMSE (all cycles) |\n");
        sb.Append("|---|---|---|---|---|\n");
        foreach (var f in cv.Folds)
        {
            Row(sb, f.Fold.ToString(CultureInfo.InvariantCulture), f);
        }
        Row(sb, "**mean**", cv.Mean);
        sb.Append(CultureInfo.InvariantCulture, $"\nInterval: {cv.Intervals.Coverage:P0} nominal, {cv.IntervalCoverage:P1} of out-of-fold cycles inside.\n");
        return sb.ToString();

        static void Row(StringBuilder sb, string name, RulFold f) =>
            sb.Append(CultureInfo.InvariantCulture,
                $"| {name} | {f.Engines} | {f.RmseTruncated:0.00} | {f.NasaTruncated:0} | {f.RmseAllCycles:0.00} |\n");
    }
}
