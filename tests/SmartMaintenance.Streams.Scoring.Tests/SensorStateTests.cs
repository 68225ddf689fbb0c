using SmartMaintenance.Streams.Contracts;
using Xunit;

namespace SmartMaintenance.Streams.Scoring.Tests;

/// <summary>Per-sensor persistence of the pipeline: change tracking, one sensor's state, its restore.</summary>
public class SensorStateTests
{
    private static DetectorPipeline Tracking(Action<DetectorOptions>? configure = null)
    {
        var options = new ScoringOptions();
        configure?.Invoke(options.Defaults);
        return new DetectorPipeline(options) { TrackChanges = true };
    }

    private static SensorReading At(string sensor, int partition, long offset, double value, string? type = null) =>
        new(sensor, Synthetic.Start + (offset * Synthetic.Step), value, SensorType: type, Position: new SourcePosition(partition, offset, 0));

    private static WindowAggregate Window(string sensor, long index, double mean) =>
        new(sensor, "1m", index * 60_000, (index + 1) * 60_000, 5, mean * 5, mean - 1, mean + 1, mean, 0.5, mean, mean, mean, mean, mean, 0, true);

    private static byte[] StateOf(DetectorPipeline pipeline, string sensor)
    {
        using var buffer = new MemoryStream();
        using (var w = new BinaryWriter(buffer, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            pipeline.WriteSensorState(sensor, w);
        }
        return buffer.ToArray();
    }

    private static void Restore(DetectorPipeline pipeline, string sensor, int partition, long position, byte[] state)
    {
        using var r = new BinaryReader(new MemoryStream(state));
        pipeline.RestoreSensorState(sensor, partition, position, r);
    }

    [Fact]
    public void A_sensor_restored_from_its_own_state_scores_every_later_reading_and_window_exactly_like_the_original()
    {
        var v = Synthetic.Noise(3000);
        v[2000] += 20;
        for (var i = 2500; i < 3000; i++)
        {
            v[i] += 4;
        }
        var original = Tracking();
        for (var i = 0; i < 1500; i++)
        {
            original.Process(At("a", 0, i, v[i]), out _);
            original.Process(At("b", 1, i, -v[i], "other"), out _);
            if (i % 10 == 9)
            {
                original.ProcessWindow(Window("a", i / 10, v[i]), out _);
            }
        }
        var restored = Tracking();
        Restore(restored, "a", 0, 1500, StateOf(original, "a"));
        Restore(restored, "b", 1, 1500, StateOf(original, "b"));
        Assert.Equal(2, restored.SensorCount);
        // The same bytes again: nothing the original holds was lost on the way.
        Assert.Equal(StateOf(original, "a"), StateOf(restored, "a"));

        var fired = 0;
        for (var i = 1500; i < v.Length; i++)
        {
            foreach (var r in new[] { At("a", 0, i, v[i]), At("b", 1, i, -v[i], "other") })
            {
                var s1 = original.Score(r, out _, out var a1);
                var s2 = restored.Score(r, out _, out var a2);
                Assert.Equal(s1, s2);
                Assert.Equal(a1, a2);
                fired += a1 is null ? 0 : 1;
            }
            if (i % 10 == 9)
            {
                Assert.Equal(original.ProcessWindow(Window("a", i / 10, v[i]), out var w1), restored.ProcessWindow(Window("a", i / 10, v[i]), out var w2));
                Assert.Equal(w1, w2);
            }
        }
        Assert.True(fired > 0, "the continuation must contain firings for the comparison to mean something");
    }

    [Fact]
    public void Changed_sensors_are_taken_once_window_changes_cannot_wait_and_a_full_take_clears_the_replay_point()
    {
        var p = Tracking();
        Assert.False(p.HasChanges);
        p.Process(At("a", 0, 10, 1), out _);
        p.Process(At("b", 1, 20, 1), out _);
        p.Process(At("a", 0, 11, 1), out _);
        p.Process(At("c", 0, 12, 1), out _);
        Assert.True(p.HasChanges);
        Assert.Equal(10, p.LowestUntakenOffset(0));
        Assert.Equal(20, p.LowestUntakenOffset(1));
        Assert.Null(p.LowestUntakenOffset(2));

        // Between checkpoints only a sensor whose window state changed is taken; the replay point stays.
        p.ProcessWindow(Window("b", 1, 1), out _);
        var taken = new List<ChangedSensor>();
        p.TakeChanged(all: false, taken);
        Assert.Equal([new ChangedSensor("b", 1, 0)], taken);
        Assert.Equal(20, p.LowestUntakenOffset(1));

        taken.Clear();
        p.TakeChanged(all: true, taken);
        Assert.Equal(["a", "c"], taken.Select(t => t.SensorId).Order(StringComparer.Ordinal));
        Assert.All(taken, t => Assert.Equal(0, t.Partition));
        Assert.False(p.HasChanges);
        Assert.Null(p.LowestUntakenOffset(0));

        p.Process(At("b", 1, 21, 1), out _);
        taken.Clear();
        p.TakeChanged(all: true, taken);
        Assert.Equal([new ChangedSensor("b", 1, 0)], taken);
    }

    [Fact]
    public void A_bounded_checkpoint_is_spread_over_takes_and_releases_its_replay_bound_only_when_its_last_sensor_is_taken()
    {
        var p = Tracking();
        p.Process(At("a", 0, 10, 1), out _);
        p.Process(At("b", 0, 11, 1), out _);
        p.Process(At("c", 0, 12, 1), out _);
        var taken = new List<ChangedSensor>();

        p.TakeChanged(all: true, taken, max: 2);
        Assert.Equal(["a", "b"], taken.Select(t => t.SensorId));
        Assert.Equal(10, p.LowestUntakenOffset(0));
        Assert.True(p.HasChanges);

        // A sensor changing meanwhile belongs to the next checkpoint, whatever the bound.
        p.Process(At("d", 0, 13, 1), out _);
        taken.Clear();
        p.TakeChanged(all: false, taken, max: 2);
        Assert.Equal(["c"], taken.Select(t => t.SensorId));
        Assert.Equal(13, p.LowestUntakenOffset(0));

        taken.Clear();
        p.TakeChanged(all: true, taken, max: 2);
        Assert.Equal(["d"], taken.Select(t => t.SensorId));
        Assert.Null(p.LowestUntakenOffset(0));
        Assert.False(p.HasChanges);
    }

    [Fact]
    public void An_unbounded_checkpoint_takes_every_changed_sensor_even_while_a_bounded_one_is_being_spread()
    {
        var p = Tracking();
        p.Process(At("a", 0, 10, 1), out _);
        p.Process(At("b", 0, 11, 1), out _);
        var taken = new List<ChangedSensor>();
        p.TakeChanged(all: true, taken, max: 1);
        p.Process(At("c", 1, 5, 1), out _);

        taken.Clear();
        p.TakeChanged(all: true, taken);
        Assert.Equal(["b", "c"], taken.Select(t => t.SensorId));
        Assert.False(p.HasChanges);
        Assert.Null(p.LowestUntakenOffset(0));
        Assert.Null(p.LowestUntakenOffset(1));
    }

    [Fact]
    public void Replayed_readings_below_the_restored_position_are_already_seen_and_final_windows_are_not_judged_twice()
    {
        var original = Tracking(o => o.WarmupReadings = 20);
        for (var i = 0; i < 100; i++)
        {
            original.Process(At("a", 3, i, 50 + (i % 3)), out _);
        }
        for (var w = 0; w < 30; w++)
        {
            original.ProcessWindow(Window("a", w, 50), out _);
        }
        var restored = Tracking(o => o.WarmupReadings = 20);
        Restore(restored, "a", 3, 100, StateOf(original, "a"));

        Assert.True(restored.AlreadySeen(At("a", 3, 99, 0)));
        Assert.False(restored.AlreadySeen(At("other", 3, 5, 0)));
        // A final window the state already judged (re-emitted by a replay) leaves it untouched, even when it looks anomalous.
        Assert.False(restored.ProcessWindow(Window("a", 29, 5_000), out var replayed));
        Assert.Null(replayed);
        Assert.Equal(StateOf(original, "a"), StateOf(restored, "a"));
        Assert.True(restored.ProcessWindow(Window("a", 30, 5_000), out var fresh));
        Assert.NotNull(fresh);

        Assert.False(restored.AlreadySeen(At("a", 3, 100, 0)));
        Assert.False(restored.AlreadySeen(At("a", 3, 50, 0)), "past the position, the replay is over for this sensor");

        // A partition whose replay ended (or never started) leaves no restored position behind.
        var other = Tracking(o => o.WarmupReadings = 20);
        Restore(other, "a", 3, 100, StateOf(original, "a"));
        other.ReplayFinished(2);
        Assert.True(other.AlreadySeen(At("a", 3, 10, 0)));
        other.ReplayFinished(3);
        Assert.False(other.AlreadySeen(At("a", 3, 10, 0)));
    }

    [Fact]
    public void A_state_taken_under_another_configuration_is_rejected_and_changes_nothing()
    {
        var original = Tracking();
        for (var i = 0; i < 50; i++)
        {
            original.Process(At("a", 0, i, i), out _);
        }
        var state = StateOf(original, "a");
        var other = Tracking(o => o.ContextLength = 4);
        other.Process(At("a", 0, 0, 1), out _);
        var before = StateOf(other, "a");
        Assert.Throws<InvalidDataException>(() => Restore(other, "a", 0, 50, state));
        Assert.Equal(before, StateOf(other, "a"));
        Assert.Throws<InvalidDataException>(() => Restore(other, "a", 0, 50, [1, 2, 3, 4, 5, 6, 7, 8]));
    }

    [Fact]
    public void Dropping_partitions_forgets_exactly_their_sensors()
    {
        var p = Tracking();
        p.Process(At("a", 0, 1, 1), out _);
        p.Process(At("b", 1, 1, 1), out _);
        p.Process(At("c", 2, 1, 1), out _);
        p.ProcessWindow(Window("b", 0, 1), out _);
        var removed = new List<string>();
        p.RemovePartitions([1, 2], removed);
        Assert.Equal(["b", "c"], removed.Order(StringComparer.Ordinal));
        Assert.Equal(1, p.SensorCount);
        Assert.Null(p.LowestUntakenOffset(1));
        // Its window state went with it: a later state of b holds no windows.
        Assert.False(p.WriteSensorState("b", new BinaryWriter(new MemoryStream())));
    }

    [Fact]
    public void Tracking_changes_allocates_nothing_for_readings_of_sensors_already_changed()
    {
        var p = Tracking();
        var o = new DetectorOptions();
        var warm = (o.ContextHistory + (2 * o.ContextLength)) * o.SlowContextStride;
        var v = Synthetic.Noise(warm + 10_000);
        for (var i = 0; i < warm; i++)
        {
            p.Process(At("s1", 0, i, v[i]), out _);
        }
        var taken = new List<ChangedSensor>(4);
        p.TakeChanged(all: true, taken);
        p.Process(At("s1", 0, warm, v[warm]), out _);
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = warm + 1; i < v.Length; i++)
        {
            p.Process(At("s1", 0, i, v[i]), out _);
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.True(p.HasChanges);
    }
}
