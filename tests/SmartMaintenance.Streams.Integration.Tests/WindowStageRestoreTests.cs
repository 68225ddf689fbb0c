using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Engine.Stages;
using SmartMaintenance.Streams.Windowing;
using Xunit;

namespace SmartMaintenance.Streams.Integration.Tests;

/// <summary>
/// A partition handed over from another instance arrives with the watermark that instance stored (its floor) and is
/// replayed only from the lowest offset its still-open windows needed. Windows that were final at the floor were
/// written by the previous owner; the new owner must not rebuild them from the replayed tail and overwrite them,
/// even when its own watermark (the minimum over its other partitions) is still behind the floor.
/// </summary>
public sealed class WindowStageRestoreTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Windows_final_at_a_handed_over_partitions_floor_are_not_rebuilt_from_the_replayed_tail()
    {
        var floor = T0.AddMinutes(10).ToUnixTimeMilliseconds();
        using var stage = new RxWindowStage(new WindowingSettings { IdleTimeout = TimeSpan.Zero }, new ManualClock(T0));
        var outputs = new StageOutputs();
        // Partition 0 is this instance's own and far behind; partition 1 comes from the previous owner with its floor.
        stage.OnPartitionsAssigned(new Dictionary<int, long?> { [0] = null, [1] = floor }, outputs);
        stage.OnReading(Reading("a", 0, T0.AddMinutes(1), 0), replaying: false, outputs, out _);

        // The replay of partition 1 starts at 00:06 (what the previous owner's open windows needed) and runs past the floor.
        var offset = 0L;
        for (var t = T0.AddMinutes(6); t < T0.AddMinutes(12); t = t.AddSeconds(10))
        {
            stage.OnReading(Reading("b", 1, t, offset++), replaying: true, outputs, out _);
        }
        // Partition 0 catches up: every window of sensor b up to 00:12 closes on this instance.
        for (var m = 2; m <= 20; m++)
        {
            stage.OnReading(Reading("a", 0, T0.AddMinutes(m), m), replaying: false, outputs, out _);
        }
        stage.OnBatchBoundary(outputs);

        var rebuilt = outputs.Aggregates.Where(a => a.SensorId == "b" && a.WindowEnd <= floor).ToList();
        Assert.True(rebuilt.Count == 0, "windows final before the hand-over were emitted again from a partial replay: " +
            string.Join(", ", rebuilt.Select(a => $"{a.WindowKind} {DateTimeOffset.FromUnixTimeMilliseconds(a.WindowStart):HH:mm} count {a.Count}")));
        // Windows still open at the floor are rebuilt and fire: the hopping window 00:06–00:11 saw the whole replay of it.
        var open = Assert.Single(outputs.Aggregates, a => a.SensorId == "b" && a.WindowKind == "hopping:5m/1m"
                                                           && a.WindowStart == T0.AddMinutes(6).ToUnixTimeMilliseconds());
        Assert.Equal(30, open.Count);
    }

    private static SensorReading Reading(string sensor, int partition, DateTimeOffset at, long offset) =>
        new(sensor, at.ToUnixTimeMilliseconds(), 20.0, SensorType: "temperature", Position: new SourcePosition(partition, offset, 0));
}
