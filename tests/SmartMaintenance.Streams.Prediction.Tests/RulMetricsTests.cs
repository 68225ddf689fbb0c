using SmartMaintenance.Streams.Prediction.Training;
using Xunit;

namespace SmartMaintenance.Streams.Prediction.Tests;

public sealed class RulMetricsTests
{
    [Fact]
    public void Nasa_score_punishes_late_predictions_harder_than_early_ones()
    {
        // d = +10 → e − 1; d = −13 → e − 1; d = 0 → 0.
        Assert.Equal(Math.E - 1, RulMetrics.NasaScore([110], [100]), 10);
        Assert.Equal(Math.E - 1, RulMetrics.NasaScore([87], [100]), 10);
        Assert.True(RulMetrics.NasaTerm(10) > RulMetrics.NasaTerm(-10));
        Assert.Equal(2 * (Math.E - 1), RulMetrics.NasaScore([110, 87, 5], [100, 100, 5]), 10);
    }

    [Fact]
    public void Rmse_is_the_root_of_the_mean_squared_error()
    {
        Assert.Equal(Math.Sqrt((9 + 16) / 2.0), RulMetrics.Rmse([3, 0], [0, 4]), 12);
    }

    [Fact]
    public void Folds_group_by_engine_and_each_engine_is_held_out_once()
    {
        var ids = Enumerable.Range(1, 100).ToList();
        var folds = RulCrossValidation.AssignFolds(ids, 5, seed: 3);
        Assert.Equal(100, folds.Count);
        Assert.All(Enumerable.Range(0, 5), k => Assert.Equal(20, folds.Values.Count(f => f == k)));
        Assert.Equal(folds, RulCrossValidation.AssignFolds(ids, 5, seed: 3));
        Assert.NotEqual(folds, RulCrossValidation.AssignFolds(ids, 5, seed: 4));
    }
}
