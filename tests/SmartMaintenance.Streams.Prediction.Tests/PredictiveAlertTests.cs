using SmartMaintenance.Streams.Alerting;
using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Engine.Stages;
using SmartMaintenance.Streams.Prediction.Rul;
using SmartMaintenance.Streams.Prediction.Stream;
using SmartMaintenance.Streams.Scoring;
using SmartMaintenance.Streams.Windowing;
using Xunit;

namespace SmartMaintenance.Streams.Prediction.Tests;

[Collection(TrainedModelCollection.Name)]
public sealed class PredictiveAlertTests(TrainedModelFixture fixture)
{
    private sealed class Discard : IRulEstimateStore
    {
        public void Write(IReadOnlyList<RulEstimate> estimates, string modelId)
        {
        }
    }

    [Fact]
    public void A_lower_bound_inside_the_horizon_opens_escalates_and_later_resolves_a_predicted_failure_alert()
    {
        var quiet = TimeSpan.FromMinutes(5);
        var stages = new PredictionStages(
            new PipelineStages(new RxWindowStage(new WindowingSettings()), new DetectorPipeline(new ScoringOptions()), new AlertTracker(new AlertOptions())),
            new RulPredictor(fixture.Model), new Discard(), new AlertTracker(new AlertOptions { QuietPeriod = quiet }), horizon: 30);
        var events = new List<AlertEvent>();
        long Minute(int m) => CmapssEvaluatorStart + m * 60_000L;

        stages.Judge(new RulEstimate("e1", Minute(0), 100, 60, 45, 80, 1), events);
        Assert.Empty(events);
        // The interval reaches into the horizon: open, severity 3.
        stages.Judge(new RulEstimate("e1", Minute(1), 101, 40, 25, 55, 1), events);
        var open = Assert.Single(events);
        Assert.Equal((AlertStatus.Open, "predicted_failure", "e1/rul", "e1", 3), (open.Status, open.Detector, open.SensorId, open.AssetId, open.Severity));
        Assert.Equal(25, open.Evidence!["rul_lower"]!.GetValue<double>());
        Assert.Equal(1, open.Evidence!["model_version"]!.GetValue<int>());
        // The estimate itself inside the horizon: updated, severity 4, same alert.
        stages.Judge(new RulEstimate("e1", Minute(2), 102, 20, 8, 35, 1), events);
        Assert.Equal(2, events.Count);
        Assert.Equal((AlertStatus.Updated, 4, open.AlertId), (events[1].Status, events[1].Severity, events[1].AlertId));
        // Back above the horizon (after maintenance): resolved once the quiet period has passed, not before.
        stages.Judge(new RulEstimate("e1", Minute(3), 1, 120, 100, 125, 1), events);
        Assert.Equal(2, events.Count);
        stages.Judge(new RulEstimate("e1", Minute(2 + (int)quiet.TotalMinutes), 5, 120, 100, 125, 1), events);
        Assert.Equal((AlertStatus.Resolved, open.AlertId), (events[2].Status, events[2].AlertId));
    }

    private static readonly long CmapssEvaluatorStart = Cmapss.CmapssEvaluator.ReplayStart.ToUnixTimeMilliseconds();
}
