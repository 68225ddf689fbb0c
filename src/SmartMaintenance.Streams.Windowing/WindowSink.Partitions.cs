using System.Runtime.CompilerServices;

namespace SmartMaintenance.Streams.Windowing;

/// <summary>
/// The window sink's side of partition ownership: a revoked partition's keys leave with it, and a partition assigned
/// behind the operator watermark catches up (judged by its floor, its windows' timers waiting) before anything of it
/// closes (docs/design.md, "Why a stored final aggregate equals its recompute").
/// </summary>
internal sealed partial class WindowSink
{
    /// <summary>
    /// A revoked partition's keys go with it. Their windows hold only the readings up to the revocation: kept, this
    /// operator's watermark would later fire them, partial, over the complete ones of the partition's next owner; and if
    /// the partition came back, its replay would add to them a second time. Whoever owns the partition next rebuilds its
    /// open windows from the stored replay point under the stored floor, the one path that is exact (docs/design.md,
    /// "Why a stored final aggregate equals its recompute"). Timers and early-firing lists still naming a dropped key find
    /// no window in it and skip it.
    /// </summary>
    private void DropPartitionState(int partition)
    {
        if (partition < 0)
        {
            return;
        }
        List<KeyState>? dropped = null;
        foreach (var ks in _keys.Values)
        {
            if (ks.Partition == partition)
            {
                (dropped ??= []).Add(ks);
            }
        }
        if (dropped is not null)
        {
            foreach (var ks in dropped)
            {
                _keys.Remove(ks.Key);
                DiscardKey(ks);
            }
            // Every key of the partition was dropped above, so its partition alone identifies their entries.
            _changedSessions.RemoveAll(c => c.Key.Partition == partition);
            _parked.RemoveAll(p => p.Timer.Key.Partition == partition);
        }
        EndSessionRestoreLocked(partition);
        _tracker.Forget(partition);
        _nextOffsets[partition] = -1;
        _resumeNext[partition] = -1;
        _replayedUpTo[partition] = -1;
    }

    private void DiscardKey(KeyState ks)
    {
        if (_firstGroup is not null)
        {
            ks.ReleaseAll(_pool);
        }
        for (var i = 0; i < (ks.States?.Length ?? 0); i++)
        {
            switch (ks.State(i))
            {
                case AlignedState a:
                    a.ReleaseAll(_pool);
                    break;
                case SessionState st:
                    for (var j = 0; j < st.Count; j++)
                    {
                        st.Items[j].Acc.Release(_pool);
                    }
                    st.RemoveRange(0, st.Count);
                    st.Changed = false;
                    if (st.Restoring)
                    {
                        st.Restoring = false;
                        _restoring.Remove(st);
                    }
                    break;
            }
        }
        ks.Dedup = default;
    }

    /// <summary>Partitions whose own watermark reached the operator's have caught up.</summary>
    private void EndCatchUps()
    {
        List<int>? done = null;
        foreach (var p in _catchingUp)
        {
            if (_partitionWatermarks.TryGetValue(p, out var own) && own >= _watermark && !_replaying.Contains(p))
            {
                (done ??= []).Add(p);
            }
        }
        foreach (var p in done ?? [])
        {
            EndCatchUp(p);
        }
    }

    /// <summary>
    /// The partition caught up with the operator watermark (or went idle): from now on that watermark judges its readings.
    /// Its floor rises to it, so what counts as final for the partition only ever grows, and the windows of its keys that
    /// waited for it fire now, before any batch could store the operator watermark as its floor.
    /// </summary>
    private void EndCatchUp(int partition)
    {
        _catchingUp.Remove(partition);
        _replaying.Remove(partition);
        ref var floor = ref _floors[partition];
        floor = Math.Max(floor, _watermark);
        foreach (var sr in _specs)
        {
            if (sr.IsSession)
            {
                ProcessSessions(sr);
            }
            else
            {
                ProcessAligned(sr);
            }
        }
    }

    /// <summary>A key of a partition still catching up: its windows' timers wait until the partition has caught up.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool Waits(KeyState ks) => _catchingUp.Count > 0 && _catchingUp.Contains(ks.Partition);

    /// <summary>Puts the timers of keys still catching up back in their queues (taken out so the loop above could end).</summary>
    private void RequeueWaiting(SpecRuntime sr)
    {
        if (_waiting is not { Count: > 0 })
        {
            return;
        }
        foreach (var (due, ks, close) in _waiting)
        {
            (close ? sr.Close : sr.OnTime).Add(due, ks);
        }
        _waiting.Clear();
    }

    public void DropPartitions(IReadOnlyCollection<int> partitions)
    {
        lock (_gate)
        {
            foreach (var p in partitions)
            {
                DropPartitionState(p);
            }
        }
    }
}
