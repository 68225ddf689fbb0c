using Microsoft.Extensions.Configuration;
using SmartMaintenance.Streams.Cli.Hosting;
using SmartMaintenance.Streams.Kafka.Simulation;
using SmartMaintenance.Streams.Scoring;

namespace SmartMaintenance.Streams.Cli.Simulation;

/// <summary>
/// Detector settings for the simulator's sensor types, applied by `smstream demo` and by `smstream simulate`'s report
/// unless the configuration already has a <c>Scoring:SensorTypes:&lt;type&gt;</c> section. The simulated sensors are
/// stationary noise around a slow daily cycle and every excursion the generator injects is a fault, however often it
/// recurs (about every 100 s per sensor at the demo's rates). The built-in defaults serve data whose recurring
/// excursions are normal (NAB's labels): they habituate to the second spike and take a stuck run as long as the last
/// one for normal, so they catch only the first episode of each kind per sensor. Here no excursion becomes normal:
/// no habituation, no relative novelty of values, jumps or flat runs, and a short quiet period after each alert.
/// </summary>
public static class SimulatedSensorProfile
{
    private static readonly KeyValuePair<string, string>[] Settings =
    [
        new("HabituationFactor", "0"),
        new("SpikeEnvelopeFactor", "0"),
        new("LevelEnvelopeFactor", "1"),
        new("FlatlineRunFactor", "0"),
        new("SuppressReadings", "20"),
    ];

    /// <summary>Configuration keys that apply the profile to every simulated sensor type the configuration does not configure itself.</summary>
    public static IEnumerable<KeyValuePair<string, string?>> Overrides(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        foreach (var type in SensorDataGenerator.SensorTypeNames)
        {
            var section = $"Scoring:SensorTypes:{type}";
            if (configuration.GetSection(section).Exists())
            {
                continue;
            }
            foreach (var (key, value) in Settings)
            {
                yield return new($"{section}:{key}", value);
            }
        }
    }

    /// <summary><paramref name="configuration"/> with the profile's keys added where it has none of its own.</summary>
    public static IConfiguration Apply(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        return new ConfigurationBuilder().AddConfiguration(configuration).AddInMemoryCollection(Overrides(configuration)).Build();
    }

    /// <summary>The engine's scoring options for a simulation: the Scoring section of <paramref name="configuration"/> plus the profile.</summary>
    public static ScoringOptions Scoring(IConfiguration configuration)
    {
        var options = AppConfiguration.Bind<ScoringOptions>(Apply(configuration), "Scoring");
        options.Validate();
        return options;
    }
}
