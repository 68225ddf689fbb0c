using SmartMaintenance.Streams.Contracts;

namespace SmartMaintenance.Streams.Engine;

/// <summary>How the engine consumes, batches and applies backpressure.</summary>
[SettingsSection("Engine")]
public sealed class EngineOptions
{
    [Setting("Consumer group of the engine instances; offsets of record are stored per group in the database.")]
    public string ConsumerGroup { get; set; } = Topics.EngineGroup;

    [Setting("Send readings dropped as duplicates to the DLQ (reason duplicate); when false they are only counted.")]
    public bool DeadLetterDuplicates { get; set; } = true;

    [Setting("Store the raw reading of a record re-published by `smstream dlq replay` even when it is later than every window's allowed lateness (its closed windows are not corrected); when false it returns to the DLQ as late.")]
    public bool StoreLateDlqReplays { get; set; } = true;

    [Setting("Batches queued for the writer before the consumer pauses its partitions (backpressure).", Unit = "batches", Min = 1, Max = 1024)]
    public int MaxQueuedBatches { get; set; } = 3;

    [Setting("How long the consume loop waits for the writer to take a batch from a full queue before it pauses its partitions. Short stalls are waited out because a pause makes the Kafka client drop its prefetched messages and fetch them again; longer ones (database down) pause, so the loop keeps polling and stays in the group. 0: pause at once.", Unit = "ms", Min = 0)]
    public TimeSpan PauseAfter { get; set; } = TimeSpan.FromSeconds(1);

    [Setting("How long a partition revocation waits for queued batches to commit before giving the partition up anyway.", Unit = "ms", Min = 0)]
    public TimeSpan RevokeDrainTimeout { get; set; } = TimeSpan.FromSeconds(30);

    [Setting("How long a graceful shutdown waits for the last batch to commit.", Unit = "ms", Min = 0)]
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(30);

    [Setting("How long leaving the consumer group may take at shutdown. With every broker unreachable the Kafka client's close can block for many minutes; past this the engine stops anyway (offsets of record are in the database) and the group drops the member after session.timeout.ms.", Unit = "ms", Min = 0)]
    public TimeSpan CloseTimeout { get; set; } = TimeSpan.FromSeconds(15);

    [Setting("Persist each sensor's detector state, open alerts and session-window boundaries in the database (table detector_state, in the transaction of the batch's offsets) and restore them when a partition is assigned, so detectors continue after a restart or rebalance instead of warming up again and session windows are restored exactly. When false, detector state is rebuilt only from the replayed range, and sessions whose readings lie far behind the stored watermark are not restored exactly (docs/windowing.md).")]
    public bool PersistDetectorState { get; set; } = true;

    [Setting("How often the state of every sensor that changed is written (between these checkpoints only sensors whose window-detector state or session boundaries changed are); 0 writes every changed sensor at every batch. Longer intervals write fewer state bytes; after a crash the engine replays the input since the last checkpoint to rebuild the newer state.", Unit = "ms", Min = 0, Max = 3_600_000)]
    public TimeSpan DetectorStateInterval { get; set; } = TimeSpan.FromSeconds(10);

    [Setting("Most sensor states a checkpoint writes with one batch; a checkpoint of more changed sensors is spread over the following batches (the replay bound it releases moves only when its last sensor is written). Bounds the transaction size and the memory of a checkpoint in large fleets. States that cannot wait (a window detector judged a final window) are not counted against it.", Unit = "sensors", Min = 1, Max = 10_000_000)]
    public int DetectorStateMaxPerBatch { get; set; } = 5_000;

    [Setting("Window aggregates the engine holds before it hands them to the writer as a slice of their own: a transaction of aggregate upserts, fenced like a batch, ahead of the batch that commits the offsets of the readings behind them. When a minute ends at many sensors one watermark fires every sensor's windows at once (two million aggregates at a million sensors with two window specs); slices bound what that burst holds to the writer queue's slots (Engine:MaxQueuedBatches) times this. A crash before the offsets commit replays to the same rows. 0: no slices, the aggregates travel with their batch.", Unit = "aggregates", Min = 0, Max = 10_000_000)]
    public int AggregateSliceSize { get; set; } = 65_536;

    public void Validate(string section = "Engine")
    {
        SettingsValidator.Validate(this, section);
        if (string.IsNullOrWhiteSpace(ConsumerGroup))
        {
            throw new ConfigurationException($"{section}:ConsumerGroup", "must not be empty");
        }
        // The wait blocks the poll loop; it must stay far below max.poll.interval.ms (300 s by default).
        if (PauseAfter > TimeSpan.FromSeconds(30))
        {
            throw new ConfigurationException($"{section}:PauseAfter", "must be at most 30 s (the consume loop does not poll while it waits)");
        }
    }
}
