namespace SmartMaintenance.Streams.Operations.Dlq;

/// <summary>Counts of one (DLQ topic, reason) pair.</summary>
public sealed record DlqReasonStats(string Topic, string Reason, long Count, long Replayed, DateTimeOffset Oldest, DateTimeOffset Newest);

/// <summary>Aggregates DLQ records per topic and reason (what <c>smstream dlq stats</c> prints).</summary>
public sealed class DlqStatsBuilder
{
    private readonly Dictionary<(string Topic, string Reason), Entry> _entries = [];

    private sealed class Entry
    {
        public long Count;
        public long Replayed;
        public DateTimeOffset Oldest = DateTimeOffset.MaxValue;
        public DateTimeOffset Newest = DateTimeOffset.MinValue;
    }

    public void Add(DlqRecord record, bool replayed)
    {
        ArgumentNullException.ThrowIfNull(record);
        if (!_entries.TryGetValue((record.Topic, record.Reason), out var e))
        {
            e = new Entry();
            _entries[(record.Topic, record.Reason)] = e;
        }
        e.Count++;
        if (replayed)
        {
            e.Replayed++;
        }
        var t = record.Time;
        if (t < e.Oldest)
        {
            e.Oldest = t;
        }
        if (t > e.Newest)
        {
            e.Newest = t;
        }
    }

    /// <summary>Rows ordered by topic, then by count descending.</summary>
    public IReadOnlyList<DlqReasonStats> Build()
    {
        var rows = new List<DlqReasonStats>(_entries.Count);
        foreach (var ((topic, reason), e) in _entries)
        {
            rows.Add(new DlqReasonStats(topic, reason, e.Count, e.Replayed, e.Oldest, e.Newest));
        }
        rows.Sort((a, b) =>
        {
            var c = string.CompareOrdinal(a.Topic, b.Topic);
            if (c != 0)
            {
                return c;
            }
            c = b.Count.CompareTo(a.Count);
            return c != 0 ? c : string.CompareOrdinal(a.Reason, b.Reason);
        });
        return rows;
    }
}
