using System.Globalization;
using SmartMaintenance.Streams.Testing;

namespace SmartMaintenance.Streams.Integration.Tests;

/// <summary>Deterministic readings for integration tests: valid ones plus one malformed of every DLQ reason.</summary>
internal static class ReadingFactory
{
    public static readonly DateTimeOffset Base = DateTimeOffset.UtcNow.AddHours(-6);

    public static string Valid(int sensor, int i, double? value = null)
    {
        var ts = Base.AddMilliseconds(i * 250L).ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture);
        var v = (value ?? (20 + (i % 17) * 0.1 + sensor)).ToString("R", CultureInfo.InvariantCulture);
        return $$"""{"sensor_id":"s-{{sensor}}","ts":"{{ts}}","value":{{v}},"sensor_type":"temperature","unit":"C","seq":{{i}}}""";
    }

    /// <summary>(message, expected DLQ reason) pairs covering each validation reason.</summary>
    public static IReadOnlyList<(string Json, string Reason)> Invalid(int n)
    {
        var now = DateTimeOffset.UtcNow;
        var list = new List<(string, string)>();
        for (var i = 0; i < n; i++)
        {
            list.Add((i % 6) switch
            {
                0 => ("{\"sensor_id\":\"bad\",\"ts\":", "malformed_json"),
                1 => ("""{"ts":"2026-01-01T00:00:00Z","value":1}""", "missing_field"),
                2 => ($$"""{"sensor_id":"bad","ts":"{{now:O}}","value":"NaN"}""", "non_finite_value"),
                3 => ($$"""{"sensor_id":"bad","ts":"{{now:O}}","value":-500,"sensor_type":"temperature"}""", "out_of_range"),
                4 => ($$"""{"sensor_id":"bad","ts":"{{now.AddDays(2):O}}","value":1}""", "future_timestamp"),
                _ => ($$"""{"sensor_id":"bad","ts":"{{now:O}}","value":"12"}""", "invalid_field"),
            });
        }
        return list;
    }

    public static TestMessage Message(string json, string? key) => TestMessage.Utf8(key, json);

    /// <summary>A valid reading keyed by its sensor, as producers do (a sensor's readings stay in one partition, in order).</summary>
    public static TestMessage ValidMessage(int sensor, int i) => TestMessage.Utf8($"s-{sensor}", Valid(sensor, i));
}
