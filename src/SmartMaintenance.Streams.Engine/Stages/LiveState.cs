using System.Collections.Concurrent;
using SmartMaintenance.Streams.Contracts;

namespace SmartMaintenance.Streams.Engine.Stages;

/// <summary>One sensor's live state as the owning instance holds it (a copy; the engine keeps updating its own).</summary>
public sealed record SensorLiveSnapshot(string SensorId, int Partition, SensorReading? Latest, IReadOnlyList<Anomaly> LastAnomalies,
    IReadOnlyList<AlertEvent> OpenAlerts, long Readings);

/// <summary>
/// A read-only view of the engine's per-sensor state for interactive queries (operator API): latest reading, last
/// anomaly per detector and open alerts of every sensor of the partitions this instance owns. Written on the consume
/// loop's thread by <see cref="PipelineStages"/> (only when set), read by HTTP requests: each sensor's entry has its own
/// lock, held for a few field writes; nothing is allocated per reading once a sensor is known.
/// </summary>
public sealed class LiveState
{
    private readonly ConcurrentDictionary<string, Entry> _sensors = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<int, long> _restoring = new();
    // An assigned partition with no new reading counts as restored after this long (an idle partition replays nothing).
    private const long RestoreBoundMs = 30_000;
    // Touched on the consume loop's thread only.
    private readonly HashSet<int> _finishedEarly = [];

    /// <summary>Sensors held.</summary>
    public int Count => _sensors.Count;

    /// <summary>Partitions assigned but still replaying (state being rebuilt): answers about them would be stale.</summary>
    public IReadOnlyCollection<int> Restoring
    {
        get
        {
            var list = new List<int>();
            foreach (var p in _restoring.Keys)
            {
                if (IsRestoring(p))
                {
                    list.Add(p);
                }
            }
            return list;
        }
    }

    public bool TryGet(string sensorId, out SensorLiveSnapshot snapshot)
    {
        if (_sensors.TryGetValue(sensorId, out var e))
        {
            lock (e)
            {
                snapshot = new SensorLiveSnapshot(sensorId, e.Partition, e.HasLatest ? e.Latest : null, [.. e.Anomalies.Values], [.. e.Alerts.Values], e.Count);
            }
            return true;
        }
        snapshot = null!;
        return false;
    }

    /// <summary>Whether <paramref name="partition"/> is being restored.</summary>
    public bool IsRestoring(int partition) =>
        _restoring.TryGetValue(partition, out var since) && Environment.TickCount64 - since < RestoreBoundMs;

    internal void OnReading(in SensorReading reading, bool replaying, Anomaly? anomaly, List<AlertEvent> alerts, int alertsFrom)
    {
        var partition = reading.Position.Partition;
        if (!replaying && _restoring.IsEmpty is false)
        {
            _restoring.TryRemove(partition, out _);
        }
        var e = _sensors.GetOrAdd(reading.SensorId, static _ => new Entry());
        lock (e)
        {
            e.Partition = partition;
            e.Latest = reading;
            e.HasLatest = true;
            e.Count++;
            if (anomaly is not null)
            {
                e.Anomalies[anomaly.Detector] = anomaly;
            }
            for (var i = alertsFrom; i < alerts.Count; i++)
            {
                var a = alerts[i];
                if (a.Status == AlertStatus.Resolved)
                {
                    e.Alerts.Remove(a.AlertId);
                }
                else
                {
                    e.Alerts[a.AlertId] = a;
                }
            }
        }
    }

    internal void OnAssigned(IEnumerable<int> partitions)
    {
        foreach (var p in partitions)
        {
            // The engine reports a partition with nothing to replay as finished before the stages hear of the assignment.
            if (!_finishedEarly.Remove(p))
            {
                _restoring[p] = Environment.TickCount64;
            }
        }
    }

    internal void OnReplayFinished(int partition)
    {
        if (!_restoring.TryRemove(partition, out _))
        {
            _finishedEarly.Add(partition);
        }
    }

    internal void OnDropped(IReadOnlyCollection<int> partitions)
    {
        foreach (var p in partitions)
        {
            _restoring.TryRemove(p, out _);
        }
        foreach (var (id, e) in _sensors)
        {
            if (partitions.Contains(e.Partition))
            {
                _sensors.TryRemove(id, out _);
            }
        }
    }

    private sealed class Entry
    {
        public int Partition;
        public SensorReading Latest;
        public bool HasLatest;
        public long Count;
        public readonly Dictionary<string, Anomaly> Anomalies = new(StringComparer.Ordinal);
        public readonly Dictionary<string, AlertEvent> Alerts = new(StringComparer.Ordinal);
    }
}
