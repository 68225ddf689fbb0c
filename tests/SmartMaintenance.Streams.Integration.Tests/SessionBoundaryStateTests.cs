using SmartMaintenance.Streams.Alerting;
using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Engine.Stages;
using SmartMaintenance.Streams.Scoring;
using SmartMaintenance.Streams.Windowing;
using Xunit;

namespace SmartMaintenance.Streams.Integration.Tests;

/// <summary>
/// The session-boundary section of the per-sensor state row (docs/windowing.md, "Session boundaries"), through the
/// engine's stages: when a sensor is taken, what the row holds, and rows of other configurations.
/// </summary>
public sealed class SessionBoundaryStateTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void A_sensor_is_taken_when_its_sessions_change_structurally_not_when_an_in_order_reading_extends_one()
    {
        var stages = Stages(sessions: true);
        stages.EnablePersistence();
        var outputs = new StageOutputs();
        stages.OnPartitionsAssigned(new Dictionary<int, long?> { [0] = null }, outputs);
        var taken = new List<ChangedSensor>();

        stages.OnReading(Reading("s", 0, 0), replaying: false, outputs, out _);
        stages.TakeChanged(all: false, taken, int.MaxValue);
        Assert.Equal(("s", 0), (Assert.Single(taken).SensorId, taken[0].Partition));

        taken.Clear();
        stages.OnReading(Reading("s", 10, 1), replaying: false, outputs, out _);
        stages.TakeChanged(all: false, taken, int.MaxValue);
        Assert.Empty(taken);

        // 100 s is more than the 30 s gap after the last reading: a new session.
        stages.OnReading(Reading("s", 100, 2), replaying: false, outputs, out _);
        stages.TakeChanged(all: false, taken, int.MaxValue);
        Assert.Equal("s", Assert.Single(taken).SensorId);
    }

    [Fact]
    public void Restored_boundaries_take_replayed_readings_behind_the_floor_until_the_replay_ends()
    {
        var first = Stages(sessions: true);
        first.EnablePersistence();
        var outputs = new StageOutputs();
        first.OnPartitionsAssigned(new Dictionary<int, long?> { [0] = null }, outputs);
        for (var i = 0; i <= 20; i++)
        {
            first.OnReading(Reading("s", i * 10, i), replaying: false, outputs, out _);
        }
        first.OnBatchBoundary(outputs);
        var floor = first.CommittedWatermark;
        var state = Write(first, "s");

        var second = Stages(sessions: true);
        second.EnablePersistence();
        second.RestoreState("s", 0, 21, state);
        second.OnPartitionsAssigned(new Dictionary<int, long?> { [0] = floor }, outputs);
        // The first readings are more than the gap behind the floor (195 s): without the boundaries they would be late.
        for (var i = 0; i <= 20; i++)
        {
            Assert.Equal(RejectReason.None, second.OnReading(Reading("s", i * 10, i), replaying: true, outputs, out _));
        }
        // No ReplayFinished call (a gap in the offsets): the first reading past them ends the restore by itself, so a
        // reading outside the restored session is judged by the watermark again and taken.
        outputs.Clear();
        Assert.Equal(RejectReason.None, second.OnReading(Reading("s", 240, 0, offset: 22), replaying: false, outputs, out _));
        second.OnReading(Reading("s", 10_000, 0, offset: 23), replaying: false, outputs, out _);
        second.OnBatchBoundary(outputs);
        var session = Assert.Single(outputs.Aggregates, a => a.WindowKind == "session:30s" && a.IsFinal && a.WindowStart == T0.ToUnixTimeMilliseconds());
        Assert.Equal((T0.AddSeconds(230).ToUnixTimeMilliseconds(), 21L), (session.WindowEnd, session.Count));
        Assert.Single(outputs.Aggregates, a => a.WindowKind == "session:30s" && a.IsFinal && a.WindowStart == T0.AddSeconds(240).ToUnixTimeMilliseconds());
    }

    [Fact]
    public void A_row_without_session_boundaries_restores_and_boundaries_of_a_spec_no_longer_configured_are_skipped()
    {
        var plain = Stages(sessions: false);
        plain.EnablePersistence();
        var withSessions = Stages(sessions: true);
        withSessions.EnablePersistence();
        var outputs = new StageOutputs();
        foreach (var stages in new[] { plain, withSessions })
        {
            stages.OnPartitionsAssigned(new Dictionary<int, long?> { [0] = null }, outputs);
            stages.OnReading(Reading("s", 0, 1), replaying: false, outputs, out _);
        }
        var withoutSection = Write(plain, "s");
        var withSection = Write(withSessions, "s");
        Assert.True(withSection.Length > withoutSection.Length);

        // Each configuration reads the other's row: the detector part behind the section is still found.
        var a = Stages(sessions: true);
        a.EnablePersistence();
        a.RestoreState("s", 0, 1, withoutSection);
        var b = Stages(sessions: false);
        b.EnablePersistence();
        b.RestoreState("s", 0, 1, withSection);
        Assert.Equal(withoutSection, Write(b, "s"));
    }

    private static byte[] Write(PipelineStages stages, string sensor)
    {
        using var buffer = new MemoryStream();
        using (var writer = new BinaryWriter(buffer))
        {
            stages.WriteState(sensor, writer);
        }
        return buffer.ToArray();
    }

    private static PipelineStages Stages(bool sessions) => new(
        new RxWindowStage(new WindowingSettings
        {
            IdleTimeout = TimeSpan.Zero,
            Specs = sessions ? [new WindowSpecSettings { Kind = "session", Gap = TimeSpan.FromSeconds(30) }] : [],
        }, new ManualClock(T0)),
        new DetectorPipeline(new ScoringOptions()),
        new AlertTracker(new AlertOptions()));

    private static SensorReading Reading(string sensor, int seconds, double value, long offset = -1) =>
        new(sensor, T0.AddSeconds(seconds).ToUnixTimeMilliseconds(), value, SensorType: "temperature",
            Position: new SourcePosition(0, offset >= 0 ? offset : Math.Max(0, seconds / 10), 0));
}
