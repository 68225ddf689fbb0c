using System.Reflection;
using Prometheus;
using SmartMaintenance.Streams.Engine;

namespace SmartMaintenance.Streams.Observability;

/// <summary>Metrics of the HTTP host itself: readiness per check, build info, engine assignment.</summary>
public static class ObservabilityMetrics
{
    public static readonly Gauge Ready = Metrics.CreateGauge(
        "smstream_ready", "1 when the readiness check passed at its last evaluation (each /health/ready request), else 0.",
        new GaugeConfiguration { LabelNames = ["component", "check"] });

    public static readonly Gauge BuildInfo = Metrics.CreateGauge(
        "smstream_build_info", "Always 1; the labels name the running component and version.",
        new GaugeConfiguration { LabelNames = ["component", "version"] });

    public static readonly Gauge AssignedPartitions = Metrics.CreateGauge(
        "smstream_engine_assigned_partitions", "Partitions of the readings topic assigned to this engine instance.");

    private static StreamEngine? s_engine;

    static ObservabilityMetrics()
    {
        Metrics.DefaultRegistry.AddBeforeCollectCallback(() =>
        {
            if (Volatile.Read(ref s_engine) is { } engine)
            {
                AssignedPartitions.Set(engine.AssignedPartitions.Length);
            }
        });
    }

    public static string Version { get; } =
        typeof(ObservabilityMetrics).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";

    /// <summary>Reports this engine's assignment at each scrape (the last engine registered wins).</summary>
    public static void TrackEngine(StreamEngine engine) => Volatile.Write(ref s_engine, engine);
}
