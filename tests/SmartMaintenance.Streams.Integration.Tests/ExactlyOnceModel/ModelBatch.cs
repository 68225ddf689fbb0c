using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Storage;

namespace SmartMaintenance.Streams.Integration.Tests.ExactlyOnceModel;

/// <summary>A reading as the instance that processed it live decided it: the bound below which its windows were final
/// then (operator watermark or the partition's floor) and the window kinds it was late for. A stored aggregate must hold
/// exactly the readings these decisions gave it, however often the partition was replayed since.</summary>
internal readonly record struct ModelReading(SensorReading Reading, long ClosedBelow, string[] LateKinds);

/// <summary>What one engine transaction carries (one writer connection): as the engine's batch, with the rows the
/// model database checks.</summary>
internal sealed class ModelBatch
{
    public List<ModelReading> Readings { get; } = [];
    public List<(int Partition, long Offset)> DeadLettered { get; } = [];
    public List<WindowAggregate> Aggregates { get; } = [];
    public List<WindowAggregate> Retractions { get; } = [];
    public List<OffsetMark> Marks { get; } = [];
    public List<(int Partition, string Sensor, long Offset, byte[] State)> States { get; } = [];
    public Dictionary<int, long> NextOffsets { get; } = [];
    public bool HasWork { get; set; }

    /// <summary>Which instance handed it off, and when (for the failure report).</summary>
    public string Origin { get; set; } = "";
}
