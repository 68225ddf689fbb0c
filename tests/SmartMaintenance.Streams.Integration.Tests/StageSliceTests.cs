using SmartMaintenance.Streams.Alerting;
using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Engine.Stages;
using SmartMaintenance.Streams.Scoring;
using SmartMaintenance.Streams.Windowing;
using Xunit;

namespace SmartMaintenance.Streams.Integration.Tests;

/// <summary>StageOutputs.SliceAggregates: the stages hand their aggregates on in slices of a bounded size, each judged by the
/// window detectors before it leaves, in the middle of the window operator's emission.</summary>
public sealed class StageSliceTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private const int Sensors = 40;

    [Fact]
    public void Sliced_stages_emit_the_same_aggregates_and_window_anomalies_as_unsliced_ones_in_slices_of_the_configured_size()
    {
        var (expectedAggregates, expectedAnomalies, _) = Run(sliceSize: 0);
        var (aggregates, anomalies, slices) = Run(sliceSize: 7);

        Assert.Contains(expectedAnomalies, a => a.StartsWith("s-3/window/", StringComparison.Ordinal));
        Assert.Equal(expectedAggregates, aggregates);
        Assert.Equal(expectedAnomalies, anomalies);
        Assert.Equal(expectedAggregates.Count / 7, slices.Count);
        Assert.All(slices, n => Assert.Equal(7, n));
    }

    private static (List<WindowAggregate> Aggregates, List<string> Anomalies, List<int> Slices) Run(int sliceSize)
    {
        using var windows = new RxWindowStage(new WindowingSettings { IdleTimeout = TimeSpan.Zero }, new ManualClock(T0));
        var stages = new PipelineStages(windows, new DetectorPipeline(new ScoringOptions { Defaults = { WarmupReadings = 20 } }), new AlertTracker(new AlertOptions()));
        var aggregates = new List<WindowAggregate>();
        var slices = new List<int>();
        var outputs = new StageOutputs
        {
            SliceAggregates = sliceSize,
            SliceReady = o =>
            {
                slices.Add(o.Aggregates.Count);
                aggregates.AddRange(o.Aggregates);
                o.Aggregates.Clear();
            },
        };
        stages.OnPartitionsAssigned(new Dictionary<int, long?> { [0] = null }, outputs);
        var offset = 0L;
        // An hour, a reading every 30 s per sensor, in time order: every minute end fires every sensor's windows at once.
        for (var t = T0; t < T0.AddMinutes(60); t = t.AddSeconds(30))
        {
            for (var s = 0; s < Sensors; s++)
            {
                // Sensor 3 jumps in minute 50: its one-minute window there is far off its history.
                var value = 20 + (0.2 * Math.Sin((offset * 0.13) + s)) + (s == 3 && t >= T0.AddMinutes(50) && t < T0.AddMinutes(51) ? 40 : 0);
                var reading = new SensorReading("s-" + s, t.ToUnixTimeMilliseconds(), value, SensorType: "temperature",
                    Position: new SourcePosition(0, offset, 0));
                offset++;
                Assert.Equal(RejectReason.None, stages.OnReading(reading, replaying: false, outputs, out _));
            }
        }
        stages.OnBatchBoundary(outputs);
        aggregates.AddRange(outputs.Aggregates);
        var anomalies = outputs.Anomalies.Select(a => $"{a.SensorId}/{a.Detector}/{a.WindowStart}/{a.Score:R}").ToList();
        return (aggregates, anomalies, slices);
    }
}
