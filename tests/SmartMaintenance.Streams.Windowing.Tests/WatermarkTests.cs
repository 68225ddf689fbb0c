using System.Reactive.Linq;
using System.Reactive.Subjects;
using Microsoft.Reactive.Testing;
using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Windowing;
using Xunit;

namespace SmartMaintenance.Streams.Windowing.Tests;

public sealed class WatermarkTests
{
    private static StreamEvent<SensorReading> Data(int partition, long ts) =>
        StreamEvent<SensorReading>.Data(Harness.Reading("s", ts, 1, partition, offset: ts));

    private static List<StreamEvent<SensorReading>> Collect(IObservable<StreamEvent<SensorReading>> source, out IDisposable subscription)
    {
        var list = new List<StreamEvent<SensorReading>>();
        subscription = source.Subscribe(list.Add);
        return list;
    }

    [Fact]
    public void Partition_watermark_is_max_event_time_minus_out_of_orderness_and_only_advances()
    {
        var scheduler = new TestScheduler();
        using var input = new Subject<StreamEvent<SensorReading>>();
        var output = Collect(input.AssignWatermarks(TimeSpan.FromMilliseconds(100), TimeSpan.Zero, scheduler), out var sub);
        using (sub)
        {
            input.OnNext(Data(0, 1000));
            input.OnNext(Data(0, 950));
            input.OnNext(Data(0, 1200));
        }
        var marks = output.Where(e => e.Kind == StreamEventKind.PartitionWatermark).Select(e => (e.Partition, e.Timestamp)).ToList();
        Assert.Equal([(0, 900L), (0, 1100L)], marks);
        Assert.Equal(3, output.Count(e => e.IsData));
    }

    [Fact]
    public void Operator_watermark_is_the_minimum_over_partitions()
    {
        var scheduler = new TestScheduler();
        using var input = new Subject<StreamEvent<SensorReading>>();
        var output = Collect(input.AssignWatermarks(TimeSpan.Zero, TimeSpan.Zero, scheduler).CombineWatermarks(), out var sub);
        using (sub)
        {
            input.OnNext(StreamEvent<SensorReading>.PartitionAssigned(0));
            input.OnNext(StreamEvent<SensorReading>.PartitionAssigned(1));
            input.OnNext(Data(0, 1000));
            input.OnNext(Data(1, 500));
            input.OnNext(Data(1, 1500));
            input.OnNext(Data(0, 2000));
        }
        var marks = output.Where(e => e.Kind == StreamEventKind.Watermark).Select(e => e.Timestamp).ToList();
        Assert.Equal([500L, 1000L, 1500L], marks);
    }

    [Fact]
    public void Idle_partition_stops_holding_the_watermark_back_after_the_idle_timeout_and_rejoins_on_data()
    {
        var scheduler = new TestScheduler();
        using var input = new Subject<StreamEvent<SensorReading>>();
        var output = Collect(
            input.AssignWatermarks(TimeSpan.Zero, TimeSpan.FromSeconds(10), scheduler).CombineWatermarks(), out var sub);
        using (sub)
        {
            input.OnNext(Data(0, 1000));
            input.OnNext(Data(1, 1000));
            input.OnNext(Data(0, 5000));
            Assert.Equal(1000L, output.Where(e => e.Kind == StreamEventKind.Watermark).Max(e => e.Timestamp));

            // Partition 0 keeps producing; partition 1 falls silent.
            for (var s = 1; s <= 9; s++)
            {
                scheduler.AdvanceTo(TimeSpan.FromSeconds(s).Ticks);
                input.OnNext(Data(0, 5000 + s));
            }
            Assert.DoesNotContain(output, e => e.Kind == StreamEventKind.PartitionIdle);

            for (var s = 10; s <= 13; s++)
            {
                scheduler.AdvanceTo(TimeSpan.FromSeconds(s).Ticks);
                input.OnNext(Data(0, 5000 + s));
            }
            var idle = Assert.Single(output, e => e.Kind == StreamEventKind.PartitionIdle);
            Assert.Equal(1, idle.Partition);
            Assert.True(output.Where(e => e.Kind == StreamEventKind.Watermark).Max(e => e.Timestamp) >= 5010);

            input.OnNext(Data(1, 2000));
            Assert.Single(output, e => e.Kind == StreamEventKind.PartitionActive && e.Partition == 1);
            Assert.DoesNotContain(output.Where(e => e.Kind == StreamEventKind.Watermark), e => e.Timestamp < 1000);
        }
        // The idle check is a timer, so it is scheduled on the given scheduler, not on a thread of its own.
        Assert.True(scheduler.Clock >= TimeSpan.FromSeconds(13).Ticks);
    }

    [Fact]
    public void Idle_timeout_fires_on_the_scheduler_even_when_no_data_arrives_at_all()
    {
        var scheduler = new TestScheduler();
        using var input = new Subject<StreamEvent<SensorReading>>();
        var output = Collect(
            input.AssignWatermarks(TimeSpan.Zero, TimeSpan.FromSeconds(4), scheduler).CombineWatermarks(), out var sub);
        using (sub)
        {
            input.OnNext(StreamEvent<SensorReading>.PartitionAssigned(0));
            input.OnNext(StreamEvent<SensorReading>.PartitionAssigned(1));
            input.OnNext(Data(0, 3000));
            input.OnNext(Data(1, 1000));
            scheduler.AdvanceBy(TimeSpan.FromSeconds(3).Ticks);
            Assert.DoesNotContain(output, e => e.Kind == StreamEventKind.PartitionIdle);
            Assert.Equal(1000L, output.Where(e => e.Kind == StreamEventKind.Watermark).Max(e => e.Timestamp));
            scheduler.AdvanceBy(TimeSpan.FromSeconds(3).Ticks);
        }
        Assert.Equal(2, output.Count(e => e.Kind == StreamEventKind.PartitionIdle));
        // Everything idle: the end of a burst still closes windows up to the furthest partition.
        Assert.Equal(3000L, output.Where(e => e.Kind == StreamEventKind.Watermark).Max(e => e.Timestamp));
    }

    [Fact]
    public void Assigned_partition_without_data_holds_the_watermark_until_it_goes_idle()
    {
        var scheduler = new TestScheduler();
        using var input = new Subject<StreamEvent<SensorReading>>();
        var output = Collect(
            input.AssignWatermarks(TimeSpan.Zero, TimeSpan.FromSeconds(2), scheduler).CombineWatermarks(), out var sub);
        using (sub)
        {
            input.OnNext(StreamEvent<SensorReading>.PartitionAssigned(7));
            input.OnNext(Data(0, 3000));
            Assert.DoesNotContain(output, e => e.Kind == StreamEventKind.Watermark);
            scheduler.AdvanceBy(TimeSpan.FromSeconds(3).Ticks);
            input.OnNext(Data(0, 3001));
        }
        Assert.Equal(3001L, output.Where(e => e.Kind == StreamEventKind.Watermark).Max(e => e.Timestamp));
    }

    [Fact]
    public void Revoked_partition_no_longer_counts()
    {
        var scheduler = new TestScheduler();
        using var input = new Subject<StreamEvent<SensorReading>>();
        var output = Collect(input.AssignWatermarks(TimeSpan.Zero, TimeSpan.Zero, scheduler).CombineWatermarks(), out var sub);
        using (sub)
        {
            input.OnNext(Data(0, 3000));
            input.OnNext(Data(1, 1000));
            input.OnNext(StreamEvent<SensorReading>.PartitionRevoked(1));
        }
        Assert.Equal(3000L, output.Where(e => e.Kind == StreamEventKind.Watermark).Max(e => e.Timestamp));
    }

    [Fact]
    public void Combining_several_inputs_takes_the_minimum_of_their_watermarks_and_a_completed_input_stops_counting()
    {
        using var a = new Subject<StreamEvent<int>>();
        using var b = new Subject<StreamEvent<int>>();
        var output = new List<StreamEvent<int>>();
        using var sub = WindowingObservable.CombineWatermarks(a, b).Subscribe(output.Add);
        a.OnNext(StreamEvent<int>.Watermark(100));
        Assert.DoesNotContain(output, e => e.Kind == StreamEventKind.Watermark);
        b.OnNext(StreamEvent<int>.Watermark(50));
        a.OnNext(StreamEvent<int>.Data(1));
        b.OnNext(StreamEvent<int>.Watermark(200));
        b.OnCompleted();
        a.OnNext(StreamEvent<int>.Watermark(300));
        Assert.Equal([50L, 100L, 300L], output.Where(e => e.Kind == StreamEventKind.Watermark).Select(e => e.Timestamp));
        Assert.Single(output, e => e.IsData);
    }

    [Fact]
    public void Restored_partition_watermark_is_a_floor_for_the_generator()
    {
        var scheduler = new TestScheduler();
        using var input = new Subject<StreamEvent<SensorReading>>();
        var output = Collect(input.AssignWatermarks(TimeSpan.FromMilliseconds(10), TimeSpan.Zero, scheduler).CombineWatermarks(), out var sub);
        using (sub)
        {
            input.OnNext(StreamEvent<SensorReading>.PartitionWatermark(0, 5000));
            input.OnNext(Data(0, 100));
            input.OnNext(Data(0, 5020));
        }
        Assert.Equal([5000L, 5010L], output.Where(e => e.Kind == StreamEventKind.Watermark).Select(e => e.Timestamp));
    }

    [Fact]
    public void Timestamp_selector_exception_lets_the_item_through_without_moving_the_watermark()
    {
        var scheduler = new TestScheduler();
        using var input = new Subject<StreamEvent<int>>();
        var output = new List<StreamEvent<int>>();
        using var sub = input.AssignWatermarks(i => i < 0 ? throw new InvalidOperationException("bad") : i, _ => 0, TimeSpan.Zero, TimeSpan.Zero, scheduler)
            .Subscribe(output.Add);
        input.OnNext(StreamEvent<int>.Data(10));
        input.OnNext(StreamEvent<int>.Data(-1));
        input.OnNext(StreamEvent<int>.Data(20));
        Assert.Equal([10, -1, 20], output.Where(e => e.IsData).Select(e => e.Item));
        Assert.Equal([10L, 20L], output.Where(e => e.Kind == StreamEventKind.PartitionWatermark).Select(e => e.Timestamp));
    }

    [Fact]
    public void Watermark_operators_check_their_arguments()
    {
        var scheduler = new TestScheduler();
        IObservable<StreamEvent<SensorReading>> nullSource = null!;
        var source = Observable.Empty<StreamEvent<SensorReading>>();
        Assert.Throws<ArgumentNullException>("source", () => nullSource.AssignWatermarks(TimeSpan.Zero, TimeSpan.Zero, scheduler));
        Assert.Throws<ArgumentNullException>("scheduler", () => source.AssignWatermarks(TimeSpan.Zero, TimeSpan.Zero, null!));
        Assert.Throws<ArgumentOutOfRangeException>("maxOutOfOrderness", () => source.AssignWatermarks(TimeSpan.FromSeconds(-1), TimeSpan.Zero, scheduler));
        Assert.Throws<ArgumentOutOfRangeException>("idleTimeout", () => source.AssignWatermarks(TimeSpan.Zero, TimeSpan.FromSeconds(-1), scheduler));
        Assert.Throws<ArgumentNullException>("timestampSelector", () => source.AssignWatermarks(null!, r => 0, TimeSpan.Zero, TimeSpan.Zero, scheduler));
        Assert.Throws<ArgumentNullException>("partitionSelector", () => source.AssignWatermarks(r => 0, null!, TimeSpan.Zero, TimeSpan.Zero, scheduler));
        Assert.Throws<ArgumentNullException>("source", () => nullSource.CombineWatermarks());
        Assert.Throws<ArgumentException>("inputs", () => WindowingObservable.CombineWatermarks<int>());
    }
}
