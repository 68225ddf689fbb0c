using SmartMaintenance.Streams.Contracts;

namespace SmartMaintenance.Streams.Alerting.Notifier;

/// <summary>A silence (as Alertmanager's): while active, matching alert events are not delivered. A matcher is an exact
/// value or a prefix ending in '*'; a null matcher matches anything.</summary>
public sealed record Silence(string SilenceId, string? AssetId, string? SensorId, string? SensorType, string? Detector,
    DateTimeOffset StartsAt, DateTimeOffset EndsAt, string Reason)
{
    public bool IsActive(DateTimeOffset now) => now >= StartsAt && now < EndsAt;

    public bool Matches(AlertEvent alert)
    {
        ArgumentNullException.ThrowIfNull(alert);
        return Match(AssetId, alert.AssetId) && Match(SensorId, alert.SensorId) && Match(SensorType, alert.SensorType) && Match(Detector, alert.Detector);
    }

    private static bool Match(string? pattern, string? value)
    {
        if (pattern is null)
        {
            return true;
        }
        if (value is null)
        {
            return false;
        }
        return pattern.EndsWith('*')
            ? value.StartsWith(pattern.AsSpan(0, pattern.Length - 1), StringComparison.Ordinal)
            : string.Equals(pattern, value, StringComparison.Ordinal);
    }
}

/// <summary>Where the dispatcher learns which silences are active.</summary>
public interface ISilenceSource
{
    /// <summary>The active silence matching <paramref name="alert"/> at <paramref name="now"/>, or null.</summary>
    Silence? Find(AlertEvent alert, DateTimeOffset now);
}
