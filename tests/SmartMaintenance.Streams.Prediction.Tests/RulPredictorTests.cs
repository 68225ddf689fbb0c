using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Prediction.Cmapss;
using SmartMaintenance.Streams.Prediction.Rul;
using Xunit;

namespace SmartMaintenance.Streams.Prediction.Tests;

[Collection(TrainedModelCollection.Name)]
public sealed class RulPredictorTests(TrainedModelFixture fixture)
{
    private static readonly CmapssReadings Readings = new("t", CmapssEvaluator.ReplayStart, TimeSpan.FromMinutes(1));

    /// <summary>The shortest engine and the two longest interleaved cycle by cycle on one partition; each cycle's readings
    /// share one offset (an envelope). The short one falls silent early, so the idle rule is exercised too.</summary>
    private List<SensorReading> Interleaved()
    {
        var byLength = fixture.Test.OrderBy(u => u.Cycles).ToList();
        var units = new[] { byLength[0], byLength[^2], byLength[^1] };
        var list = new List<SensorReading>();
        var offset = 0L;
        for (var c = 0; c < units.Max(u => u.Cycles); c++)
        {
            foreach (var u in units.Where(u => c < u.Cycles))
            {
                Readings.Cycle(u.Unit, u.Rows[c], list, new SourcePosition(0, offset++, 0));
            }
        }
        return list;
    }

    [Fact]
    public void Streamed_readings_give_the_estimates_of_the_same_cycles_fed_whole()
    {
        var unit = fixture.Test[0];
        var predictor = new RulPredictor(fixture.Model);
        var streamed = new List<RulEstimate>();
        var batch = new List<SensorReading>();
        foreach (var row in unit.Rows)
        {
            batch.Clear();
            Readings.Cycle(unit.Unit, row, batch);
            foreach (var r in batch)
            {
                if (predictor.OnReading(r, out var e))
                {
                    streamed.Add(e);
                }
            }
        }
        var state = new AssetFeatureState(fixture.Model.Spec, fixture.Model.Artefact.Conditions);
        var f = new float[fixture.Model.Spec.FeatureCount];
        Assert.Equal(unit.Cycles, streamed.Count);
        for (var i = 0; i < unit.Cycles; i++)
        {
            state.AddCycle(unit.Rows[i]);
            state.WriteFeatures(f);
            var (rul, lower, upper) = fixture.Model.Estimate(f);
            Assert.Equal(rul, streamed[i].Rul);
            Assert.True(lower <= rul && rul <= upper, $"interval [{lower}, {upper}] around {rul}");
            Assert.Equal(unit.Rows[i][0], streamed[i].Cycle);
        }
    }

    // Shorter than the default so the short engine stops holding the replay back within the test's span.
    private static readonly TimeSpan Idle = TimeSpan.FromMinutes(20);

    [Theory]
    [InlineData(7, 10)]
    [InlineData(11, 45)]
    [InlineData(3, 90)]
    public void Restore_by_bounded_replay_gives_the_estimates_of_an_uninterrupted_run(int seed, int cyclesPastTheWindow)
    {
        var readings = Interleaved();
        var crashAtCycle = fixture.Model.Spec.Window + cyclesPastTheWindow;
        var first = readings.FindIndex(r => r.SensorType == RulChannels.Cycle && r.Value == crashAtCycle);
        Assert.True(first > 0);
        var crashAt = first + new Random(seed).Next(25);

        var uninterrupted = new RulPredictor(fixture.Model, Idle);
        var expected = new List<RulEstimate>();
        for (var i = 0; i < readings.Count; i++)
        {
            if (uninterrupted.OnReading(readings[i], out var e) && i >= crashAt)
            {
                expected.Add(e);
            }
        }

        // The first run stops after reading crashAt − 1; a restart replays from the lowest needed offset.
        var before = new RulPredictor(fixture.Model, Idle);
        for (var i = 0; i < crashAt; i++)
        {
            before.OnReading(readings[i], out _);
        }
        var needed = before.LowestNeededOffset(0);
        Assert.NotNull(needed);
        var replayFrom = readings.FindIndex(r => r.Position.Offset == needed);
        Assert.True(replayFrom > 0, "the replay is bounded: it does not start at the beginning");
        var restored = new RulPredictor(fixture.Model, Idle);
        for (var i = replayFrom; i < crashAt; i++)
        {
            restored.OnReading(readings[i], out _);
        }
        var actual = new List<RulEstimate>();
        for (var i = crashAt; i < readings.Count; i++)
        {
            if (restored.OnReading(readings[i], out var e))
            {
                actual.Add(e);
            }
        }
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void A_cycle_with_a_missing_channel_closes_when_the_next_cycle_starts_carrying_the_last_value()
    {
        var unit = fixture.Test[1];
        var predictor = new RulPredictor(fixture.Model);
        var batch = new List<SensorReading>();
        var estimates = new List<RulEstimate>();
        for (var c = 0; c < 3; c++)
        {
            batch.Clear();
            Readings.Cycle(unit.Unit, unit.Rows[c], batch);
            foreach (var r in batch)
            {
                // Cycle 2 loses its s4 reading.
                if (c == 1 && r.SensorType == "s4")
                {
                    continue;
                }
                if (predictor.OnReading(r, out var e))
                {
                    estimates.Add(e);
                }
            }
        }
        // Cycle 2 closed when cycle 3's first reading came; cycle 3 is complete and closed at once.
        Assert.Equal([1.0, 2.0, 3.0], estimates.Select(e => e.Cycle));
        Assert.Equal(0, predictor.Ignored);
        // A late reading of a closed cycle is ignored, not folded into a later one.
        Assert.False(predictor.OnReading(batch[4] with { Timestamp = Readings.Timestamp(2) }, out _));
        Assert.Equal(1, predictor.Ignored);
    }
}
