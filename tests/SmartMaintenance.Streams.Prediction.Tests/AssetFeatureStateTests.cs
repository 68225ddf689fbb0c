using SmartMaintenance.Streams.Prediction.Rul;
using Xunit;

namespace SmartMaintenance.Streams.Prediction.Tests;

public sealed class AssetFeatureStateTests
{
    private static readonly RulFeatureSpec Spec = new() { Channels = ["s2", "s7"], Window = 3, ShortWindow = 2 };

    // One condition; s2 normalised as (x − 10) / 2, s7 as (x − 100) / 5.
    private static readonly OperatingConditions Conditions = new()
    {
        Centres = [[0, 0, 100]],
        SettingScale = [1, 0.01, 1],
        Mean = [[10, 100]],
        Std = [[2, 5]],
    };

    private static double[] Row(double cycle, double s2, double s7)
    {
        var row = new double[RulChannels.All.Count];
        row[0] = cycle;
        row[3] = 100;
        row[RulChannels.IndexOf("s2")] = s2;
        row[RulChannels.IndexOf("s7")] = s7;
        return row;
    }

    [Fact]
    public void Features_after_more_cycles_than_the_window_match_a_hand_computed_case()
    {
        var state = new AssetFeatureState(Spec, Conditions);
        // s2 → z 0, 1, 3, 4; s7 → z 0, −1, −2, −4.
        state.AddCycle(Row(1, 10, 100));
        state.AddCycle(Row(2, 12, 95));
        state.AddCycle(Row(3, 16, 90));
        state.AddCycle(Row(4, 18, 80));
        var f = new float[Spec.FeatureCount];
        state.WriteFeatures(f);

        // Window = last 3 cycles: s2 z = 1, 3, 4 → mean 8/3, last-2 mean 3.5, slope Σ(x − 1)·y / 2 = (−1 + 4) / 2 = 1.5.
        // s7 z = −1, −2, −4 → mean −7/3, last-2 mean −3, slope (1 − 4) / 2 = −1.5.
        Assert.Equal(["cycle", "s2_mean3", "s2_mean2", "s2_slope3", "s7_mean3", "s7_mean2", "s7_slope3"], Spec.FeatureNames());
        Assert.Equal(4f, f[0]);
        Assert.Equal(8f / 3, f[1], 5);
        Assert.Equal(3.5f, f[2], 5);
        Assert.Equal(1.5f, f[3], 5);
        Assert.Equal(-7f / 3, f[4], 5);
        Assert.Equal(-3f, f[5], 5);
        Assert.Equal(-1.5f, f[6], 5);
    }

    [Fact]
    public void Features_after_one_cycle_cover_that_cycle_with_zero_slope()
    {
        var state = new AssetFeatureState(Spec, Conditions);
        state.AddCycle(Row(7, 14, 110));
        var f = new float[Spec.FeatureCount];
        state.WriteFeatures(f);
        Assert.Equal([7f, 2f, 2f, 0f, 2f, 2f, 0f], f);
    }

    [Fact]
    public void Operating_conditions_normalise_each_condition_by_its_own_statistics()
    {
        var idx = new[] { RulChannels.IndexOf("s2") };
        var rows = new List<double[]>();
        for (var i = 0; i < 200; i++)
        {
            // Two conditions (sea level / 42 kft) with different s2 levels.
            var high = i % 2 == 0;
            var row = new double[RulChannels.All.Count];
            row[1] = high ? 42.0004 : 0.0002;
            row[2] = high ? 0.84 : 0.0;
            row[3] = 100;
            row[idx[0]] = (high ? 550 : 640) + (i % 4 < 2 ? -1 : 1);
            rows.Add(row);
        }
        var conditions = OperatingConditions.Learn(rows, idx);
        Assert.Equal(2, conditions.Centres.Length);
        var spec = new RulFeatureSpec { Channels = ["s2"], Window = 2, ShortWindow = 1 };
        var state = new AssetFeatureState(spec, conditions);
        state.AddCycle(rows[0]);
        state.AddCycle(rows[1]);
        var f = new float[spec.FeatureCount];
        state.WriteFeatures(f);
        // Each value is one standard deviation below its own condition's mean, whatever the condition.
        Assert.Equal(-1f, f[2], 4);
        Assert.Equal(-1f, f[1], 4);
    }
}
