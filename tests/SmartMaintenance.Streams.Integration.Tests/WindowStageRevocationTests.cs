using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Engine.Stages;
using SmartMaintenance.Streams.Windowing;
using Xunit;

namespace SmartMaintenance.Streams.Integration.Tests;

/// <summary>
/// A revoked partition's windows belong to its next owner, which rebuilds them from the stored replay point. The
/// instance that gave it up holds them only partially (the readings up to the revocation); if it kept them, its own
/// watermark would later fire them, and its batch (fresh offsets of its other partitions pass the fence) would
/// overwrite the new owner's complete aggregates with partial ones at revision 0.
/// </summary>
public sealed class WindowStageRevocationTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void A_revoked_partitions_open_windows_never_fire_on_the_instance_that_gave_it_up()
    {
        using var stage = new RxWindowStage(new WindowingSettings { IdleTimeout = TimeSpan.Zero }, new ManualClock(T0));
        var outputs = new StageOutputs();
        stage.OnPartitionsAssigned(new Dictionary<int, long?> { [0] = null, [1] = null }, outputs);
        // Both partitions report for three minutes; then partition 1 moves to another instance.
        for (var s = 0; s < 180; s += 10)
        {
            stage.OnReading(Reading("a", 0, T0.AddSeconds(s), s), replaying: false, outputs, out _);
            stage.OnReading(Reading("b", 1, T0.AddSeconds(s), s), replaying: false, outputs, out _);
        }
        stage.OnBatchBoundary(outputs);
        outputs.Clear();
        stage.DropPartitions([1], outputs);

        // Partition 0 goes on for ten minutes: every window sensor b had open would have closed here by now.
        for (var s = 180; s < 780; s += 10)
        {
            stage.OnReading(Reading("a", 0, T0.AddSeconds(s), s), replaying: false, outputs, out _);
        }
        stage.OnBatchBoundary(outputs);

        var stale = outputs.Aggregates.Where(a => a.SensorId == "b").ToList();
        Assert.True(stale.Count == 0, "the old owner fired windows of a partition it no longer owns: " +
            string.Join(", ", stale.Select(a => $"{a.WindowKind} {DateTimeOffset.FromUnixTimeMilliseconds(a.WindowStart):HH:mm} count {a.Count} rev {a.Revision}")));
        Assert.Contains(outputs.Aggregates, a => a.SensorId == "a" && a.IsFinal);
        Assert.Null(stage.LowestNeededOffset(1));
    }

    [Fact]
    public void A_partition_assigned_back_after_revocation_rebuilds_its_windows_from_the_replay_alone()
    {
        // Without dedup, a replayed reading added to state kept from before the revocation would count twice.
        using var stage = new RxWindowStage(new WindowingSettings { IdleTimeout = TimeSpan.Zero, Dedup = false }, new ManualClock(T0));
        var outputs = new StageOutputs();
        stage.OnPartitionsAssigned(new Dictionary<int, long?> { [0] = null }, outputs);
        for (var s = 0; s < 60; s += 10)
        {
            stage.OnReading(Reading("a", 0, T0.AddSeconds(s), s), replaying: false, outputs, out _);
        }
        stage.OnBatchBoundary(outputs);
        var replayFrom = stage.LowestNeededOffset(0);
        var floor = stage.CommittedWatermark;
        Assert.Equal(0, replayFrom);
        stage.DropPartitions([0], outputs);
        outputs.Clear();

        // Assigned back (an eager rebalance): the replay from the stored point, then new readings up to 00:03.
        stage.OnPartitionsAssigned(new Dictionary<int, long?> { [0] = floor }, outputs);
        for (var s = (int)replayFrom!.Value; s < 60; s += 10)
        {
            stage.OnReading(Reading("a", 0, T0.AddSeconds(s), s), replaying: true, outputs, out _);
        }
        for (var s = 60; s <= 180; s += 10)
        {
            stage.OnReading(Reading("a", 0, T0.AddSeconds(s), s), replaying: false, outputs, out _);
        }
        stage.OnBatchBoundary(outputs);

        // The minute 00:00–00:01 holds its six readings once: state kept from before the revocation did not add to the replay.
        var first = Assert.Single(outputs.Aggregates, a => a.WindowKind == "tumbling:1m" && a.WindowStart == T0.ToUnixTimeMilliseconds());
        Assert.Equal(6, first.Count);
        var second = Assert.Single(outputs.Aggregates, a => a.WindowKind == "tumbling:1m" && a.WindowStart == T0.AddMinutes(1).ToUnixTimeMilliseconds());
        Assert.Equal(6, second.Count);
    }

    [Fact]
    public void A_window_fired_on_time_before_a_revocation_still_fires_final_after_its_partition_comes_back()
    {
        var settings = new WindowingSettings
        {
            IdleTimeout = TimeSpan.Zero,
            Specs = [new WindowSpecSettings { Kind = "hopping", Size = TimeSpan.FromMinutes(3), Advance = TimeSpan.FromMinutes(1), AllowedLateness = TimeSpan.FromSeconds(20) }],
        };
        using var stage = new RxWindowStage(settings, new ManualClock(T0));
        var outputs = new StageOutputs();
        stage.OnPartitionsAssigned(new Dictionary<int, long?> { [0] = null }, outputs);
        // Up to 00:03:10: the window 00:00–00:03 fires on time (watermark 00:03:05) but stays open for its lateness.
        for (var s = 0; s <= 190; s += 10)
        {
            stage.OnReading(Reading("a", 0, T0.AddSeconds(s), s / 10), replaying: false, outputs, out _);
        }
        stage.OnBatchBoundary(outputs);
        Assert.Contains(outputs.Aggregates, a => a.WindowStart == T0.ToUnixTimeMilliseconds() && !a.IsFinal);
        var replayFrom = stage.LowestNeededOffset(0)!.Value;
        var floor = stage.CommittedWatermark;
        stage.DropPartitions([0], outputs);
        outputs.Clear();

        stage.OnPartitionsAssigned(new Dictionary<int, long?> { [0] = floor }, outputs);
        for (var o = replayFrom; o <= 19; o++)
        {
            stage.OnReading(Reading("a", 0, T0.AddSeconds(o * 10), o), replaying: true, outputs, out _);
        }
        for (var s = 200; s <= 260; s += 10)
        {
            stage.OnReading(Reading("a", 0, T0.AddSeconds(s), s / 10), replaying: false, outputs, out _);
        }
        stage.OnBatchBoundary(outputs);

        // Closed at 00:03:20: final, with every reading of 00:00–00:03.
        var final = Assert.Single(outputs.Aggregates, a => a.WindowStart == T0.ToUnixTimeMilliseconds() && a.IsFinal);
        Assert.Equal(18, final.Count);
    }

    private static SensorReading Reading(string sensor, int partition, DateTimeOffset at, long offset) =>
        new(sensor, at.ToUnixTimeMilliseconds(), 20.0 + (offset % 7), SensorType: "temperature", Position: new SourcePosition(partition, offset, 0));
}
