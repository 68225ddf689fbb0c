using SmartMaintenance.Streams.Scoring.Nab;
using Xunit;

namespace SmartMaintenance.Streams.Scoring.Tests;

public class NabScorerTests
{
    private static readonly NabProfile Standard = new("standard", 1.0, 1.0, 0.11);
    private static readonly (int, int)[] OneWindow = [(50, 59)];

    private static double[] Scores(int n, params (int Row, double Score)[] set)
    {
        var s = new double[n];
        foreach (var (row, score) in set)
        {
            s[row] = score;
        }
        return s;
    }

    [Theory]
    [InlineData(100, 15)]
    [InlineData(4032, 604)]
    [InlineData(5000, 750)]
    [InlineData(22695, 750)]
    [InlineData(6, 0)]
    public void Probationary_period_is_15_percent_capped_at_750_rows(int rows, int expected) =>
        Assert.Equal(expected, NabScorer.ProbationaryLength(rows));

    [Fact]
    public void Scaled_sigmoid_matches_hand_computed_values()
    {
        Assert.Equal(0.9866142981514305, NabScorer.ScaledSigmoid(-1), 12);
        Assert.Equal(0.0, NabScorer.ScaledSigmoid(0), 12);
        Assert.Equal(-0.9866142981514305, NabScorer.ScaledSigmoid(1), 12);
        Assert.Equal(-1.0, NabScorer.ScaledSigmoid(3.0001), 12);
    }

    [Fact]
    public void Row_weights_follow_the_sigmoid_inside_and_after_a_window()
    {
        var rows = NabScorer.Rows(new double[100], OneWindow, Standard);
        Assert.Equal(-2, rows[10].Window); // probation
        Assert.Equal(-1, rows[20].Window);
        Assert.Equal(-0.11, rows[20].Weight, 12); // no preceding window: full FP cost
        Assert.Equal(0, rows[50].Window);
        Assert.Equal(1.0, rows[50].Weight, 12); // left edge earns the full TP weight
        Assert.Equal(0.9771068409226045, rows[52].Weight, 12);
        Assert.Equal(0.24824154977542992, rows[59].Weight, 12); // near the right edge almost nothing
        Assert.Equal(-0.029793183036839352, rows[60].Weight, 12); // just after the window an FP is cheap
        Assert.Equal(-0.10915277288169534, rows[69].Weight, 12);
    }

    [Fact]
    public void Only_the_first_detection_in_a_window_counts_and_probation_is_ignored()
    {
        var scores = Scores(100, (10, 1), (52, 1), (55, 1), (58, 1), (69, 1));
        var rows = NabScorer.Rows(scores, OneWindow, Standard);
        var result = NabScorer.ScoreAt([rows], 0.5, Standard);
        Assert.Equal(1, result.TruePositives);
        Assert.Equal(1, result.FalsePositives);
        Assert.Equal(0, result.FalseNegatives);
        Assert.Equal(0.9771068409226045 - 0.10915277288169534, result.Raw, 12);
    }

    [Fact]
    public void A_missed_window_costs_the_fn_weight()
    {
        var rows = NabScorer.Rows(new double[100], OneWindow, new NabProfile("low_fn", 1, 2, 0.11));
        var result = NabScorer.ScoreAt([rows], 0.5, new NabProfile("low_fn", 1, 2, 0.11));
        Assert.Equal(-2.0, result.Raw, 12);
        Assert.Equal(1, result.FalseNegatives);
    }

    [Fact]
    public void Normalization_maps_null_to_0_and_perfect_to_100()
    {
        Assert.Equal(0, new NabScore(-1, 0, 0, 1, 1).Normalized(Standard), 12);
        Assert.Equal(100, new NabScore(1, 1, 0, 0, 1).Normalized(Standard), 12);
        Assert.Equal(50, new NabScore(0, 0, 0, 0, 1).Normalized(Standard), 12);
        var perfect = NabScorer.ScoreAt([NabScorer.Rows(Scores(100, (50, 1)), OneWindow, Standard)], 0.5, Standard);
        Assert.Equal(100, perfect.Normalized(Standard), 9);
        var none = NabScorer.ScoreAt([NabScorer.Rows(new double[100], OneWindow, Standard)], 0.5, Standard);
        Assert.Equal(0, none.Normalized(Standard), 9);
    }

    [Fact]
    public void Sweep_picks_the_corpus_wide_threshold_with_the_best_total()
    {
        // Series A: TP at 0.9, FP at 0.8, a later in-window row at 0.7. Series B: its window found only at 0.6.
        var a = NabScorer.Rows(Scores(100, (52, 0.9), (20, 0.8), (55, 0.7)), OneWindow, Standard);
        var b = NabScorer.Rows(Scores(100, (50, 0.6)), OneWindow, Standard);
        var (threshold, total) = NabScorer.Sweep([a, b], Standard);
        Assert.Equal(0.6, threshold);
        Assert.Equal(0.9771068409226045 - 0.11 + 1.0, total.Raw, 12);

        var (aloneThreshold, alone) = NabScorer.Sweep([a], Standard);
        Assert.Equal(0.9, aloneThreshold);
        Assert.Equal(0.9771068409226045, alone.Raw, 12);
    }

    [Fact]
    public void Sweep_of_a_detector_that_never_fires_is_the_null_score()
    {
        var (threshold, total) = NabScorer.Sweep([NabScorer.Rows(new double[100], OneWindow, Standard)], Standard);
        Assert.Equal(-1.0, total.Raw, 12);
        Assert.True(threshold > 1);
    }
}
