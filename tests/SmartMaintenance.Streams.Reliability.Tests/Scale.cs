using System.Globalization;

namespace SmartMaintenance.Streams.Reliability.Tests;

/// <summary>Sizes of the fault tests: small by default (CI), large when scripts/reliability sets the environment.</summary>
internal static class Scale
{
    /// <summary>Readings per fault test (crash, outage, scale, broker errors). CI: 20 000.</summary>
    public static int Readings => Int("SMSTREAM_RELIABILITY_READINGS", 20_000);

    /// <summary>SIGKILLs in the crash test. CI: 3.</summary>
    public static int Kills => Int("SMSTREAM_RELIABILITY_KILLS", 3);

    /// <summary>How long PostgreSQL stays down in the outage test. CI: 4 s.</summary>
    public static TimeSpan Outage => TimeSpan.FromSeconds(Int("SMSTREAM_RELIABILITY_OUTAGE_SECONDS", 4));

    /// <summary>Over how long the input is produced while the engines run (so faults land mid-stream). CI: 20 s.</summary>
    public static TimeSpan ProduceOver => TimeSpan.FromSeconds(Int("SMSTREAM_RELIABILITY_PRODUCE_SECONDS", 20));

    /// <summary>Times the many-engine test runs its 1→4→2→4→1 schedule (8 rebalances and a SIGKILL each). CI: 1.</summary>
    public static int ScaleCycles => Int("SMSTREAM_RELIABILITY_SCALE_CYCLES", 1);

    /// <summary>Messages of the hostile corpus. CI: 10 000.</summary>
    public static int Hostile => Int("SMSTREAM_RELIABILITY_HOSTILE", 10_000);

    /// <summary>Seed of every random choice (kill moments, corpus); printed by the tests so a failure can be replayed.</summary>
    public static int Seed => Int("SMSTREAM_RELIABILITY_SEED", 20261125);

    /// <summary>Multiplies every wait of the fault tests; the full run needs more than CI.</summary>
    public static TimeSpan Budget(int ciSeconds) => TimeSpan.FromSeconds(ciSeconds * Math.Max(1.0, Readings / 20_000.0));

    private static int Int(string name, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && v > 0 ? v : fallback;
}
