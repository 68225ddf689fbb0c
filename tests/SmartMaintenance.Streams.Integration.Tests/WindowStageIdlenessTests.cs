using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Engine.Stages;
using SmartMaintenance.Streams.Windowing;
using Xunit;

namespace SmartMaintenance.Streams.Integration.Tests;

/// <summary>
/// The idle timeout of a partition measures silence of a partition with nothing left to read. A partition that is
/// behind (paused by backpressure, or its fetches failing) must keep holding the watermark back, or its backlog
/// becomes late the moment it is read.
/// </summary>
public sealed class WindowStageIdlenessTests
{
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void A_backlogged_partition_holds_the_watermark_past_the_idle_timeout_and_its_records_are_not_late()
    {
        var (late, watermark) = Run(markBacklogged: true);
        Assert.Equal(RejectReason.None, late);
        // Partition 1's last reading was at +1 s: the watermark may not pass it while partition 1 is backlogged.
        Assert.True(watermark <= Start.AddSeconds(1).ToUnixTimeMilliseconds(), $"watermark {watermark} moved past the backlogged partition");
    }

    [Fact]
    public void A_silent_partition_without_backlog_turns_idle_and_stops_holding_the_watermark()
    {
        // The control: the same input without the backlog signal lets the watermark run ahead, so the old reading is late.
        var (late, watermark) = Run(markBacklogged: false);
        Assert.Equal(RejectReason.Late, late);
        Assert.True(watermark > Start.AddMinutes(5).ToUnixTimeMilliseconds());
    }

    private static (RejectReason Late, long Watermark) Run(bool markBacklogged)
    {
        var clock = new ManualClock(Start);
        using var stage = new RxWindowStage(new WindowingSettings { IdleTimeout = TimeSpan.FromSeconds(2), MaxOutOfOrderness = TimeSpan.Zero }, clock);
        var outputs = new StageOutputs();
        stage.OnPartitionsAssigned(new Dictionary<int, long?> { [0] = null, [1] = null }, outputs);
        stage.OnReading(Reading("b", 1, Start.AddSeconds(1)), replaying: false, outputs, out _);

        // Partition 0 runs ten minutes of event time ahead over 10 s of processing time; partition 1 delivers nothing.
        var watermarkBefore = long.MinValue;
        for (var s = 0; s < 10; s++)
        {
            stage.OnReading(Reading("a", 0, Start.AddMinutes(s + 1)), replaying: false, outputs, out _);
            clock.Advance(TimeSpan.FromSeconds(1));
            if (markBacklogged)
            {
                stage.OnPartitionBacklogged(1);
            }
            stage.OnTick(outputs);
            watermarkBefore = stage.Watermark;
        }

        // Partition 1's backlog arrives: a reading 30 s after its previous one.
        var reason = stage.OnReading(Reading("b", 1, Start.AddSeconds(31)), replaying: false, outputs, out _);
        return (reason, watermarkBefore);
    }

    private static SensorReading Reading(string sensor, int partition, DateTimeOffset at) =>
        new(sensor, at.ToUnixTimeMilliseconds(), 20.0, SensorType: "temperature", Position: new SourcePosition(partition, at.ToUnixTimeMilliseconds(), 0));
}
