using SmartMaintenance.Streams.Engine.Stages;

namespace SmartMaintenance.Streams.Api.State;

/// <summary>What the API may see of the engine in its process: the live state and the partitions it owns. Read-only.</summary>
public sealed record EngineView(LiveState Live, Func<int[]> AssignedPartitions)
{
    /// <summary>Identifies this instance in api_instances.</summary>
    public string InstanceId { get; } = $"{Environment.MachineName}-{Environment.ProcessId}-{Guid.NewGuid():N}"[..^16];
}
