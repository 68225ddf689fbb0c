namespace SmartMaintenance.Streams.Windowing;

/// <summary>What a <see cref="StreamEvent{T}"/> carries.</summary>
public enum StreamEventKind : byte
{
    /// <summary>A data item (<see cref="StreamEvent{T}.Item"/>).</summary>
    Data = 0,
    /// <summary>Operator-level watermark: no more data with event time ≤ <see cref="StreamEvent{T}.Timestamp"/> is expected.</summary>
    Watermark,
    /// <summary>Watermark of one source partition (<see cref="StreamEvent{T}.Partition"/>).</summary>
    PartitionWatermark,
    /// <summary>The partition saw no data for the idle timeout; it no longer holds back the combined watermark.</summary>
    PartitionIdle,
    /// <summary>An idle partition received data again.</summary>
    PartitionActive,
    /// <summary>The partition was assigned to this consumer; it holds the watermark back until it has one or goes idle.</summary>
    PartitionAssigned,
    /// <summary>The partition was revoked; it no longer takes part in the combined watermark.</summary>
    PartitionRevoked,
    /// <summary>
    /// The partition was handed over with the watermark its previous owner stored (<see cref="StreamEvent{T}.Timestamp"/>):
    /// windows of its keys that were final at that watermark were written by the previous owner, so the window operator
    /// treats them as closed for this partition's readings even while its own watermark is behind.
    /// </summary>
    PartitionFloor,
}

/// <summary>
/// One element of a windowing pipeline: a data item or a control event (watermark, partition lifecycle).
/// A struct so data and watermarks flow through the same <see cref="IObserver{T}"/> without allocating.
/// </summary>
public readonly struct StreamEvent<T>
{
    private StreamEvent(StreamEventKind kind, T item, int partition, long timestamp)
    {
        Kind = kind;
        Item = item;
        Partition = partition;
        Timestamp = timestamp;
    }

    public StreamEventKind Kind { get; }

    /// <summary>The data item; default unless <see cref="Kind"/> is <see cref="StreamEventKind.Data"/>.</summary>
    public T Item { get; }

    /// <summary>Source partition of a partition-level event; -1 otherwise.</summary>
    public int Partition { get; }

    /// <summary>Watermark time (Unix ms) of a watermark event; 0 otherwise.</summary>
    public long Timestamp { get; }

    public bool IsData => Kind == StreamEventKind.Data;

    public static StreamEvent<T> Data(T item) => new(StreamEventKind.Data, item, -1, 0);

    public static StreamEvent<T> Watermark(long timestamp) => new(StreamEventKind.Watermark, default!, -1, timestamp);

    public static StreamEvent<T> PartitionWatermark(int partition, long timestamp) =>
        new(StreamEventKind.PartitionWatermark, default!, partition, timestamp);

    public static StreamEvent<T> PartitionIdle(int partition) => new(StreamEventKind.PartitionIdle, default!, partition, 0);

    public static StreamEvent<T> PartitionActive(int partition) => new(StreamEventKind.PartitionActive, default!, partition, 0);

    public static StreamEvent<T> PartitionAssigned(int partition) => new(StreamEventKind.PartitionAssigned, default!, partition, 0);

    public static StreamEvent<T> PartitionRevoked(int partition) => new(StreamEventKind.PartitionRevoked, default!, partition, 0);

    public static StreamEvent<T> PartitionFloor(int partition, long timestamp) =>
        new(StreamEventKind.PartitionFloor, default!, partition, timestamp);

    /// <summary>The same control event retyped for another element type (control events carry no item).</summary>
    public StreamEvent<TOther> WithoutItem<TOther>()
    {
        if (Kind == StreamEventKind.Data)
        {
            throw new InvalidOperationException("A data event cannot be retyped.");
        }
        return new StreamEvent<TOther>(Kind, Partition, Timestamp);
    }

    internal StreamEvent(StreamEventKind kind, int partition, long timestamp)
        : this(kind, default!, partition, timestamp)
    {
    }

    public override string ToString() => Kind switch
    {
        StreamEventKind.Data => $"Data({Item})",
        StreamEventKind.Watermark => $"Watermark({Timestamp})",
        StreamEventKind.PartitionWatermark => $"PartitionWatermark({Partition}, {Timestamp})",
        StreamEventKind.PartitionFloor => $"PartitionFloor({Partition}, {Timestamp})",
        _ => $"{Kind}({Partition})",
    };
}
