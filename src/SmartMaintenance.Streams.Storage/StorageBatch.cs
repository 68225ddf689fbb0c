using SmartMaintenance.Streams.Contracts;

namespace SmartMaintenance.Streams.Storage;

/// <summary>Stored progress of one partition: offsets below <see cref="NextOffset"/> are durably stored;
/// <see cref="ReplayFrom"/> (≤ NextOffset) is the lowest offset still needed to rebuild open window/detector state;
/// <see cref="Watermark"/> is the event-time watermark (Unix ms) at the commit, long.MinValue when unknown.</summary>
public readonly record struct OffsetMark(string ConsumerGroup, string Topic, int Partition, long NextOffset, long ReplayFrom,
    long Watermark = long.MinValue);

/// <summary>One sensor's detector state (a <c>detector_state</c> row): bytes <see cref="Start"/> .. Start + <see cref="Length"/>
/// of the batch's <see cref="StorageBatch.StateData"/>. Readings of the sensor below <see cref="StateOffset"/> in its
/// partition are part of the state.</summary>
public readonly record struct DetectorStateRow(string ConsumerGroup, string Topic, int Partition, string SensorId, long StateOffset, int Start, int Length);

/// <summary>Receives one stored detector state row while it is loaded.</summary>
public delegate void DetectorStateHandler(int partition, string sensorId, long stateOffset, byte[] state);

/// <summary>Everything one sink transaction writes. Reusable: <see cref="Clear"/> keeps the lists' capacity.</summary>
/// <remarks>Readings carry their Kafka position; a reading whose partition has an <see cref="OffsetMark"/> in the
/// batch and whose offset is below that partition's stored next offset is skipped (already stored).
/// Row and byte counters are maintained incrementally, also for items added to the lists directly.</remarks>
public sealed class StorageBatch
{
    // Per-row overhead of the binary COPY format (row header + 4-byte length per field) plus fixed-width fields.
    private const int ReadingFixedBytes = 2 + (12 * 4) + 8 + 8 + 4 + 8 + 4 + 8 + 4;
    private const int AggregateFixedBytes = 2 + (19 * 4) + (3 * 8) + (11 * 8) + 4 + 1 + 8;
    private const int AnomalyFixedBytes = 2 + (12 * 4) + (8 * 3) + (8 * 3) + 2;
    private const int AlertBytes = 1024;

    private int _countedReadings;
    private int _countedAggregates;
    private int _countedAnomalies;
    private int _countedAlerts;
    private long _bytes;

    public List<SensorReading> Readings { get; } = [];
    /// <summary>Window aggregates in pooled chunks (<see cref="ChunkedList{T}"/>): the batch in which a minute ends holds one
    /// per sensor and window kind.</summary>
    public ChunkedList<WindowAggregate> Aggregates { get; private set; } = new();
    public List<Anomaly> Anomalies { get; } = [];
    public List<AlertEvent> Alerts { get; } = [];
    public List<OffsetMark> Offsets { get; } = [];
    /// <summary>Makes the batch a <em>slice</em>: aggregates written ahead of the batch that commits their partitions' offsets
    /// (a minute-end burst handed to the writer in bounded parts). Each fence's <see cref="OffsetMark.NextOffset"/> is the next
    /// offset the engine expects stored for the partition once everything handed off before the slice has committed (-1: none
    /// stored). Fences are only checked, never stored; a slice carries no readings, offsets or detector states.</summary>
    public List<OffsetMark> Fences { get; } = [];
    /// <summary>Window rows to delete (session windows merged into another one); keyed by sensor, kind and start.</summary>
    public List<WindowAggregate> Retractions { get; } = [];
    /// <summary>Detector state rows, upserted unless the stored row is from a later position.</summary>
    public ChunkedList<DetectorStateRow> DetectorStates { get; } = new();
    /// <summary>The bytes of <see cref="DetectorStates"/>, one chunked buffer for the batch (reused).</summary>
    public StateBuffer StateData { get; } = new();

    /// <summary>The state bytes of <paramref name="row"/>.</summary>
    public ArraySegment<byte> StateBytes(in DetectorStateRow row) => StateData.Slice(row.Start, row.Length);

    /// <summary>Readings + aggregates + anomalies + alerts.</summary>
    public int RowCount => Readings.Count + Aggregates.Count + Anomalies.Count + Alerts.Count;

    public bool IsEmpty => RowCount == 0 && Offsets.Count == 0 && Retractions.Count == 0 && DetectorStates.Count == 0;

    /// <summary>Approximate size on the wire (binary COPY), for the writer's BatchMaxBytes trigger.</summary>
    public long EstimatedBytes
    {
        get
        {
            for (; _countedReadings < Readings.Count; _countedReadings++)
            {
                var r = Readings[_countedReadings];
                _bytes += ReadingFixedBytes + Len(r.SensorId) + Len(r.AssetId) + Len(r.SensorType) + Len(r.Unit) + Len(r.Attributes);
            }
            for (; _countedAggregates < Aggregates.Count; _countedAggregates++)
            {
                var a = Aggregates[_countedAggregates];
                _bytes += AggregateFixedBytes + Len(a.SensorId) + Len(a.WindowKind) + Len(a.AssetId) + Len(a.SensorType);
            }
            for (; _countedAnomalies < Anomalies.Count; _countedAnomalies++)
            {
                var a = Anomalies[_countedAnomalies];
                _bytes += AnomalyFixedBytes + Len(a.SensorId) + Len(a.Detector) + Len(a.Evidence) + Len(a.AssetId) + Len(a.SensorType);
            }
            for (; _countedAlerts < Alerts.Count; _countedAlerts++)
            {
                _bytes += AlertBytes;
            }
            return _bytes + StateData.Length;
        }
    }

    /// <summary>Takes <paramref name="aggregates"/> as the batch's aggregate list and returns the list it had (empty), so a
    /// caller that collected the aggregates in a list of its own hands them over without copying them.</summary>
    /// <exception cref="InvalidOperationException">The batch already holds aggregates.</exception>
    public ChunkedList<WindowAggregate> ExchangeAggregates(ChunkedList<WindowAggregate> aggregates)
    {
        ArgumentNullException.ThrowIfNull(aggregates);
        if (Aggregates.Count > 0)
        {
            throw new InvalidOperationException("The batch already holds aggregates.");
        }
        var had = Aggregates;
        Aggregates = aggregates;
        _countedAggregates = 0;
        return had;
    }

    /// <summary>Removes the readings of <paramref name="partition"/> (a partition lost before the batch was handed off: its next
    /// owner reads them again, and if it came back here they would be read a second time into this batch).</summary>
    /// <returns>How many were removed.</returns>
    public int DropReadings(int partition)
    {
        var removed = Readings.RemoveAll(r => r.Position.Partition == partition);
        if (removed > 0)
        {
            // The size estimate is recounted from the readings that stay.
            _countedReadings = 0;
            _bytes = 0;
            _countedAggregates = _countedAnomalies = _countedAlerts = 0;
        }
        return removed;
    }

    /// <summary>Empties the batch for reuse (capacity kept, except for lists a burst grew beyond
    /// <see cref="RetainedCapacity"/> items; chunked lists give their chunks back to the shared pool).</summary>
    public void Clear()
    {
        Readings.Clear();
        Aggregates.Clear();
        Release(Anomalies);
        Release(Alerts);
        Offsets.Clear();
        Fences.Clear();
        Release(Retractions);
        DetectorStates.Clear();
        // Batches are pooled: one large checkpoint must not pin its buffer in every batch that ever carried one.
        StateData.Reset();
        _countedReadings = _countedAggregates = _countedAnomalies = _countedAlerts = 0;
        _bytes = 0;
    }

    /// <summary>Items a pooled batch's other output lists keep room for: a burst of anomalies or alerts must not stay pinned
    /// in every pooled batch that ever carried one. Readings are bounded by Storage:BatchMaxRows and keep their capacity.</summary>
    public const int RetainedCapacity = 1 << 16;

    private static void Release<T>(List<T> list)
    {
        list.Clear();
        if (list.Capacity > RetainedCapacity)
        {
            list.Capacity = 0;
        }
    }

    private static int Len(string? s) => s?.Length ?? 0;
}
