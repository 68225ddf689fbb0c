using System.Runtime.InteropServices;
using SmartMaintenance.Streams.Contracts;

namespace SmartMaintenance.Streams.Engine.Stages;

/// <summary>
/// 1-minute tumbling aggregates per sensor. Windows are upserted on every batch boundary (revision+1), so the
/// stored aggregate converges to the final one; a window closes once the sensor's own event time has moved
/// past its end by <see cref="Lateness"/>.
/// </summary>
public sealed class BasicTumblingWindows : IWindowStage
{
    public const string WindowKind = "tumbling:1m";
    private const long WindowMs = 60_000;
    private static readonly long Lateness = 60_000;

    private readonly Dictionary<string, SensorState> _sensors = new(StringComparer.Ordinal);

    public RejectReason OnReading(in SensorReading r, bool replaying, StageOutputs outputs, out string? detail)
    {
        ref var s = ref CollectionsMarshal.GetValueRefOrAddDefault(_sensors, r.SensorId, out var exists);
        if (!exists)
        {
            s = new SensorState { Partition = r.Position.Partition, MaxTs = long.MinValue };
        }
        var start = r.Timestamp - (((r.Timestamp % WindowMs) + WindowMs) % WindowMs);
        if (s.MaxTs != long.MinValue && start + WindowMs + Lateness <= s.MaxTs && !s.Has(start))
        {
            detail = $"window {start} already closed; event time {s.MaxTs - r.Timestamp} ms behind the sensor's newest";
            return RejectReason.Late;
        }
        s.Add(start, r, replaying);
        if (r.Timestamp > s.MaxTs)
        {
            s.MaxTs = r.Timestamp;
            s.CloseUpTo(s.MaxTs, r.SensorId, replaying, outputs);
        }
        detail = null;
        return RejectReason.None;
    }

    public void OnBatchBoundary(StageOutputs outputs)
    {
        foreach (var (sensorId, state) in _sensors)
        {
            state.EmitDirty(sensorId, outputs);
        }
    }

    public long? LowestNeededOffset(int partition)
    {
        long? min = null;
        foreach (var state in _sensors.Values)
        {
            if (state.Partition == partition && state.MinOpenOffset() is { } o && (min is null || o < min))
            {
                min = o;
            }
        }
        return min;
    }

    public void DropPartitions(IReadOnlyCollection<int> partitions)
    {
        List<string>? remove = null;
        foreach (var (id, state) in _sensors)
        {
            if (partitions.Contains(state.Partition))
            {
                (remove ??= []).Add(id);
            }
        }
        if (remove is not null)
        {
            foreach (var id in remove)
            {
                _sensors.Remove(id);
            }
        }
    }

    private sealed class Window
    {
        public long Start;
        public long Count;
        public double Mean;
        public double M2;
        public double Sum;
        public double Min = double.PositiveInfinity;
        public double Max = double.NegativeInfinity;
        public long FirstTs = long.MaxValue;
        public double First;
        public long LastTs = long.MinValue;
        public double Last;
        public long MinOffset = long.MaxValue;
        public int Revision = -1;
        public bool Dirty;
        public bool ReplayOnly = true;
        public string? AssetId;
        public string? SensorType;
    }

    private struct SensorState
    {
        public int Partition;
        public long MaxTs;
        public List<Window>? Windows;

        public readonly bool Has(long start)
        {
            if (Windows is null)
            {
                return false;
            }
            foreach (var w in Windows)
            {
                if (w.Start == start)
                {
                    return true;
                }
            }
            return false;
        }

        public void Add(long start, in SensorReading r, bool replaying)
        {
            Windows ??= new List<Window>(2);
            Window? w = null;
            foreach (var x in Windows)
            {
                if (x.Start == start)
                {
                    w = x;
                    break;
                }
            }
            if (w is null)
            {
                w = new Window { Start = start, AssetId = r.AssetId, SensorType = r.SensorType };
                Windows.Add(w);
            }
            w.Count++;
            var delta = r.Value - w.Mean;
            w.Mean += delta / w.Count;
            w.M2 += delta * (r.Value - w.Mean);
            w.Sum += r.Value;
            w.Min = Math.Min(w.Min, r.Value);
            w.Max = Math.Max(w.Max, r.Value);
            if (r.Timestamp < w.FirstTs)
            {
                w.FirstTs = r.Timestamp;
                w.First = r.Value;
            }
            if (r.Timestamp >= w.LastTs)
            {
                w.LastTs = r.Timestamp;
                w.Last = r.Value;
            }
            w.MinOffset = Math.Min(w.MinOffset, r.Position.Offset);
            w.Dirty = true;
            // A window rebuilt only from replayed readings may be partial (its start lies before the replay point):
            // it must never overwrite what was stored before the crash.
            w.ReplayOnly &= replaying;
        }

        /// <summary>Closes (final firing) every window whose end + lateness the sensor's event time has passed.</summary>
        public readonly void CloseUpTo(long maxTs, string sensorId, bool replaying, StageOutputs outputs)
        {
            if (Windows is null)
            {
                return;
            }
            for (var i = Windows.Count - 1; i >= 0; i--)
            {
                var w = Windows[i];
                if (w.Start + WindowMs + Lateness <= maxTs)
                {
                    if (!replaying && !w.ReplayOnly)
                    {
                        Emit(sensorId, w, true, outputs);
                    }
                    Windows.RemoveAt(i);
                }
            }
        }

        public readonly void EmitDirty(string sensorId, StageOutputs outputs)
        {
            if (Windows is null)
            {
                return;
            }
            foreach (var w in Windows)
            {
                if (w.Dirty && !w.ReplayOnly)
                {
                    Emit(sensorId, w, false, outputs);
                }
            }
        }

        private static void Emit(string sensorId, Window w, bool final, StageOutputs outputs)
        {
            w.Revision++;
            w.Dirty = false;
            var sd = w.Count > 1 ? Math.Sqrt(w.M2 / (w.Count - 1)) : 0;
            outputs.Aggregates.Add(new WindowAggregate(sensorId, WindowKind, w.Start, w.Start + WindowMs, w.Count, w.Sum, w.Min, w.Max,
                w.Mean, sd, w.First, w.Last, double.NaN, double.NaN, double.NaN, w.Revision, final, w.AssetId, w.SensorType));
        }

        public readonly long? MinOpenOffset()
        {
            if (Windows is null || Windows.Count == 0)
            {
                return null;
            }
            var min = long.MaxValue;
            foreach (var w in Windows)
            {
                min = Math.Min(min, w.MinOffset);
            }
            return min;
        }
    }
}
