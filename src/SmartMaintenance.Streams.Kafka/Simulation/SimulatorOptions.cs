using SmartMaintenance.Streams.Contracts;

namespace SmartMaintenance.Streams.Kafka.Simulation;

/// <summary>How ts is written: RFC 3339 text, Unix milliseconds, or both (alternating by sensor).</summary>
public enum TimestampFormat
{
    Mixed = 0,
    Rfc3339,
    EpochMillis,
}

/// <summary>What <see cref="SensorSimulator"/> publishes; see docs/embedded-broker.md ("Simulator").</summary>
/// <remarks>The same options with the same <see cref="Seed"/> and <see cref="StartTime"/> produce byte-identical messages.</remarks>
[SettingsSection("Simulator")]
public sealed class SimulatorOptions
{
    [Setting("Number of simulated sensors; every 4 consecutive sensors share one asset (temperature, vibration, pressure, current).", Min = 1, Max = 10_000_000)]
    public int Sensors { get; set; } = 100;

    [Setting("Readings per second over all sensors (0: as fast as the producer takes them).", Unit = "readings/s", Min = 0, Max = 100_000_000)]
    public double Rate { get; set; } = 1000;

    [Setting("How long to publish. With Rate > 0 this fixes the count (Rate x Duration readings), so runs are reproducible; 0 with Rate > 0 and no MaxReadings: until cancelled.", Unit = "ms", Min = 0)]
    public TimeSpan Duration { get; set; } = TimeSpan.FromSeconds(10);

    [Setting("Stop after this many readings (0: decided by Rate and Duration; required when Rate is 0).", Unit = "readings", Min = 0)]
    public long MaxReadings { get; set; }

    [Setting("Probability that a reading starts an anomaly episode on its sensor (spike, level shift or stuck value).", Min = 0, Max = 1)]
    public double AnomalyRate { get; set; } = 0.001;

    [Setting("Probability that a reading is malformed (broken JSON, missing field, non-finite value, out of range, far-future ts).", Min = 0, Max = 1)]
    public double BadRate { get; set; }

    [Setting("Readings per message: 1 publishes single readings keyed by sensor; K > 1 publishes {\"readings\":[...]} envelopes of K readings of one asset keyed by asset.", Unit = "readings", Min = 1, Max = 100_000)]
    public int Batch { get; set; } = 1;

    [Setting("Topic to publish to.")]
    public string Topic { get; set; } = Contracts.Topics.Readings;

    [Setting("Random seed (unset: a random one, reported in the summary).")]
    public int? Seed { get; set; }

    [Setting("Event time of the first reading (unset: now; for unpaced runs early enough that the last reading is about now).")]
    public DateTimeOffset? StartTime { get; set; }

    [Setting("Event-time step between two readings of one sensor (unset: Sensors / Rate, at least 1 ms; 1 s when unpaced).", Unit = "ms")]
    public TimeSpan? SamplePeriod { get; set; }

    [Setting("How ts is written: Mixed (RFC 3339 and epoch ms, alternating by sensor), Rfc3339 or EpochMillis.")]
    public TimestampFormat TimestampFormat { get; set; } = TimestampFormat.Mixed;

    public void Validate(string sectionPath = "Simulator")
    {
        SettingsValidator.Validate(this, sectionPath);
        if (string.IsNullOrWhiteSpace(Topic))
        {
            throw new ConfigurationException($"{sectionPath}:Topic", "must not be empty");
        }
        if (SamplePeriod is { } p && p < TimeSpan.FromMilliseconds(1))
        {
            throw new ConfigurationException($"{sectionPath}:SamplePeriod", "must be at least 1 ms (readings of one sensor need distinct timestamps)");
        }
        if (Rate == 0 && MaxReadings == 0)
        {
            // Unpaced event time is laid out in advance to end at about now; without a count it would run into the future.
            throw new ConfigurationException($"{sectionPath}:MaxReadings", "an unpaced run (Rate 0) needs MaxReadings");
        }
    }

    /// <summary>Readings to generate, or 0 when the run is bounded by time only.</summary>
    public long TargetReadings =>
        MaxReadings > 0 ? MaxReadings
        : Rate > 0 && Duration > TimeSpan.Zero ? (long)Math.Round(Rate * Duration.TotalSeconds)
        : 0;

    /// <summary>The event-time step actually used.</summary>
    public TimeSpan EffectiveSamplePeriod
    {
        get
        {
            if (SamplePeriod is { } p)
            {
                return p;
            }
            if (Rate <= 0)
            {
                return TimeSpan.FromSeconds(1);
            }
            var period = TimeSpan.FromSeconds(Sensors / Rate);
            return period < TimeSpan.FromMilliseconds(1) ? TimeSpan.FromMilliseconds(1) : period;
        }
    }

    /// <summary>The event time of the first reading, given the wall clock now.</summary>
    public DateTimeOffset EffectiveStartTime(DateTimeOffset now)
    {
        if (StartTime is { } start)
        {
            return start;
        }
        if (Rate > 0)
        {
            return now;
        }
        // Unpaced runs generate event time faster than the clock: start in the past so they end near now.
        var perSensor = (TargetReadings + Sensors - 1) / Sensors;
        return now - EffectiveSamplePeriod * perSensor;
    }
}
