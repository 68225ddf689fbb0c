using SmartMaintenance.Streams.Contracts;

namespace SmartMaintenance.Streams.Engine.Stages;

/// <summary>What the consume loop hands each valid reading to, and what comes back out.</summary>
/// <remarks>Window → score → alert run synchronously on the consume loop thread, so no stage needs locking.
/// Outputs accumulate in the caller's lists until the batch is handed to the writer.</remarks>
public interface IProcessingStages
{
    /// <summary>Processes one reading. <paramref name="replaying"/> readings rebuild state only: their outputs are suppressed.</summary>
    /// <returns><see cref="RejectReason.None"/> when the reading is kept (and stored); otherwise why it goes to the DLQ
    /// (late, duplicate, processing error) with <paramref name="detail"/>.</returns>
    RejectReason OnReading(in SensorReading reading, bool replaying, StageOutputs outputs, out string? detail);

    /// <summary>Called before a batch is handed to the writer: emit pending window revisions.</summary>
    void OnBatchBoundary(StageOutputs outputs);

    /// <summary>Lowest input offset of <paramref name="partition"/> that open state still needs (bounded replay), or null if none.</summary>
    long? LowestNeededOffset(int partition);

    /// <summary>Forget state of partitions no longer assigned to this instance.</summary>
    void DropPartitions(IReadOnlyCollection<int> partitions);
}

/// <summary>The windowing stage: same contract as the whole pipeline, aggregates only.</summary>
public interface IWindowStage : IProcessingStages;

/// <summary>Side outputs of the processing stages for one batch.</summary>
public sealed class StageOutputs
{
    public List<WindowAggregate> Aggregates { get; } = [];
    public List<Anomaly> Anomalies { get; } = [];
    public List<AlertEvent> Alerts { get; } = [];

    public void Clear()
    {
        Aggregates.Clear();
        Anomalies.Clear();
        Alerts.Clear();
    }
}
