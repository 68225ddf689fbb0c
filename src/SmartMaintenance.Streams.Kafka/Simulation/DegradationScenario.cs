namespace SmartMaintenance.Streams.Kafka.Simulation;

/// <summary>How a simulated sensor wears towards its alarm limit.</summary>
public enum DegradationMode
{
    /// <summary>Constant wear rate: the level rises in a straight line from the baseline to the limit.</summary>
    Linear,
    /// <summary>Accelerating wear: slow at first, fast near the end (level ∝ e^{3·life fraction} − 1).</summary>
    Exponential,
}

/// <summary>Settings of a <see cref="DegradationScenario"/>.</summary>
public sealed record DegradationOptions
{
    public int Sensors { get; init; } = 12;
    /// <summary>Wear mode of every sensor; null alternates linear and exponential.</summary>
    public DegradationMode? Mode { get; init; }
    public double Baseline { get; init; } = 50;
    /// <summary>Alarm limit, crossed from below at the episode's failure time.</summary>
    public double Limit { get; init; } = 80;
    /// <summary>Standard deviation of the Gaussian noise on each reading.</summary>
    public double Noise { get; init; } = 0.5;
    public TimeSpan Step { get; init; } = TimeSpan.FromMinutes(1);
    public TimeSpan MinLife { get; init; } = TimeSpan.FromHours(12);
    public TimeSpan MaxLife { get; init; } = TimeSpan.FromHours(36);
    /// <summary>Maintenance resets the level to the baseline at this fraction of the life (so the limit is never reached),
    /// then a new episode starts; 1 lets every episode run to the limit before the reset.</summary>
    public double MaintenanceAt { get; init; } = 0.95;
    public TimeSpan Duration { get; init; } = TimeSpan.FromDays(3);
    public DateTimeOffset Start { get; init; } = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    public int Seed { get; init; } = 1;
}

/// <summary>One wear episode of a sensor: from a repaired start to its (would-be) failure time, ended by maintenance.</summary>
public sealed record DegradationEpisode(string SensorId, DegradationMode Mode, long StartMs, long FailureMs, long MaintenanceMs);

/// <summary>A degradation reading: <see cref="FailureMs"/> is when the episode it belongs to reaches the limit.</summary>
public readonly record struct DegradationReading(string SensorId, string AssetId, long Timestamp, double Value, long FailureMs);

/// <summary>
/// Sensors wearing towards an alarm limit with known failure times: the ground truth for time-to-limit forecasts.
/// Deterministic for a seed. Each sensor runs episodes back to back: level from the baseline to the limit over a random
/// life (linear or exponential wear) plus noise; maintenance at a fraction of the life resets it to the baseline.
/// </summary>
public sealed class DegradationScenario
{
    private readonly DegradationOptions _options;
    private readonly List<DegradationEpisode> _episodes = [];

    public DegradationScenario(DegradationOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Limit <= options.Baseline || options.MinLife > options.MaxLife || options.MinLife <= options.Step
            || options.MaintenanceAt is <= 0 or > 1 || options.Sensors < 1)
        {
            throw new ArgumentException("Degradation options need Limit > Baseline, Step < MinLife ≤ MaxLife, 0 < MaintenanceAt ≤ 1 and Sensors ≥ 1.", nameof(options));
        }
        _options = options;
        var random = new Random(options.Seed);
        var start = options.Start.ToUnixTimeMilliseconds();
        var end = start + (long)options.Duration.TotalMilliseconds;
        for (var s = 0; s < options.Sensors; s++)
        {
            var id = SensorId(s);
            var mode = options.Mode ?? (s % 2 == 0 ? DegradationMode.Linear : DegradationMode.Exponential);
            // Staggered starts, so sensors are at different points of their lives at any moment.
            var t = start - (long)(random.NextDouble() * options.MinLife.TotalMilliseconds * 0.8);
            while (t < end)
            {
                var life = options.MinLife.TotalMilliseconds + (random.NextDouble() * (options.MaxLife - options.MinLife).TotalMilliseconds);
                var failure = t + (long)life;
                var maintenance = t + (long)(life * options.MaintenanceAt);
                _episodes.Add(new DegradationEpisode(id, mode, t, failure, maintenance));
                t = maintenance;
            }
        }
    }

    public IReadOnlyList<DegradationEpisode> Episodes => _episodes;

    public static string SensorId(int index) => "wear-" + index.ToString("D3", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The noiseless level of an episode at <paramref name="timestamp"/>.</summary>
    public double Level(DegradationEpisode episode, long timestamp)
    {
        ArgumentNullException.ThrowIfNull(episode);
        var fraction = Math.Clamp((timestamp - episode.StartMs) / (double)(episode.FailureMs - episode.StartMs), 0, 1.5);
        var wear = episode.Mode == DegradationMode.Linear ? fraction : (Math.Exp(3 * fraction) - 1) / (Math.Exp(3) - 1);
        return _options.Baseline + ((_options.Limit - _options.Baseline) * wear);
    }

    /// <summary>Readings of every sensor in time order (sensor by sensor within a step), from the start for the duration.</summary>
    public IEnumerable<DegradationReading> Readings()
    {
        var random = new Random(_options.Seed + 7919);
        var start = _options.Start.ToUnixTimeMilliseconds();
        var end = start + (long)_options.Duration.TotalMilliseconds;
        var step = (long)_options.Step.TotalMilliseconds;
        var bySensor = _episodes.GroupBy(e => e.SensorId).Select(g => g.ToArray()).ToArray();
        var cursor = new int[bySensor.Length];
        for (var t = start; t < end; t += step)
        {
            for (var s = 0; s < bySensor.Length; s++)
            {
                var episodes = bySensor[s];
                while (cursor[s] < episodes.Length - 1 && t >= episodes[cursor[s]].MaintenanceMs)
                {
                    cursor[s]++;
                }
                var e = episodes[cursor[s]];
                var value = Level(e, t) + (_options.Noise * Gaussian(random));
                yield return new DegradationReading(e.SensorId, "wear-asset-" + (s / 4).ToString(System.Globalization.CultureInfo.InvariantCulture), t, value, e.FailureMs);
            }
        }
    }

    private static double Gaussian(Random random)
    {
        var u1 = 1.0 - random.NextDouble();
        var u2 = random.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }
}
