using System.Text;
using SmartMaintenance.Streams.Alerting;
using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Engine.Lifecycle;
using SmartMaintenance.Streams.Engine.Stages;
using SmartMaintenance.Streams.Scoring;
using SmartMaintenance.Streams.Storage;
using SmartMaintenance.Streams.Windowing;

namespace SmartMaintenance.Streams.Integration.Tests.ExactlyOnceModel;

/// <summary>
/// One engine instance of the model: the engine's own stages (<see cref="PipelineStages"/> over
/// <see cref="RxWindowStage"/>, detectors and alerts, persistence on) driven the way <c>StreamEngine</c> drives them —
/// assignment (stored offsets, detector states, floors), consumption (replayed or not by <see cref="ReplayRules"/>),
/// hand-off at a batch boundary, revocation, loss — with a queue of batches in place of the writer task.
/// </summary>
internal sealed class ModelInstance
{
    public const string Group = "model";
    public const string Topic = "readings";

    private readonly PipelineStages _stages;
    private readonly RxWindowStage _windows;
    private readonly ManualClock _clock = new(ModelInput.T0);
    private readonly StageOutputs _outputs = new();
    private readonly List<ChangedSensor> _taken = [];
    private ModelBatch _batch = new();
    private int _handoffs;

    public ModelInstance(int id, WindowingSettings windows)
    {
        Id = id;
        _windows = new RxWindowStage(windows, _clock);
        _stages = new PipelineStages(_windows, new DetectorPipeline(new ScoringOptions()), new AlertTracker(new AlertOptions()));
        _stages.EnablePersistence();
    }

    public int Id { get; }

    /// <summary>Every record consumed, when set (for replaying one seed).</summary>
    public List<string>? Log { get; set; }

    /// <summary>Owned partitions: stored next offset at assignment and the consume position.</summary>
    public Dictionary<int, (long StoredNext, long Position)> Partitions { get; } = [];

    /// <summary>Handed-off batches the writer has not committed yet.</summary>
    public Queue<ModelBatch> Queue { get; } = new();

    public long Watermark => _stages.CommittedWatermark;

    public void Assign(IReadOnlyCollection<int> partitions, ModelDatabase db)
    {
        var floors = new Dictionary<int, long?>();
        foreach (var p in partitions)
        {
            if (db.Offsets.TryGetValue(p, out var mark))
            {
                var resume = ReplayRules.ResumeAt(mark);
                Partitions[p] = (mark.NextOffset, resume);
                floors[p] = ReplayRules.Floor(mark);
            }
            else
            {
                Partitions[p] = (0, 0);
                floors[p] = null;
            }
        }
        foreach (var ((p, sensor), (offset, state)) in db.States)
        {
            if (partitions.Contains(p))
            {
                _stages.RestoreState(sensor, p, offset, state);
            }
        }
        foreach (var p in partitions)
        {
            var (storedNext, position) = Partitions[p];
            if (position >= storedNext)
            {
                _stages.ReplayFinished(p);
            }
        }
        _stages.OnPartitionsAssigned(floors, _outputs);
    }

    /// <summary>Consumes up to <paramref name="count"/> produced records from owned partitions in a random interleaving.</summary>
    public void Consume(ModelInput input, Random rng, int count)
    {
        var ready = new List<int>();
        for (var i = 0; i < count; i++)
        {
            ready.Clear();
            foreach (var (p, c) in Partitions)
            {
                if (c.Position < input.Visible[p])
                {
                    ready.Add(p);
                }
            }
            if (ready.Count == 0)
            {
                return;
            }
            ready.Sort();
            var partition = ready[rng.Next(ready.Count)];
            var (storedNext, offset) = Partitions[partition];
            Partitions[partition] = (storedNext, offset + 1);
            var reading = input.Logs[partition][(int)offset];
            var replaying = ReplayRules.IsReplay(offset, storedNext);
            var reason = _stages.OnReading(reading, replaying, _outputs, out _);
            var closedBelow = _windows.LastClosedBelow;
            Log?.Add($"  i{Id} p{partition}@{offset} {reading.SensorId} {DateTimeOffset.FromUnixTimeMilliseconds(reading.Timestamp):HH:mm:ss.fff}"
                + $"{(replaying ? " replayed" : "")} closedBelow {DateTimeOffset.FromUnixTimeMilliseconds(Math.Max(closedBelow, 0)):HH:mm:ss.fff} {reason}"
                + $" late [{string.Join(',', _windows.LateKinds)}] → watermark {DateTimeOffset.FromUnixTimeMilliseconds(Math.Max(_windows.Watermark, 0)):HH:mm:ss.fff}");
            if (!replaying)
            {
                if (reason == RejectReason.None)
                {
                    _batch.Readings.Add(new ModelReading(reading, closedBelow, [.. _windows.LateKinds]));
                }
                else
                {
                    _batch.DeadLettered.Add((partition, offset));
                }
                _batch.NextOffsets[partition] = offset + 1;
                _batch.HasWork = true;
            }
            else if (offset + 1 >= storedNext)
            {
                _stages.ReplayFinished(partition);
            }
        }
    }

    /// <summary>Processing time passes with nothing to consume, a second at a time as the engine's loop marks partitions with
    /// records left (paused, behind) active once a second; the others may go idle.</summary>
    public void Idle(ModelInput input, TimeSpan by)
    {
        for (var elapsed = TimeSpan.Zero; elapsed < by; elapsed += TimeSpan.FromSeconds(1))
        {
            foreach (var (p, c) in Partitions)
            {
                if (c.Position < input.Visible[p])
                {
                    _stages.OnPartitionBacklogged(p);
                }
            }
            _clock.Advance(TimeSpan.FromSeconds(1));
            _stages.OnTick(_outputs);
        }
        if (!_outputs.IsEmpty)
        {
            _batch.HasWork = true;
        }
    }

    public bool HasWork => _batch.HasWork || !_outputs.IsEmpty || _stages.HasChanges;

    /// <summary>The engine's hand-off: batch boundary, detector states, window outputs, offset marks; queued for the writer.</summary>
    public void Handoff(bool allState, bool checkpoint, int maxStates)
    {
        _stages.OnBatchBoundary(_outputs);
        CaptureState(allState || checkpoint, allState ? int.MaxValue : maxStates);
        foreach (var a in _outputs.Aggregates)
        {
            _batch.Aggregates.Add(a);
        }
        _batch.Retractions.AddRange(_outputs.Retractions);
        var watermark = _stages.CommittedWatermark;
        foreach (var (partition, next) in _batch.NextOffsets)
        {
            var replayFrom = ReplayRules.ReplayFrom(next, _stages.LowestNeededOffset(partition), _stages.LowestUntakenOffset(partition));
            _batch.Marks.Add(new OffsetMark(Group, Topic, partition, next, replayFrom, _stages.CommittedWatermarkOf(partition)));
        }
        _outputs.Clear();
        _batch.Origin = $"i{Id} batch {++_handoffs} (watermark {watermark})";
        Queue.Enqueue(_batch);
        _batch = new ModelBatch();
    }

    private void CaptureState(bool all, int max)
    {
        _taken.Clear();
        _stages.TakeChanged(all, _taken, max);
        foreach (var changed in _taken)
        {
            if (!Partitions.TryGetValue(changed.Partition, out var c))
            {
                continue;
            }
            using var buffer = new MemoryStream();
            using (var writer = new BinaryWriter(buffer, Encoding.UTF8, leaveOpen: true))
            {
                _stages.WriteState(changed.SensorId, writer);
            }
            _batch.States.Add((changed.Partition, changed.SensorId, ReplayRules.StatePosition(c.Position, changed.MinPosition), buffer.ToArray()));
        }
    }

    /// <summary>The writer commits its oldest queued batch; an ambiguous commit is retried (the same batch again).</summary>
    public void CommitOne(ModelDatabase db, bool retried)
    {
        if (Queue.TryDequeue(out var batch))
        {
            db.Commit(batch);
            if (retried)
            {
                db.Commit(batch);
            }
        }
    }

    public void CommitAll(ModelDatabase db)
    {
        while (Queue.Count > 0)
        {
            CommitOne(db, retried: false);
        }
    }

    /// <summary>Cooperative revocation: everything consumed and every changed state committed first, then dropped.</summary>
    public void Revoke(IReadOnlyCollection<int> partitions, ModelDatabase db)
    {
        if (HasWork)
        {
            Handoff(allState: true, checkpoint: true, int.MaxValue);
        }
        CommitAll(db);
        Forget(partitions);
    }

    /// <summary>Lost (session timed out): dropped without committing, and out of the open batch (as the engine's OnLost);
    /// batches already queued may still commit later.</summary>
    public void Lose(IReadOnlyCollection<int> partitions)
    {
        foreach (var p in partitions)
        {
            if (_batch.NextOffsets.Remove(p))
            {
                _batch.Readings.RemoveAll(r => r.Reading.Position.Partition == p);
                _batch.DeadLettered.RemoveAll(d => d.Partition == p);
            }
        }
        Forget(partitions);
    }

    private void Forget(IReadOnlyCollection<int> partitions)
    {
        foreach (var p in partitions)
        {
            Partitions.Remove(p);
        }
        _stages.DropPartitions(partitions, _outputs);
    }
}
