namespace SmartMaintenance.Streams.Operations.Dlq;

/// <summary>Linear unit conversions for <c>convert</c> transform steps: value_base = value * Factor + Offset.</summary>
public static class Units
{
    private sealed record Unit(string Dimension, double Factor, double Offset);

    private static readonly Dictionary<string, Unit> s_units = Build();

    /// <summary>Every accepted unit name (case-insensitive), for error messages and docs.</summary>
    public static IReadOnlyCollection<string> Names => s_units.Keys;

    public static bool IsKnown(string name) => s_units.ContainsKey(name);

    public static bool SameDimension(string a, string b) =>
        s_units.TryGetValue(a, out var ua) && s_units.TryGetValue(b, out var ub) && ua.Dimension == ub.Dimension;

    /// <summary>True when both names denote the same unit (e.g. "°C" and "degC").</summary>
    public static bool Same(string a, string b) =>
        s_units.TryGetValue(a, out var ua) && s_units.TryGetValue(b, out var ub) && ua == ub;

    public static double Convert(double value, string from, string to)
    {
        var f = s_units[from];
        var t = s_units[to];
        if (f.Dimension != t.Dimension)
        {
            throw new ArgumentException($"cannot convert {f.Dimension} ({from}) to {t.Dimension} ({to})", nameof(to));
        }
        var baseValue = value * f.Factor + f.Offset;
        return (baseValue - t.Offset) / t.Factor;
    }

    private static Dictionary<string, Unit> Build()
    {
        var d = new Dictionary<string, Unit>(StringComparer.OrdinalIgnoreCase);
        void Add(Unit u, params string[] names)
        {
            foreach (var n in names)
            {
                d[n] = u;
            }
        }
        // Temperature, base kelvin.
        Add(new Unit("temperature", 1, 273.15), "C", "°C", "degC", "celsius");
        Add(new Unit("temperature", 5.0 / 9.0, 273.15 - 32 * 5.0 / 9.0), "F", "°F", "degF", "fahrenheit");
        Add(new Unit("temperature", 1, 0), "K", "kelvin");
        // Pressure, base pascal.
        Add(new Unit("pressure", 1, 0), "Pa");
        Add(new Unit("pressure", 1e3, 0), "kPa");
        Add(new Unit("pressure", 1e6, 0), "MPa");
        Add(new Unit("pressure", 1e5, 0), "bar");
        Add(new Unit("pressure", 100, 0), "mbar", "hPa");
        Add(new Unit("pressure", 6894.757293168, 0), "psi");
        // Vibration velocity, base m/s.
        Add(new Unit("velocity", 1, 0), "m/s");
        Add(new Unit("velocity", 1e-3, 0), "mm/s");
        Add(new Unit("velocity", 0.0254, 0), "in/s", "ips");
        // Acceleration, base m/s².
        Add(new Unit("acceleration", 1, 0), "m/s2", "m/s²");
        Add(new Unit("acceleration", 9.80665, 0), "g");
        // Current, base ampere.
        Add(new Unit("current", 1, 0), "A");
        Add(new Unit("current", 1e-3, 0), "mA");
        Add(new Unit("current", 1e3, 0), "kA");
        // Ratio, base fraction (humidity, quality).
        Add(new Unit("ratio", 1, 0), "fraction", "ratio");
        Add(new Unit("ratio", 0.01, 0), "%", "percent", "%RH");
        return d;
    }
}
