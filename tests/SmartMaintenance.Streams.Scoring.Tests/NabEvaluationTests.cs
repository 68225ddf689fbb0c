using SmartMaintenance.Streams.Scoring.Nab;
using Xunit;

namespace SmartMaintenance.Streams.Scoring.Tests;

public sealed class NabEvaluationTests : IDisposable
{
    private static readonly string[] TwoShortSeries = ["realAdExchange/exchange-2_cpc_results.csv", "realKnownCause/rogue_agent_key_hold.csv"];
    private readonly string _out = Path.Combine(Path.GetTempPath(), "smstream-nab-" + Guid.NewGuid().ToString("N"));

    [Fact]
    public void Evaluation_of_two_short_series_is_deterministic_and_at_most_100()
    {
        var root = Synthetic.NabDev();
        var first = NabEvaluator.Run(root, new ScoringOptions(), _out, TwoShortSeries);
        var second = NabEvaluator.Run(root, new ScoringOptions(), null, TwoShortSeries);

        Assert.Equal(2, first.SeriesCount);
        Assert.Equal(3, first.Profiles.Count);
        Assert.Equal(NabEvaluator.ResultsCsv(first), NabEvaluator.ResultsCsv(second));
        foreach (var p in first.Profiles)
        {
            Assert.True(p.Normalized <= 100, $"{p.Profile.Name}: {p.Normalized}");
            Assert.False(double.IsNaN(p.Normalized));
            Assert.Equal(p.Series.Sum(s => s.Score.Raw), p.Total.Raw, 9);
        }
        var csv = File.ReadAllLines(Path.Combine(_out, "series", TwoShortSeries[0]));
        Assert.Equal("timestamp,value,anomaly_score,fired,detector,label", csv[0]);
        Assert.Equal(1624 + 1, csv.Length);
        Assert.True(File.Exists(Path.Combine(_out, "results.csv")));
        Assert.True(File.Exists(Path.Combine(_out, "summary.md")));
    }

    [Fact]
    public void Replay_scores_are_in_unit_interval_and_use_no_labels()
    {
        var series = NabCorpus.Load(Synthetic.NabDev()).First(s => s.Name == TwoShortSeries[1]);
        var unlabeled = series with { Windows = [] };
        var (labelled, _, _) = NabEvaluator.Replay(series, new ScoringOptions());
        var (blind, _, _) = NabEvaluator.Replay(unlabeled, new ScoringOptions());
        Assert.Equal(labelled, blind);
        Assert.All(labelled, s => Assert.InRange(s, 0, 1));
    }

    public void Dispose()
    {
        if (Directory.Exists(_out))
        {
            Directory.Delete(_out, recursive: true);
        }
    }
}
