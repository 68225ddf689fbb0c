using Prometheus;

namespace SmartMaintenance.Streams.Windowing;

/// <summary>Window operator metrics, created once; one cached child per firing kind (no allocation per emission).</summary>
public static class WindowingMetrics
{
    public static readonly Counter Firings = Metrics.CreateCounter(
        "smstream_window_firings_total",
        "Window emissions of the window operator by kind: early, on_time, correction (late reading within the allowed lateness), final, retraction (merged session).",
        new CounterConfiguration { LabelNames = ["kind"] });

    private static readonly Counter.Child[] ByKind = CreateChildren();

    private static Counter.Child[] CreateChildren()
    {
        var kinds = Enum.GetValues<FiringKind>();
        var children = new Counter.Child[kinds.Length];
        foreach (var kind in kinds)
        {
            children[(int)kind] = Firings.WithLabels(Label(kind));
        }
        return children;
    }

    public static string Label(FiringKind kind) => kind switch
    {
        FiringKind.Early => "early",
        FiringKind.OnTime => "on_time",
        FiringKind.Correction => "correction",
        FiringKind.Final => "final",
        FiringKind.Retraction => "retraction",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };

    public static void OnFired(FiringKind kind) => ByKind[(int)kind].Inc();

    /// <summary>Registers the series (at 0) before the first emission, so rates and panels have them from start-up.</summary>
    public static void Register() => _ = ByKind.Length;
}
