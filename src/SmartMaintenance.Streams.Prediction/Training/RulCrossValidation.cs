using SmartMaintenance.Streams.Prediction.Cmapss;
using SmartMaintenance.Streams.Prediction.Rul;

namespace SmartMaintenance.Streams.Prediction.Training;

/// <summary>Figures of one held-out fold.</summary>
/// <param name="RmseTruncated">At seeded truncation points of each held-out engine (the test set's situation), against the
/// true RUL capped like the target.</param>
/// <param name="NasaTruncated">NASA score at those points, per 100 engines (the test set's size), capped truth.</param>
/// <param name="RmseAllCycles">Every cycle of the held-out engines, capped truth.</param>
public sealed record RulFold(int Fold, int Engines, double RmseTruncated, double NasaTruncated, double RmseAllCycles);

public sealed record RulCrossValidationResult(IReadOnlyList<RulFold> Folds, RulIntervals Intervals, double IntervalCoverage)
{
    public RulFold Mean => new(0, Folds.Sum(f => f.Engines),
        Folds.Average(f => f.RmseTruncated), Folds.Average(f => f.NasaTruncated), Folds.Average(f => f.RmseAllCycles));
}

/// <summary>
/// Cross-validation grouped by engine (never by row: rows of one engine are strongly correlated, a row split leaks):
/// engines are shuffled with a seed and dealt into k folds; each fold's model learns its operating conditions and trees
/// from the other folds only.
/// </summary>
/// <remarks>Test engines are cut off before failure, so each held-out engine is also scored as if cut off at
/// <see cref="TruncationsPerEngine"/> seeded points, uniform over cycles [<see cref="MinTruncation"/>, last − 1]
/// (the shortest test engine has 31 cycles). NASA scores are summed per engine and scaled to 100 engines.</remarks>
public static class RulCrossValidation
{
    public const int TruncationsPerEngine = 10;
    public const int MinTruncation = 31;

    public static RulCrossValidationResult Run(IReadOnlyList<CmapssUnit> units, RulFeatureSpec spec, RulTrainerOptions options)
    {
        ArgumentNullException.ThrowIfNull(units);
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(options);
        var folds = AssignFolds(units.Select(u => u.Unit).ToList(), options.Folds, options.Seed);
        var results = new List<RulFold>();
        var oofPredicted = new List<double>();
        var oofTruth = new List<double>();
        var rng = new Random(options.Seed);
        for (var k = 0; k < options.Folds; k++)
        {
            var train = units.Where(u => folds[u.Unit] != k).ToList();
            var test = units.Where(u => folds[u.Unit] == k).ToList();
            var conditions = OperatingConditions.Learn(train.SelectMany(u => u.Rows).ToList(), spec.ChannelIndices());
            var trainSet = RulDataset.Build(train, spec, conditions);
            var testSet = RulDataset.Build(test, spec, conditions);
            var regressor = new RulRegressor(options, spec.FeatureCount);
            var model = regressor.Fit(trainSet.Features, trainSet.Rul);
            var predicted = regressor.Predict(model, testSet.Features);
            var capped = testSet.Rul.Select(r => Math.Min(r, options.Cap)).ToArray();
            oofPredicted.AddRange(predicted);
            oofTruth.AddRange(capped);

            var pick = new List<double>();
            var truthCapped = new List<double>();
            var start = 0;
            foreach (var unit in test)
            {
                var n = unit.Cycles;
                var lo = Math.Min(MinTruncation, n) - 1;
                for (var t = 0; t < TruncationsPerEngine; t++)
                {
                    var at = lo + rng.Next(Math.Max(1, n - 1 - lo));
                    pick.Add(predicted[start + at]);
                    truthCapped.Add(capped[start + at]);
                }
                start += n;
            }
            var scale = 100.0 / pick.Count;
            results.Add(new RulFold(k + 1, test.Count,
                RulMetrics.Rmse([.. pick], [.. truthCapped]),
                RulMetrics.NasaScore([.. pick], [.. truthCapped]) * scale,
                RulMetrics.Rmse(predicted, capped)));
        }
        var intervals = RulIntervals.Learn(oofPredicted, oofTruth, options.Coverage);
        var inside = 0;
        for (var i = 0; i < oofPredicted.Count; i++)
        {
            var (lo, hi) = intervals.Around(oofPredicted[i]);
            if (oofTruth[i] >= lo && oofTruth[i] <= hi)
            {
                inside++;
            }
        }
        return new RulCrossValidationResult(results, intervals, (double)inside / oofPredicted.Count);
    }

    /// <summary>Fold of each engine: a seeded shuffle of the engine ids dealt round-robin.</summary>
    public static Dictionary<int, int> AssignFolds(IReadOnlyList<int> unitIds, int folds, int seed)
    {
        ArgumentNullException.ThrowIfNull(unitIds);
        ArgumentOutOfRangeException.ThrowIfLessThan(folds, 2);
        var ids = unitIds.Distinct().Order().ToArray();
        new Random(seed).Shuffle(ids);
        var map = new Dictionary<int, int>();
        for (var i = 0; i < ids.Length; i++)
        {
            map[ids[i]] = i % folds;
        }
        return map;
    }
}
