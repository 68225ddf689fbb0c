using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Storage;

namespace SmartMaintenance.Streams.Integration.Tests.ExactlyOnceModel;

/// <summary>
/// The database of the model: the tables the engine's transactions touch, written by the rules of
/// <see cref="PostgresSink"/> (fences and offset moves from <see cref="OffsetFence"/>, the very code the sink runs;
/// aggregate upserts as its SQL: newest revision of a key within a transaction, last transaction wins; retractions
/// deleted after the upserts; a detector state row replaced only by one of a higher or equal offset).
/// </summary>
internal sealed class ModelDatabase
{
    public Dictionary<(int Partition, long Offset), ModelReading> Readings { get; } = [];
    public HashSet<(int Partition, long Offset)> DeadLetters { get; } = [];
    public Dictionary<(string Sensor, string Kind, long Start), WindowAggregate> Aggregates { get; } = [];
    public Dictionary<int, OffsetMark> Offsets { get; } = [];
    /// <summary>The batch that last wrote each aggregate row (for the failure report).</summary>
    public Dictionary<(string Sensor, string Kind, long Start), string> WrittenBy { get; } = [];
    public Dictionary<(int Partition, string Sensor), (long Offset, byte[] State)> States { get; } = [];
    public List<string> Violations { get; } = [];
    public int Transactions { get; private set; }

    /// <summary>One line per commit when set (for the failure report of a single seed).</summary>
    public List<string>? Log { get; set; }
    public int StaleBatches { get; private set; }

    public void Commit(ModelBatch batch)
    {
        Transactions++;
        var marks = new Dictionary<int, OffsetMark>();
        foreach (var m in batch.Marks)
        {
            if (m.ReplayFrom > m.NextOffset)
            {
                Violations.Add($"mark p{m.Partition} replay_from {m.ReplayFrom} above next {m.NextOffset}");
            }
            if (!marks.TryGetValue(m.Partition, out var prev) || m.NextOffset >= prev.NextOffset)
            {
                marks[m.Partition] = m;
            }
        }
        var storedNext = new Dictionary<int, long>();
        foreach (var p in marks.Keys)
        {
            if (Offsets.TryGetValue(p, out var row))
            {
                storedNext[p] = row.NextOffset;
            }
        }
        foreach (var r in batch.Readings)
        {
            var key = (r.Reading.Position.Partition, r.Reading.Position.Offset);
            if (OffsetFence.IsStored(key.Partition, key.Offset, storedNext))
            {
                continue;
            }
            if (!Readings.TryAdd(key, r))
            {
                Violations.Add($"reading p{key.Partition}@{key.Offset} stored twice");
            }
        }
        foreach (var d in batch.DeadLettered)
        {
            DeadLetters.Add(d);
        }
        if (OffsetFence.IsStale(marks.Values, storedNext))
        {
            StaleBatches++;
        }
        else
        {
            var newest = new Dictionary<(string, string, long), WindowAggregate>();
            foreach (var a in batch.Aggregates)
            {
                var key = (a.SensorId, a.WindowKind, a.WindowStart);
                if (!newest.TryGetValue(key, out var had) || a.Revision >= had.Revision)
                {
                    newest[key] = a;
                }
            }
            foreach (var (key, a) in newest)
            {
                Aggregates[key] = a;
                WrittenBy[key] = batch.Origin;
            }
            foreach (var r in batch.Retractions)
            {
                Aggregates.Remove((r.SensorId, r.WindowKind, r.WindowStart));
            }
            foreach (var (partition, sensor, offset, state) in batch.States)
            {
                if (!States.TryGetValue((partition, sensor), out var had) || had.Offset <= offset)
                {
                    States[(partition, sensor)] = (offset, state);
                }
            }
        }
        foreach (var m in marks.Values)
        {
            Offsets[m.Partition] = OffsetFence.Merge(Offsets.TryGetValue(m.Partition, out var row) ? row : null, m);
        }
        Log?.Add($"commit {batch.Origin}: {batch.Readings.Count} readings, {batch.Aggregates.Count} aggregates, marks "
            + string.Join(' ', marks.Values.Select(m => $"p{m.Partition}:{m.NextOffset}/{m.ReplayFrom}/{m.Watermark}"))
            + (StaleBatches > 0 && batch.Marks.Count > 0 && OffsetFence.IsStale(marks.Values, storedNext) ? " STALE" : "")
            + "\n    " + string.Join(", ", batch.Aggregates.Select(a => $"{a.SensorId} {a.WindowKind} {DateTimeOffset.FromUnixTimeMilliseconds(a.WindowStart):HH:mm:ss} r{a.Revision}{(a.IsFinal ? " final" : "")} n{a.Count}")));
    }
}
