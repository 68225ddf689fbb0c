using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Kafka.Simulation;
using SmartMaintenance.Streams.Scoring;

namespace SmartMaintenance.Streams.Cli.Simulation;

/// <summary>
/// Scores a simulation's valid readings, as they are generated, with the engine's reading detectors
/// (<see cref="DetectorPipeline.Process"/>, the same code and configuration the engine runs) and keeps the truth the
/// generator knows, so <see cref="Report"/> can tell which episodes those detectors catch. Window detectors and
/// models are not part of it: the demo reconciles the engine's stored anomalies for the full picture.
/// </summary>
public sealed class ReadingDetection : ISimulationObserver
{
    private readonly DetectorPipeline _pipeline;
    private readonly List<(string SensorId, long TimestampMs)> _detections = [];

    public ReadingDetection(ScoringOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _pipeline = new DetectorPipeline(options);
        Log = new EpisodeLog(_pipeline.WarmupReadings);
    }

    public EpisodeLog Log { get; }

    public IReadOnlyList<(string SensorId, long TimestampMs)> Detections => _detections;

    public void OnEpisode(in InjectedEpisode episode) => Log.OnEpisode(episode);

    public void OnReading(in SensorReading reading)
    {
        Log.OnReading(reading);
        if (_pipeline.Process(reading, out _))
        {
            _detections.Add((reading.SensorId, reading.Timestamp));
        }
    }

    public DetectionReport Report(TimeSpan grace) => DetectionReport.Build(Log, _detections, grace);
}
