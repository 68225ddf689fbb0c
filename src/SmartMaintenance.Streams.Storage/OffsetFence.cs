namespace SmartMaintenance.Streams.Storage;

/// <summary>
/// The sink's rules for one transaction against the stored offset rows (docs/design.md, "Why a stored final aggregate
/// equals its recompute"): which readings are already stored, when a batch or slice is stale, and how an offset row
/// moves. <see cref="PostgresSink"/> applies them inside the transaction that holds the rows locked; the SQL upsert
/// (<see cref="PostgresSink.UpsertOffsetsSql"/>) states <see cref="Merge"/> in SQL, and a test pins the two equal.
/// </summary>
public static class OffsetFence
{
    /// <summary>A reading below its partition's stored next offset is stored already (by this or another instance).</summary>
    public static bool IsStored(int partition, long offset, IReadOnlyDictionary<int, long> storedNext) =>
        storedNext.TryGetValue(partition, out var next) && offset < next;

    /// <summary>
    /// A batch whose every offset mark is at or below what is stored comes from an instance that lost its partitions, or
    /// is the retry of an ambiguous commit: its window rows would overwrite newer ones, so none of it is applied. A batch
    /// without marks carries no offsets to judge by and is applied.
    /// </summary>
    public static bool IsStale(IReadOnlyCollection<OffsetMark> marks, IReadOnlyDictionary<int, long> storedNext)
    {
        ArgumentNullException.ThrowIfNull(marks);
        ArgumentNullException.ThrowIfNull(storedNext);
        if (marks.Count == 0)
        {
            return false;
        }
        foreach (var m in marks)
        {
            if (!storedNext.TryGetValue(m.Partition, out var stored) || m.NextOffset > stored)
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>A slice is stale when every fenced partition has moved beyond the next offset this instance handed off
    /// for it (another owner committed it since).</summary>
    public static bool IsSliceStale(IReadOnlyCollection<OffsetMark> fences, IReadOnlyDictionary<int, long> storedNext)
    {
        ArgumentNullException.ThrowIfNull(fences);
        ArgumentNullException.ThrowIfNull(storedNext);
        foreach (var f in fences)
        {
            if ((storedNext.TryGetValue(f.Partition, out var stored) ? stored : -1) <= f.NextOffset)
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>
    /// The stored row after a mark is written over it: the next offset only moves forward; the replay point is the new
    /// one, but never above the next offset; the watermark floor only moves forward (a new owner whose own watermark is
    /// behind the stored floor must not lower it: windows final at it were written).
    /// </summary>
    public static OffsetMark Merge(OffsetMark? stored, OffsetMark incoming)
    {
        if (stored is not { } s)
        {
            return incoming;
        }
        var next = Math.Max(s.NextOffset, incoming.NextOffset);
        return incoming with
        {
            NextOffset = next,
            ReplayFrom = Math.Min(incoming.ReplayFrom, next),
            Watermark = Math.Max(s.Watermark, incoming.Watermark),
        };
    }
}
