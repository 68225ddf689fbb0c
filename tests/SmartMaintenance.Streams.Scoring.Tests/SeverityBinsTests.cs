using SmartMaintenance.Streams.Scoring;
using Xunit;

namespace SmartMaintenance.Streams.Scoring.Tests;

/// <summary>docs/scoring.md: severity is 1–5 spread evenly over the score range [FireThreshold, 1].</summary>
public sealed class SeverityBinsTests
{
    [Theory]
    [InlineData(0.5, 1)]
    [InlineData(0.599, 1)]
    [InlineData(0.6, 2)]
    [InlineData(0.7, 3)]
    [InlineData(0.8, 4)]
    [InlineData(0.899, 4)]
    [InlineData(0.9, 5)]
    [InlineData(0.935, 5)]
    [InlineData(0.995, 5)]
    [InlineData(0.99999, 5)]
    [InlineData(1.0, 5)]
    [InlineData(0.2, 1)]
    public void Five_equal_bins_over_threshold_to_one(double score, int severity) =>
        Assert.Equal(severity, SeverityBins.FromScore(score, threshold: 0.5));

    [Fact]
    public void Every_bin_holds_a_fifth_of_the_range_for_any_threshold()
    {
        var random = new Random(19);
        for (var run = 0; run < 1_000; run++)
        {
            var threshold = random.NextDouble() * 0.98;
            var width = (1 - threshold) / 5;
            for (var bin = 0; bin < 5; bin++)
            {
                var inside = threshold + width * (bin + 0.01 + 0.98 * random.NextDouble());
                Assert.Equal(bin + 1, SeverityBins.FromScore(inside, threshold));
            }
        }
    }

    [Fact]
    public void Anomalies_of_the_detectors_carry_the_binned_severity_of_their_score()
    {
        var values = Synthetic.Noise(3000);
        for (var at = 1000; at < 3000; at += 250)
        {
            values[at] += 4 + at / 250;
        }
        var found = Synthetic.Run(new DetectorPipeline(new ScoringOptions()), values);
        Assert.NotEmpty(found);
        foreach (var (_, anomaly) in found)
        {
            var expected = anomaly.Detector == "range" ? 5 : SeverityBins.FromScore(anomaly.Score, anomaly.Threshold);
            Assert.Equal(expected, anomaly.Severity);
        }
        Assert.Contains(found, f => f.Anomaly.Severity == 5 && f.Anomaly.Score < 1);
    }
}
