using SmartMaintenance.Streams.Contracts;

namespace SmartMaintenance.Streams.Kafka.Simulation;

/// <summary>One anomaly episode the generator injected: which sensor, what kind, and the event times of its first and last altered reading.</summary>
public readonly record struct InjectedEpisode(string SensorId, AnomalyKind Kind, long StartMs, long EndMs);

/// <summary>
/// Sees what <see cref="SensorDataGenerator"/> produces, as it produces it: every episode when it starts and every
/// valid reading as the engine will decode it (malformed ones are rejected there, so they are not passed on).
/// Used to reconcile the engine's alerts with the truth the generator knows; not on any engine path.
/// </summary>
public interface ISimulationObserver
{
    void OnEpisode(in InjectedEpisode episode);

    void OnReading(in SensorReading reading);
}
