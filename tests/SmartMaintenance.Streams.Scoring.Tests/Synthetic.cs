using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Testing;

namespace SmartMaintenance.Streams.Scoring.Tests;

/// <summary>Deterministic synthetic sensor series.</summary>
internal static class Synthetic
{
    public const long Start = 1_700_000_000_000;
    public const long Step = 60_000;

    public static double[] Noise(int n, double level = 50, double sigma = 1, int seed = 7)
    {
        var rng = new Random(seed);
        var v = new double[n];
        for (var i = 0; i < n; i++)
        {
            // Box-Muller: Gaussian noise without extra packages.
            var u1 = 1.0 - rng.NextDouble();
            var u2 = rng.NextDouble();
            v[i] = level + (sigma * Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
        }
        return v;
    }

    public static SensorReading Reading(string sensor, int i, double value, string? type = null) =>
        new(sensor, Start + (i * Step), value, SensorType: type);

    /// <summary>Runs a series through a pipeline; returns the anomalies with the row index they fired at.</summary>
    public static List<(int Index, Anomaly Anomaly)> Run(DetectorPipeline pipeline, double[] values, string sensor = "s1", string? type = null)
    {
        var found = new List<(int, Anomaly)>();
        for (var i = 0; i < values.Length; i++)
        {
            if (pipeline.Process(Reading(sensor, i, values[i], type), out var a))
            {
                found.Add((i, a!));
            }
        }
        return found;
    }

    /// <summary>The NAB dev corpus vendored in the repository (tests/data/nab-dev).</summary>
    public static string NabDev() => RepositoryPaths.NabDev();
}
