using System.Reactive.Concurrency;
using System.Reactive.Disposables;

namespace SmartMaintenance.Streams.Windowing;

/// <summary>Per-partition watermark generator: bounded out-of-orderness plus idle detection on a scheduler.</summary>
internal sealed class AssignWatermarksOperator<T>(
    IObservable<StreamEvent<T>> source,
    Func<T, long> timestampSelector,
    Func<T, int> partitionSelector,
    long maxOutOfOrderness,
    TimeSpan idleTimeout,
    IScheduler scheduler) : IObservable<StreamEvent<T>>
{
    private readonly IObservable<StreamEvent<T>> _source = source;
    private readonly Func<T, long> _timestampSelector = timestampSelector;
    private readonly Func<T, int> _partitionSelector = partitionSelector;
    private readonly long _maxOutOfOrderness = maxOutOfOrderness;
    private readonly TimeSpan _idleTimeout = idleTimeout;
    private readonly IScheduler _scheduler = scheduler;

    public IDisposable Subscribe(IObserver<StreamEvent<T>> observer)
    {
        ArgumentNullException.ThrowIfNull(observer);
        var sink = new Sink(observer, this);
        sink.Run();
        return sink;
    }

    private struct PartitionState
    {
        public bool Known;
        public bool Idle;
        public long MaxTimestamp;
        public long Watermark;
        public long Activity;
        public long ActivitySeen;
        public DateTimeOffset LastActive;
    }

    private sealed class Sink(IObserver<StreamEvent<T>> downstream, AssignWatermarksOperator<T> parent) : IObserver<StreamEvent<T>>, IDisposable
    {
        private readonly Lock _gate = new();
        private readonly SingleAssignmentDisposable _upstream = new();
        private readonly MultipleAssignmentDisposable _timer = new();
        private readonly bool _idleEnabled = parent._idleTimeout > TimeSpan.Zero && parent._idleTimeout != Timeout.InfiniteTimeSpan;
        private PartitionArray<PartitionState> _partitions = new(new PartitionState { MaxTimestamp = long.MinValue, Watermark = long.MinValue });
        private bool _done;

        public void Run()
        {
            if (_idleEnabled)
            {
                ScheduleCheck();
            }
            _upstream.Disposable = parent._source.Subscribe(this);
        }

        public void OnNext(StreamEvent<T> value)
        {
            lock (_gate)
            {
                if (_done)
                {
                    return;
                }
                switch (value.Kind)
                {
                    case StreamEventKind.Data:
                        OnData(value);
                        break;
                    case StreamEventKind.PartitionWatermark:
                    {
                        ref var p = ref Touch(value.Partition);
                        p.Activity++;
                        // An externally supplied watermark is a floor (e.g. restored from a checkpoint).
                        if (value.Timestamp > p.Watermark)
                        {
                            p.Watermark = value.Timestamp;
                            p.MaxTimestamp = Math.Max(p.MaxTimestamp, TimeMath.SaturatingAdd(value.Timestamp, parent._maxOutOfOrderness));
                            downstream.OnNext(StreamEvent<T>.PartitionWatermark(value.Partition, p.Watermark));
                        }
                        break;
                    }
                    case StreamEventKind.PartitionAssigned:
                        Touch(value.Partition);
                        downstream.OnNext(value);
                        break;
                    case StreamEventKind.PartitionRevoked:
                        _partitions[value.Partition] = new PartitionState { MaxTimestamp = long.MinValue, Watermark = long.MinValue };
                        downstream.OnNext(value);
                        break;
                    default:
                        downstream.OnNext(value);
                        break;
                }
            }
        }

        private void OnData(in StreamEvent<T> value)
        {
            var item = value.Item;
            long ts;
            int partition;
            try
            {
                ts = parent._timestampSelector(item);
                partition = parent._partitionSelector(item);
            }
            catch (Exception)
            {
                // The item still flows on; the operator that consumes it reports the bad record. It just does not move the watermark.
                downstream.OnNext(value);
                return;
            }
            ref var p = ref Touch(partition);
            p.Activity++;
            if (p.Idle)
            {
                p.Idle = false;
                downstream.OnNext(StreamEvent<T>.PartitionActive(partition));
            }
            downstream.OnNext(value);
            if (ts > p.MaxTimestamp)
            {
                p.MaxTimestamp = ts;
                var wm = TimeMath.SaturatingSub(ts, parent._maxOutOfOrderness);
                if (wm > p.Watermark)
                {
                    p.Watermark = wm;
                    downstream.OnNext(StreamEvent<T>.PartitionWatermark(partition, wm));
                }
            }
        }

        private ref PartitionState Touch(int partition)
        {
            ref var p = ref _partitions[partition];
            if (!p.Known)
            {
                p.Known = true;
                p.LastActive = _idleEnabled ? parent._scheduler.Now : default;
            }
            return ref p;
        }

        private void ScheduleCheck()
        {
            var interval = TimeSpan.FromTicks(Math.Max(TimeSpan.TicksPerMillisecond, parent._idleTimeout.Ticks / 4));
            _timer.Disposable = parent._scheduler.Schedule(interval, () =>
            {
                lock (_gate)
                {
                    if (_done)
                    {
                        return;
                    }
                    CheckIdle();
                }
                ScheduleCheck();
            });
        }

        private void CheckIdle()
        {
            var now = parent._scheduler.Now;
            foreach (var id in _partitions.Partitions())
            {
                ref var p = ref _partitions[id];
                if (!p.Known)
                {
                    continue;
                }
                if (p.Activity != p.ActivitySeen)
                {
                    p.ActivitySeen = p.Activity;
                    p.LastActive = now;
                }
                else if (!p.Idle && now - p.LastActive >= parent._idleTimeout)
                {
                    p.Idle = true;
                    downstream.OnNext(StreamEvent<T>.PartitionIdle(id));
                }
            }
        }

        public void OnError(Exception error)
        {
            lock (_gate)
            {
                if (_done)
                {
                    return;
                }
                _done = true;
                _timer.Dispose();
                downstream.OnError(error);
            }
        }

        public void OnCompleted()
        {
            lock (_gate)
            {
                if (_done)
                {
                    return;
                }
                _done = true;
                _timer.Dispose();
                downstream.OnCompleted();
            }
        }

        public void Dispose()
        {
            lock (_gate)
            {
                _done = true;
            }
            _timer.Dispose();
            _upstream.Dispose();
        }
    }
}

/// <summary>Combines partition watermarks into the operator watermark: the minimum over active partitions, never decreasing.</summary>
internal sealed class CombineWatermarksOperator<T>(IObservable<StreamEvent<T>>[] inputs) : IObservable<StreamEvent<T>>
{
    public IDisposable Subscribe(IObserver<StreamEvent<T>> observer)
    {
        ArgumentNullException.ThrowIfNull(observer);
        var sink = new Sink(observer, inputs.Length);
        sink.Run(inputs);
        return sink;
    }

    private struct Channel
    {
        public bool Present;
        public bool Idle;
        public long Watermark;
    }

    private sealed class Sink(IObserver<StreamEvent<T>> downstream, int inputCount) : IDisposable
    {
        private readonly Lock _gate = new();
        private readonly CompositeDisposable _subscriptions = [];
        private readonly bool _multi = inputCount > 1;
        private PartitionArray<Channel> _channels = new(new Channel { Watermark = long.MinValue });
        private long _combined = long.MinValue;
        private int _completed;
        private bool _done;

        public void Run(IObservable<StreamEvent<T>>[] inputs)
        {
            if (_multi)
            {
                // Every input is a channel from the start: a silent input holds the watermark back.
                for (var i = 0; i < inputs.Length; i++)
                {
                    _channels[i] = new Channel { Present = true, Watermark = long.MinValue };
                }
            }
            for (var i = 0; i < inputs.Length; i++)
            {
                _subscriptions.Add(inputs[i].Subscribe(new Input(this, i)));
            }
        }

        private void OnNext(int input, StreamEvent<T> value)
        {
            lock (_gate)
            {
                if (_done)
                {
                    return;
                }
                if (value.Kind == StreamEventKind.Data)
                {
                    downstream.OnNext(value);
                    return;
                }
                if (_multi)
                {
                    // Inputs carry operator watermarks; partition events are theirs and pass through untouched.
                    if (value.Kind == StreamEventKind.Watermark)
                    {
                        ref var c = ref _channels[input];
                        c.Watermark = Math.Max(c.Watermark, value.Timestamp);
                        Recompute();
                    }
                    else
                    {
                        downstream.OnNext(value);
                    }
                    return;
                }
                switch (value.Kind)
                {
                    case StreamEventKind.Watermark:
                        // An operator-level watermark from upstream is a floor (e.g. restored after a crash).
                        if (value.Timestamp > _combined)
                        {
                            _combined = value.Timestamp;
                            downstream.OnNext(StreamEvent<T>.Watermark(_combined));
                        }
                        return;
                    case StreamEventKind.PartitionWatermark:
                    {
                        ref var c = ref _channels[value.Partition];
                        c.Present = true;
                        c.Idle = false;
                        c.Watermark = Math.Max(c.Watermark, value.Timestamp);
                        break;
                    }
                    case StreamEventKind.PartitionIdle:
                        _channels[value.Partition].Idle = true;
                        break;
                    case StreamEventKind.PartitionActive:
                        _channels[value.Partition].Idle = false;
                        break;
                    case StreamEventKind.PartitionAssigned:
                        _channels[value.Partition].Present = true;
                        break;
                    case StreamEventKind.PartitionRevoked:
                        _channels[value.Partition] = new Channel { Watermark = long.MinValue };
                        break;
                }
                downstream.OnNext(value);
                Recompute();
            }
        }

        private void Recompute()
        {
            var min = long.MaxValue;
            var maxIdle = long.MinValue;
            var any = false;
            // Index loop, not the Partitions() iterator: this runs once per watermark, i.e. per reading.
            for (var id = -1; id < _channels.Length; id++)
            {
                _channels.TryGet(id, out var c);
                if (!c.Present)
                {
                    continue;
                }
                if (c.Idle)
                {
                    maxIdle = Math.Max(maxIdle, c.Watermark);
                }
                else
                {
                    any = true;
                    min = Math.Min(min, c.Watermark);
                }
            }
            // All idle: nothing holds time back any more, so windows up to the furthest partition may close.
            var next = any ? min : maxIdle;
            if (next > _combined)
            {
                _combined = next;
                downstream.OnNext(StreamEvent<T>.Watermark(next));
            }
        }

        private void OnError(Exception error)
        {
            lock (_gate)
            {
                if (_done)
                {
                    return;
                }
                _done = true;
                downstream.OnError(error);
            }
        }

        private void OnCompleted(int input)
        {
            lock (_gate)
            {
                if (_done)
                {
                    return;
                }
                if (++_completed < inputCount)
                {
                    // A finished input sends nothing more, so it must not hold the others back.
                    _channels[input].Watermark = long.MaxValue;
                    Recompute();
                    return;
                }
                _done = true;
                downstream.OnCompleted();
            }
        }

        public void Dispose()
        {
            lock (_gate)
            {
                _done = true;
            }
            _subscriptions.Dispose();
        }

        private sealed class Input(Sink parent, int index) : IObserver<StreamEvent<T>>
        {
            public void OnNext(StreamEvent<T> value) => parent.OnNext(index, value);

            public void OnError(Exception error) => parent.OnError(error);

            public void OnCompleted() => parent.OnCompleted(index);
        }
    }
}
