using System.Globalization;
using SmartMaintenance.Streams.Contracts;

namespace SmartMaintenance.Streams.Cli.Hosting;

/// <summary>Argument parsing shared by the Kafka-facing commands.</summary>
internal static class KafkaCliSupport
{
    /// <summary>"sensor-readings=12,maintenance-alerts=6" (options may repeat) into name → partitions.</summary>
    public static void ParsePartitions(IEnumerable<string> specs, IDictionary<string, int> into)
    {
        foreach (var spec in specs)
        {
            foreach (var item in spec.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                var eq = item.IndexOf('=', StringComparison.Ordinal);
                if (eq <= 0 || !int.TryParse(item.AsSpan(eq + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var partitions) || partitions < 1)
                {
                    throw new ConfigurationException("--partitions", $"'{item}' is not topic=partitions (e.g. sensor-readings=12)");
                }
                into[item[..eq].Trim()] = partitions;
            }
        }
    }
}
