using System.Reactive.Linq;
using Microsoft.Reactive.Testing;
using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Windowing;
using Xunit;

namespace SmartMaintenance.Streams.Windowing.Tests;

public sealed class WindowBehaviourTests
{
    private static readonly WindowSpec Tumbling100 = WindowSpec.Tumbling(TimeSpan.FromMilliseconds(100));

    private static SensorReading R(long ts, double value, string sensor = "s", long offset = -1, long seq = -1) =>
        Harness.Reading(sensor, ts, value, offset: offset, seq: seq);

    [Fact]
    public void Tumbling_window_fires_once_final_when_the_watermark_passes_its_end_without_lateness()
    {
        using var h = new Harness([Tumbling100]);
        h.Data(R(10, 1));
        h.Data(R(50, 3));
        h.Data(R(120, 5));
        h.Watermark(99);
        Assert.Empty(h.Aggregates);
        h.Watermark(100);
        var (a, firing) = Assert.Single(h.Aggregates);
        Assert.Equal(FiringKind.OnTime, firing);
        Assert.True(a.IsFinal);
        Assert.Equal(("s", "tumbling:100ms", 0L, 100L, 2L, 4.0, 0), (a.SensorId, a.WindowKind, a.WindowStart, a.WindowEnd, a.Count, a.Sum, a.Revision));
        Assert.Equal([99L, 100L], h.Watermarks);
    }

    [Fact]
    public void FiringsDue_reports_the_on_time_firings_of_a_watermark_before_any_of_them_is_emitted()
    {
        Harness? h = null;
        var calls = new List<(int Due, int EmittedBefore)>();
        using (h = new Harness([Tumbling100], new WindowOperatorOptions { FiringsDue = due => calls.Add((due, h!.Aggregates.Count)) }))
        {
            h.Data(Harness.Reading("a", 10, 1));
            h.Data(Harness.Reading("b", 20, 2));
            h.Data(Harness.Reading("c", 30, 3));
            h.Data(Harness.Reading("d", 150, 4));
            h.Watermark(99);
            Assert.Empty(calls);
            h.Watermark(100);
            Assert.Equal([(3, 0)], calls);
            Assert.Equal(3, h.Aggregates.Count);
            // Nothing due: d's window ends at 200.
            h.Watermark(150);
            Assert.Single(calls);
            h.Watermark(250);
            Assert.Equal([(3, 0), (1, 3)], calls);
            Assert.Equal(4, h.Aggregates.Count);
        }
    }

    [Fact]
    public void Late_reading_within_allowed_lateness_emits_a_correction_with_the_next_revision_then_a_final()
    {
        using var h = new Harness([Tumbling100 with { AllowedLateness = 50 }]);
        h.Data(R(10, 1));
        h.Watermark(100);
        h.Data(R(20, 2));
        h.Data(R(30, 3));
        h.Watermark(150);
        Assert.Equal(
            [(FiringKind.OnTime, 0, false, 1L), (FiringKind.Correction, 1, false, 2L), (FiringKind.Correction, 2, false, 3L), (FiringKind.Final, 3, true, 3L)],
            h.Aggregates.Select(a => (a.Firing, a.Aggregate.Revision, a.Aggregate.IsFinal, a.Aggregate.Count)));
        h.Data(R(40, 4));
        var late = Assert.Single(h.Rejected);
        Assert.Equal((RejectReason.Late, "tumbling:100ms", false, 40L), (late.Reason, late.WindowKind, late.Partial, late.Reading.Timestamp));
        Assert.Equal(4, h.Aggregates.Count);
    }

    [Fact]
    public void A_partition_floor_closes_windows_final_at_it_for_that_partitions_readings_only()
    {
        using var h = new Harness([Tumbling100]);
        h.Push(StreamEvent<SensorReading>.PartitionFloor(1, 200));
        // Partition 1 was handed over at watermark 200: its windows ending at or before 200 were written by the previous owner.
        h.Data(Harness.Reading("b", 150, 1, partition: 1, offset: 7));
        h.Data(Harness.Reading("b", 250, 2, partition: 1, offset: 8));
        // Partition 0 has no floor: the operator watermark (none yet) decides, so its reading is taken.
        h.Data(Harness.Reading("a", 150, 3, partition: 0, offset: 3));
        h.Watermark(300);

        var late = Assert.Single(h.Rejected);
        Assert.Equal((RejectReason.Late, "b", 150L), (late.Reason, late.Reading.SensorId, late.Reading.Timestamp));
        Assert.Equal([("a", 100L, 1L), ("b", 200L, 1L)], h.Aggregates.Select(a => (a.Aggregate.SensorId, a.Aggregate.WindowStart, a.Aggregate.Count)).Order());

        Assert.Contains((StreamEventKind.PartitionFloor, 1), h.Control);
    }

    [Fact]
    public void A_revoked_partition_loses_its_floor()
    {
        using var h = new Harness([Tumbling100]);
        h.Push(StreamEvent<SensorReading>.PartitionFloor(1, 200));
        h.Push(StreamEvent<SensorReading>.PartitionRevoked(1));
        h.Data(Harness.Reading("b", 150, 1, partition: 1, offset: 7));
        h.Watermark(300);

        Assert.Empty(h.Rejected);
        Assert.Equal(1L, Assert.Single(h.Aggregates).Aggregate.Count);
    }

    [Fact]
    public void Hopping_windows_share_panes_and_report_partially_late_readings()
    {
        var spec = WindowSpec.Hopping(TimeSpan.FromMilliseconds(300), TimeSpan.FromMilliseconds(100));
        using var h = new Harness([spec]);
        h.Data(R(250, 1));
        h.Watermark(300);
        // ts 260 belongs to [0,300) (closed), [100,400) and [200,500) (open).
        h.Data(R(260, 2));
        var rejected = Assert.Single(h.Rejected);
        Assert.True(rejected.Partial);
        h.Watermark(1000);
        var finals = h.FinalState();
        Assert.Equal([(0L, 1L), (100L, 2L), (200L, 2L)], finals.Values.OrderBy(a => a.WindowStart).Select(a => (a.WindowStart, a.Count)));
        Assert.Equal("hopping:300ms/100ms", finals.Values.First().WindowKind);
    }

    [Fact]
    public void Late_reading_that_bridges_two_sessions_merges_them_and_retracts_the_absorbed_one()
    {
        var spec = WindowSpec.Session(TimeSpan.FromMilliseconds(50)) with { AllowedLateness = 1000 };
        using var h = new Harness([spec]);
        h.Data(R(0, 1));
        h.Data(R(10, 2));
        h.Data(R(100, 3));
        h.Watermark(200);
        Assert.Equal([(0L, 60L, 2L), (100L, 150L, 1L)], h.Aggregates.Select(a => (a.Aggregate.WindowStart, a.Aggregate.WindowEnd, a.Aggregate.Count)));

        h.Data(R(55, 4));
        var tail = h.Aggregates.Skip(2).ToList();
        Assert.Equal(FiringKind.Retraction, tail[0].Firing);
        Assert.Equal(100L, tail[0].Aggregate.WindowStart);
        Assert.Equal(FiringKind.Correction, tail[1].Firing);
        var merged = tail[1].Aggregate;
        Assert.Equal((0L, 150L, 4L, 10.0, 1.0, 3.0), (merged.WindowStart, merged.WindowEnd, merged.Count, merged.Sum, merged.First, merged.Last));
        Assert.True(merged.Revision >= 1);

        h.Watermark(2000);
        var final = Assert.Single(h.FinalState().Values);
        Assert.True(final.IsFinal);
        Assert.Equal(4, final.Count);
    }

    [Fact]
    public void Session_extended_past_the_watermark_fires_on_time_again_later()
    {
        var spec = WindowSpec.Session(TimeSpan.FromMilliseconds(50)) with { AllowedLateness = 500 };
        using var h = new Harness([spec]);
        h.Data(R(0, 1));
        h.Watermark(60);
        h.Data(R(40, 2));
        Assert.Equal([FiringKind.OnTime], h.Aggregates.Select(a => a.Firing));
        h.Watermark(89);
        Assert.Single(h.Aggregates);
        h.Watermark(90);
        Assert.Equal((FiringKind.OnTime, 1, 2L), (h.Aggregates[1].Firing, h.Aggregates[1].Aggregate.Revision, h.Aggregates[1].Aggregate.Count));
    }

    [Fact]
    public void Exact_resend_and_same_seq_resend_are_dropped_counted_and_optionally_side_output()
    {
        var probe = new WindowProbe();
        using var h = new Harness([Tumbling100], new WindowOperatorOptions { Probe = probe, EmitDuplicates = true });
        h.Data(R(10, 1, seq: 7));
        h.Data(R(10, 1, seq: 7));
        h.Data(R(12, 9, seq: 7));
        h.Data(R(10, 2));
        h.Watermark(100);
        Assert.Equal(2, probe.Counters.Duplicates);
        Assert.Equal([RejectReason.Duplicate, RejectReason.Duplicate], h.Rejected.Select(r => r.Reason));
        Assert.Equal(2, Assert.Single(h.Aggregates).Aggregate.Count);
    }

    [Fact]
    public void Duplicates_are_counted_but_not_emitted_by_default_and_dedup_can_be_switched_off()
    {
        var probe = new WindowProbe();
        using (var h = new Harness([Tumbling100], new WindowOperatorOptions { Probe = probe }))
        {
            h.Data(R(10, 1));
            h.Data(R(10, 1));
            h.Watermark(100);
            Assert.Empty(h.Rejected);
            Assert.Equal(1, probe.Counters.Duplicates);
        }
        using (var h = new Harness([Tumbling100], new WindowOperatorOptions { Dedup = false }))
        {
            h.Data(R(10, 1));
            h.Data(R(10, 1));
            h.Watermark(100);
            Assert.Equal(2, Assert.Single(h.Aggregates).Aggregate.Count);
        }
    }

    [Fact]
    public void Exceptions_from_user_functions_go_to_the_side_output_with_the_reading_and_the_stream_goes_on()
    {
        var probe = new WindowProbe();
        var options = new WindowOperatorOptions
        {
            Probe = probe,
            KeySelector = r => r.SensorId == "bad-key" ? throw new FormatException("key") : r.SensorId,
            ValueSelector = r => r.Value < 0 ? throw new ArithmeticException("value") : r.Value * 2,
        };
        using var h = new Harness([Tumbling100], options);
        h.Data(R(10, 1));
        h.Data(R(11, 1, sensor: "bad-key"));
        h.Data(R(12, -1));
        h.Data(R(13, 2));
        h.Watermark(100);
        Assert.Null(h.Error);
        Assert.Equal(
            [("bad-key", typeof(FormatException)), ("s", typeof(ArithmeticException))],
            h.Rejected.Select(r => (r.Reading.SensorId, r.Error!.GetType())));
        Assert.All(h.Rejected, r => Assert.Equal(RejectReason.ProcessingError, r.Reason));
        Assert.Equal(2, probe.Counters.ProcessingErrors);
        var a = Assert.Single(h.Aggregates).Aggregate;
        Assert.Equal((2L, 6.0), (a.Count, a.Sum));
    }

    [Fact]
    public void Early_firing_every_k_readings_is_flagged_not_final()
    {
        using var h = new Harness([Tumbling100 with { EarlyEveryReadings = 2 }]);
        for (var i = 0; i < 5; i++)
        {
            h.Data(R(i, i));
        }
        h.Watermark(100);
        Assert.Equal(
            [(FiringKind.Early, false, 2L), (FiringKind.Early, false, 4L), (FiringKind.OnTime, true, 5L)],
            h.Aggregates.Select(a => (a.Firing, a.Aggregate.IsFinal, a.Aggregate.Count)));
        Assert.Equal([0, 1, 2], h.Aggregates.Select(a => a.Aggregate.Revision));
    }

    [Fact]
    public void Early_firing_every_interval_of_processing_time_emits_only_changed_windows()
    {
        var scheduler = new TestScheduler();
        var spec = Tumbling100 with { EarlyInterval = TimeSpan.FromSeconds(1) };
        using var h = new Harness([spec], new WindowOperatorOptions { Scheduler = scheduler });
        h.Data(R(10, 1));
        scheduler.AdvanceBy(TimeSpan.FromMilliseconds(999).Ticks);
        Assert.Empty(h.Aggregates);
        scheduler.AdvanceBy(TimeSpan.FromMilliseconds(1).Ticks);
        var (early, firing) = Assert.Single(h.Aggregates);
        Assert.Equal((FiringKind.Early, false, 1L), (firing, early.IsFinal, early.Count));

        scheduler.AdvanceBy(TimeSpan.FromSeconds(1).Ticks);
        Assert.Single(h.Aggregates);

        h.Data(R(20, 2));
        scheduler.AdvanceBy(TimeSpan.FromSeconds(1).Ticks);
        Assert.Equal(2, h.Aggregates.Count);
        Assert.Equal((2L, 1), (h.Aggregates[1].Aggregate.Count, h.Aggregates[1].Aggregate.Revision));

        h.Watermark(100);
        h.Data(R(130, 2));
        scheduler.AdvanceBy(TimeSpan.FromSeconds(1).Ticks);
        Assert.Equal([FiringKind.Early, FiringKind.Early, FiringKind.OnTime, FiringKind.Early], h.Aggregates.Select(a => a.Firing));
        Assert.Equal(100L, h.Aggregates[3].Aggregate.WindowStart);
    }

    [Fact]
    public void Several_specs_are_evaluated_in_one_pass_and_sensor_type_filters_apply()
    {
        var session = WindowSpec.Session(TimeSpan.FromMilliseconds(30)) with { SensorTypes = new HashSet<string> { "pump" } };
        using var h = new Harness([Tumbling100, WindowSpec.Hopping(TimeSpan.FromMilliseconds(200), TimeSpan.FromMilliseconds(100)), session]);
        h.Data(new SensorReading("p", 10, 1, SensorType: "pump", AssetId: "a1"));
        h.Data(new SensorReading("f", 10, 1, SensorType: "fan"));
        h.Watermark(1000);
        var kinds = h.Aggregates.Select(a => (a.Aggregate.SensorId, a.Aggregate.WindowKind, a.Aggregate.WindowStart)).Order().ToList();
        Assert.Equal(
            [("f", "hopping:200ms/100ms", -100L), ("f", "hopping:200ms/100ms", 0L), ("f", "tumbling:100ms", 0L),
             ("p", "hopping:200ms/100ms", -100L), ("p", "hopping:200ms/100ms", 0L), ("p", "session:30ms", 10L), ("p", "tumbling:100ms", 0L)],
            kinds);
        Assert.All(h.Aggregates.Where(a => a.Aggregate.SensorId == "p"), a => Assert.Equal(("a1", "pump"), (a.Aggregate.AssetId, a.Aggregate.SensorType)));
    }

    [Fact]
    public void Checkpoint_reports_the_lowest_offset_still_needed_per_partition()
    {
        var probe = new WindowProbe();
        using var h = new Harness([Tumbling100], new WindowOperatorOptions { Probe = probe, Dedup = false });
        h.Data(Harness.Reading("a", 10, 1, partition: 0, offset: 5));
        h.Data(Harness.Reading("b", 150, 1, partition: 0, offset: 6));
        h.Data(Harness.Reading("c", 20, 1, partition: 1, offset: 40));
        var cp = probe.Checkpoint();
        Assert.Equal(5L, cp.ReplayFrom[0]);
        Assert.Equal(40L, cp.ReplayFrom[1]);
        Assert.Equal(7L, cp.NextOffsets[0]);
        Assert.Equal(41L, cp.NextOffsets[1]);
        Assert.True(probe.TryGetReplayFrom(1, out var from1) && from1 == 40);

        h.Watermark(100);
        cp = probe.Checkpoint();
        Assert.Equal(6L, cp.ReplayFrom[0]);
        Assert.False(cp.ReplayFrom.ContainsKey(1));
        Assert.Equal(100L, cp.Watermark);
    }

    [Fact]
    public void Session_state_rebuilt_by_replay_finishes_like_an_uninterrupted_run()
    {
        var spec = WindowSpec.Session(TimeSpan.FromMilliseconds(50)) with { AllowedLateness = 100 };
        var events = new List<StreamEvent<SensorReading>>();
        long offset = 0;
        void Add(long ts, double v) => events.Add(StreamEvent<SensorReading>.Data(Harness.Reading("s", ts, v, 0, offset++)));
        Add(0, 1);
        Add(20, 2);
        events.Add(StreamEvent<SensorReading>.Watermark(200));
        Add(300, 3);
        Add(330, 4);
        events.Add(StreamEvent<SensorReading>.Watermark(390));
        Add(360, 5);
        events.Add(StreamEvent<SensorReading>.Watermark(long.MaxValue));

        using var full = new Harness([spec]);
        full.PushAll(events);

        var probe = new WindowProbe();
        using var before = new Harness([spec], new WindowOperatorOptions { Probe = probe });
        var cut = 6;
        before.PushAll(events.Take(cut));
        var cp = probe.Checkpoint();
        Assert.Equal(2L, cp.ReplayFrom[0]);

        using var after = new Harness([spec], new WindowOperatorOptions { ResumeFrom = cp });
        after.PushAll(events.Take(cut).Where(e => e.IsData && e.Item.Position.Offset >= cp.ReplayFrom[0]));
        Assert.Empty(after.Aggregates);
        after.PushAll(events.Skip(cut));

        var expected = Expectations.Finals(full);
        var actual = Expectations.Finals(before);
        foreach (var (k, v) in Expectations.Finals(after))
        {
            actual.Add(k, v);
        }
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        Assert.All(expected, kv => Assert.Equal(Expectations.Content(kv.Value), Expectations.Content(actual[kv.Key])));
        Assert.Equal(3, expected[("s", "session:50ms", 300)].Count);
    }

    [Fact]
    public void Reading_behind_the_watermark_joins_a_session_still_open_around_it_and_is_late_outside_one()
    {
        var spec = WindowSpec.Session(TimeSpan.FromMilliseconds(50));
        using var h = new Harness([spec], new WindowOperatorOptions { EmitDuplicates = true });
        foreach (var ts in new long[] { 0, 40, 80, 120, 160, 200 })
        {
            h.Data(R(ts, 1));
        }
        h.Data(R(500, 1));
        h.Watermark(230);
        // 60 + 50 <= 230, but the session [0, 250) around it is still open: not final, so the reading joins it.
        h.Data(R(60, 5));
        // 300 lies in no open session and 300 + 50 <= 350: late.
        h.Watermark(350);
        h.Data(R(300, 7));
        h.Watermark(long.MaxValue);
        var finals = h.FinalState();
        Assert.Equal((7L, 11.0), (finals[("s", "session:50ms", 0)].Count, finals[("s", "session:50ms", 0)].Sum));
        Assert.Equal(300L, Assert.Single(h.Rejected).Reading.Timestamp);
    }

    [Fact]
    public void Restored_session_boundaries_decide_replayed_readings_behind_the_floor_until_the_replay_finishes()
    {
        var spec = WindowSpec.Session(TimeSpan.FromMilliseconds(50));
        var events = new List<StreamEvent<SensorReading>>();
        long offset = 0;
        void Add(string key, long ts, double v) => events.Add(StreamEvent<SensorReading>.Data(Harness.Reading(key, ts, v, 0, offset++)));
        Add("a", 100, 1);
        Add("a", 140, 2);
        Add("b", 120, 3);
        Add("b", 160, 4);
        Add("b", 190, 5);
        events.Add(StreamEvent<SensorReading>.Watermark(195));
        var cut = events.Count;
        Add("a", 150, 6);   // before the end of a's closed session [100, 190): late (case 1)
        Add("b", 230, 7);
        events.Add(StreamEvent<SensorReading>.Watermark(long.MaxValue));

        using var full = new Harness([spec]);
        full.PushAll(events);

        var probe = new WindowProbe();
        using var before = new Harness([spec], new WindowOperatorOptions { Probe = probe });
        before.PushAll(events.Take(cut));
        var cp = probe.Checkpoint();
        var stored = new Dictionary<string, byte[]>();
        foreach (var key in new[] { "a", "b" })
        {
            using var buffer = new MemoryStream();
            using (var writer = new BinaryWriter(buffer))
            {
                probe.WriteSessionBoundaries(key, writer);
            }
            stored[key] = buffer.ToArray();
        }

        Dictionary<(string, string, long), WindowAggregate> Resume(bool restore)
        {
            // As the engine resumes: no ResumeFrom, the stored watermark as the partition's floor, replay, then new readings.
            var afterProbe = new WindowProbe();
            using var after = new Harness([spec], new WindowOperatorOptions { Probe = afterProbe });
            if (restore)
            {
                foreach (var (key, bytes) in stored)
                {
                    afterProbe.RestoreSessionBoundaries(key, 0, new BinaryReader(new MemoryStream(bytes)));
                }
            }
            after.Push(StreamEvent<SensorReading>.PartitionFloor(0, cp.Watermark));
            after.Watermark(cp.Watermark);
            after.PushAll(events.Take(cut).Where(e => e.IsData && e.Item.Position.Offset >= cp.ReplayFrom.GetValueOrDefault(0, cp.NextOffsets[0])));
            afterProbe.SessionReplayFinished(0);
            after.PushAll(events.Skip(cut));
            var finals = Expectations.Finals(before);
            foreach (var (k, v) in Expectations.Finals(after))
            {
                finals[k] = v;
            }
            return finals;
        }

        var expected = Expectations.Finals(full);
        Assert.Equal((120L, 280L, 4L), (expected[("b", "session:50ms", 120)].WindowStart, expected[("b", "session:50ms", 120)].WindowEnd, expected[("b", "session:50ms", 120)].Count));
        var restored = Resume(restore: true);
        Assert.Equal(expected.Keys.Order(), restored.Keys.Order());
        Assert.All(expected, kv => Assert.Equal(Expectations.Content(kv.Value), Expectations.Content(restored[kv.Key])));
        // Without the boundaries both cases diverge: b loses its first reading, a@150 opens a session of its own.
        var unrestored = Resume(restore: false);
        Assert.NotEqual(expected.Keys.Order(), unrestored.Keys.Order());
    }

    [Fact]
    public void A_session_being_rebuilt_does_not_close_before_its_partitions_replay_ends_even_when_the_watermark_passes_it()
    {
        var spec = WindowSpec.Session(TimeSpan.FromMilliseconds(50));
        var probe = new WindowProbe();
        using (var before = new Harness([spec], new WindowOperatorOptions { Probe = probe }))
        {
            before.Data(Harness.Reading("b", 120, 1, 0, 0));
            before.Data(Harness.Reading("b", 160, 2, 0, 1));
            before.Data(Harness.Reading("b", 190, 3, 0, 2));
            before.Watermark(195);
            using var buffer = new MemoryStream();
            using (var writer = new BinaryWriter(buffer, System.Text.Encoding.UTF8, leaveOpen: true))
            {
                probe.WriteSessionBoundaries("b", writer);
            }
            buffer.Position = 0;
            var afterProbe = new WindowProbe();
            using var after = new Harness([spec], new WindowOperatorOptions { Probe = afterProbe });
            afterProbe.RestoreSessionBoundaries("b", 0, new BinaryReader(buffer));
            after.Push(StreamEvent<SensorReading>.PartitionFloor(0, 195));
            after.Watermark(195);
            after.Data(Harness.Reading("b", 120, 1, 0, 0));
            // Another partition, already past its replay, moves the operator watermark beyond the partial session's end.
            after.Watermark(1000);
            Assert.DoesNotContain(after.Aggregates, a => a.Aggregate.IsFinal);
            after.Data(Harness.Reading("b", 160, 2, 0, 1));
            after.Data(Harness.Reading("b", 190, 3, 0, 2));
            afterProbe.SessionReplayFinished(0);
            after.Watermark(1001);
            var final = Assert.Single(after.Aggregates, a => a.Aggregate.IsFinal).Aggregate;
            Assert.Equal((120L, 240L, 3L), (final.WindowStart, final.WindowEnd, final.Count));
        }
    }

    [Fact]
    public void Operator_passes_partition_events_through_and_tracks_partition_watermarks_for_the_checkpoint()
    {
        var probe = new WindowProbe();
        using var h = new Harness([Tumbling100], new WindowOperatorOptions { Probe = probe });
        h.Push(StreamEvent<SensorReading>.PartitionWatermark(3, 77));
        h.Push(StreamEvent<SensorReading>.PartitionIdle(3));
        Assert.Equal(77L, probe.Checkpoint().PartitionWatermarks[3]);
        h.Push(StreamEvent<SensorReading>.PartitionRevoked(3));
        Assert.Empty(probe.Checkpoint().PartitionWatermarks);
        Assert.Equal(
            [(StreamEventKind.PartitionWatermark, 3), (StreamEventKind.PartitionIdle, 3), (StreamEventKind.PartitionRevoked, 3)],
            h.Control);
    }

    [Fact]
    public void Window_operator_checks_its_arguments()
    {
        IObservable<StreamEvent<SensorReading>> nullSource = null!;
        var source = Observable.Empty<StreamEvent<SensorReading>>();
        Assert.Throws<ArgumentNullException>("source", () => nullSource.AggregateWindows([Tumbling100]));
        Assert.Throws<ArgumentNullException>("specs", () => source.AggregateWindows(null!));
        Assert.Throws<ArgumentException>("specs", () => source.AggregateWindows([]));
        Assert.Throws<ArgumentException>("specs", () => source.AggregateWindows([Tumbling100, Tumbling100]));
        Assert.Throws<ArgumentException>("specs", () => source.AggregateWindows([Tumbling100 with { AllowedLateness = -1 }]));
        Assert.Throws<ArgumentException>("specs", () => source.AggregateWindows([Tumbling100 with { QuantileAccuracy = 0.9 }]));
        Assert.Throws<ArgumentOutOfRangeException>("options", () => source.AggregateWindows([Tumbling100], new WindowOperatorOptions { DedupHorizon = TimeSpan.FromSeconds(-1) }));
        Assert.Throws<ArgumentOutOfRangeException>("size", () => WindowSpec.Tumbling(TimeSpan.Zero));
        Assert.Throws<ArgumentOutOfRangeException>("advance", () => WindowSpec.Hopping(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2)));
        Assert.Throws<ArgumentOutOfRangeException>("gap", () => WindowSpec.Session(TimeSpan.FromTicks(5)));
        Assert.Throws<ArgumentNullException>("observer", () => source.AggregateWindows([Tumbling100]).Subscribe((IObserver<StreamEvent<WindowOutput>>)null!));
    }

    [Fact]
    public void Upstream_error_and_completion_are_forwarded()
    {
        Exception? error = null;
        var completed = false;
        var boom = new InvalidOperationException("boom");
        using (Observable.Throw<StreamEvent<SensorReading>>(boom).AggregateWindows([Tumbling100]).Subscribe(_ => { }, e => error = e))
        {
            Assert.Same(boom, error);
        }
        using (Observable.Empty<StreamEvent<SensorReading>>().AggregateWindows([Tumbling100]).Subscribe(_ => { }, () => completed = true))
        {
            Assert.True(completed);
        }
    }

    [Fact]
    public void Window_kind_labels_follow_the_storage_convention()
    {
        Assert.Equal("tumbling:1m", WindowSpec.Tumbling(TimeSpan.FromMinutes(1)).Label);
        Assert.Equal("hopping:5m/1m", WindowSpec.Hopping(TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(1)).Label);
        Assert.Equal("session:30s", WindowSpec.Session(TimeSpan.FromSeconds(30)).Label);
        Assert.Equal("tumbling:1h", WindowSpec.Tumbling(TimeSpan.FromHours(1)).Label);
        Assert.Equal("tumbling:90s", WindowSpec.Tumbling(TimeSpan.FromSeconds(90)).Label);
        Assert.Equal("session:1500ms", WindowSpec.Session(TimeSpan.FromMilliseconds(1500)).Label);
    }

    [Fact]
    public void Tumbling_and_hopping_specs_with_the_same_pane_share_it_and_each_fire_their_own_windows()
    {
        var tumbling = WindowSpec.Tumbling(TimeSpan.FromMilliseconds(100));
        var hopping = WindowSpec.Hopping(TimeSpan.FromMilliseconds(300), TimeSpan.FromMilliseconds(100)) with { AllowedLateness = 200 };
        long Bytes(params WindowSpec[] specs)
        {
            var probe = new WindowProbe();
            using var h = new Harness(specs, new WindowOperatorOptions { Dedup = false, Probe = probe });
            for (var t = 0; t < 250; t += 10)
            {
                h.Data(Harness.Reading("a", t, t));
            }
            return probe.StateBytes();
        }
        // Shared panes: both specs together hold less than the two apart.
        Assert.True(Bytes(tumbling, hopping) < Bytes(tumbling) + Bytes(hopping) - 200);

        using var both = new Harness([tumbling, hopping]);
        both.Data(Harness.Reading("a", 10, 1));
        both.Data(Harness.Reading("a", 150, 2));
        both.Watermark(220);
        // Late for the tumbling window [100, 200) (closed at 200) but within the hopping windows' lateness.
        both.Data(Harness.Reading("a", 120, 3));
        both.Watermark(long.MaxValue);
        var finals = both.FinalState();
        Assert.Equal(1, finals[("a", "tumbling:100ms", 0)].Count);
        Assert.Equal(2, finals[("a", "tumbling:100ms", 100)].Sum);
        Assert.Equal(3, finals[("a", "hopping:300ms/100ms", 0)].Count);
        Assert.Equal(6, finals[("a", "hopping:300ms/100ms", 0)].Sum);
        Assert.Equal(5, finals[("a", "hopping:300ms/100ms", 100)].Sum);
        Assert.Single(both.Rejected, r => r.Reason == RejectReason.Late && r.WindowKind == "tumbling:100ms");
    }
}
