using System.Runtime.InteropServices;
using SmartMaintenance.Streams.Contracts;

namespace SmartMaintenance.Streams.Kafka.Simulation;

/// <summary>
/// Records what a detection report needs from a simulation: every injected episode, whether its sensor was still
/// warming up when it started (the detectors cannot fire during their first <c>warmupReadings</c> readings), and how
/// much event time each sensor was observable for after its warm-up (the denominator of the false-alert rate).
/// </summary>
public sealed class EpisodeLog(int warmupReadings) : ISimulationObserver
{
    private readonly Dictionary<string, SensorSpan> _sensors = new(StringComparer.Ordinal);
    private readonly List<LoggedEpisode> _episodes = [];

    public IReadOnlyList<LoggedEpisode> Episodes => _episodes;

    public int WarmupReadings { get; } = warmupReadings;

    /// <summary>Event time summed over sensors from the end of each sensor's warm-up to its last reading, in hours.</summary>
    public double ObservedSensorHours
    {
        get
        {
            double ms = 0;
            foreach (var span in _sensors.Values)
            {
                if (span.Readings > WarmupReadings)
                {
                    ms += span.LastMs - span.WarmMs;
                }
            }
            return ms / 3_600_000;
        }
    }

    public void OnEpisode(in InjectedEpisode episode)
    {
        // The generator starts an episode before it emits the episode's first reading, so the count is of earlier readings.
        var warm = _sensors.TryGetValue(episode.SensorId, out var span) && span.Readings >= WarmupReadings;
        _episodes.Add(new LoggedEpisode(episode, !warm));
    }

    public void OnReading(in SensorReading reading)
    {
        ref var span = ref CollectionsMarshal.GetValueRefOrAddDefault(_sensors, reading.SensorId, out _);
        span.Readings++;
        if (span.Readings == WarmupReadings + 1)
        {
            span.WarmMs = reading.Timestamp;
        }
        span.LastMs = reading.Timestamp;
    }

    private struct SensorSpan
    {
        public long Readings;
        public long WarmMs;
        public long LastMs;
    }
}

/// <summary>An injected episode and whether it started while its sensor was warming up.</summary>
public readonly record struct LoggedEpisode(InjectedEpisode Episode, bool DuringWarmup);
