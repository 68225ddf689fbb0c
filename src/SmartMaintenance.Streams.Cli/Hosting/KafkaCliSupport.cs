using System.Globalization;
using System.Runtime.InteropServices;
using SmartMaintenance.Streams.Contracts;

namespace SmartMaintenance.Streams.Cli.Hosting;

/// <summary>Shared by the Kafka-facing commands (broker, simulate): signal handling and argument parsing.</summary>
internal static class KafkaCliSupport
{
    /// <summary>A token cancelled by the command's own token or by SIGINT/SIGTERM, whose default
    /// (immediate exit) is suppressed so the command can shut down cleanly.</summary>
    public static TerminationScope OnTermination(CancellationToken commandToken) => new(commandToken);

    internal sealed class TerminationScope : IDisposable
    {
        private readonly CancellationTokenSource _cts;
        private readonly PosixSignalRegistration _sigint;
        private readonly PosixSignalRegistration _sigterm;

        public TerminationScope(CancellationToken commandToken)
        {
            _cts = CancellationTokenSource.CreateLinkedTokenSource(commandToken);
            _sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Handle);
            _sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Handle);
        }

        public CancellationToken Token => _cts.Token;

        private void Handle(PosixSignalContext context)
        {
            context.Cancel = true;
            _cts.Cancel();
        }

        public void Dispose()
        {
            _sigint.Dispose();
            _sigterm.Dispose();
            _cts.Dispose();
        }
    }

    /// <summary>"10" (seconds), "500ms", "10s", "5m", "1h".</summary>
    public static TimeSpan ParseDuration(string text, string setting)
    {
        ArgumentNullException.ThrowIfNull(text);
        var t = text.Trim();
        (string Suffix, double Factor)[] units = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)];
        var factor = 1.0;
        foreach (var (suffix, f) in units)
        {
            if (t.EndsWith(suffix, StringComparison.OrdinalIgnoreCase))
            {
                t = t[..^suffix.Length];
                factor = f;
                break;
            }
        }
        if (!double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !double.IsFinite(value) || value < 0)
        {
            throw new ConfigurationException(setting, $"'{text}' is not a duration (e.g. 30, 500ms, 10s, 5m, 1h)");
        }
        return TimeSpan.FromSeconds(value * factor);
    }

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
