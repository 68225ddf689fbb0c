using SmartMaintenance.Streams.Contracts;

namespace SmartMaintenance.Streams.Alerting.Notifier;

/// <summary>Maps an event to channel names: the union over every matching route, in configuration order.</summary>
public sealed class AlertRouter
{
    private readonly RouteOptions[] _routes;

    public AlertRouter(IReadOnlyList<RouteOptions> routes)
    {
        ArgumentNullException.ThrowIfNull(routes);
        _routes = [.. routes];
    }

    /// <summary>Appends the channels for <paramref name="alert"/> to <paramref name="channels"/>, each once.</summary>
    public void Match(AlertEvent alert, List<string> channels)
    {
        ArgumentNullException.ThrowIfNull(alert);
        ArgumentNullException.ThrowIfNull(channels);
        foreach (var r in _routes)
        {
            if (!Matches(r, alert))
            {
                continue;
            }
            foreach (var c in r.Channels)
            {
                if (!channels.Contains(c))
                {
                    channels.Add(c);
                }
            }
        }
    }

    public static bool Matches(RouteOptions route, AlertEvent alert)
    {
        ArgumentNullException.ThrowIfNull(route);
        ArgumentNullException.ThrowIfNull(alert);
        return alert.Severity >= route.MinSeverity && alert.Severity <= route.MaxSeverity
            && AnyExact(route.Statuses, alert.Status)
            && AnyExact(route.SensorTypes, alert.SensorType)
            && AnyPattern(route.Assets, alert.AssetId)
            && AnyPattern(route.Sensors, alert.SensorId);
    }

    private static bool AnyExact(List<string> allowed, string? value)
    {
        if (allowed.Count == 0)
        {
            return true;
        }
        return value is not null && allowed.Contains(value, StringComparer.Ordinal);
    }

    private static bool AnyPattern(List<string> patterns, string? value)
    {
        if (patterns.Count == 0)
        {
            return true;
        }
        if (value is null)
        {
            return false;
        }
        foreach (var p in patterns)
        {
            var match = p.EndsWith('*')
                ? value.StartsWith(p.AsSpan(0, p.Length - 1), StringComparison.Ordinal)
                : string.Equals(p, value, StringComparison.Ordinal);
            if (match)
            {
                return true;
            }
        }
        return false;
    }
}

/// <summary>Token bucket: <c>capacity</c> tokens, refilled evenly over <c>window</c>.</summary>
public sealed class TokenBucket
{
    private readonly double _capacity;
    private readonly double _perTick;
    private double _tokens;
    private long _lastTicks;

    public TokenBucket(int capacity, TimeSpan window, DateTimeOffset now)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(window, TimeSpan.Zero);
        _capacity = capacity;
        _perTick = capacity / (double)window.Ticks;
        _tokens = capacity;
        _lastTicks = now.UtcTicks;
    }

    public bool TryTake(DateTimeOffset now)
    {
        var ticks = now.UtcTicks;
        if (ticks > _lastTicks)
        {
            _tokens = Math.Min(_capacity, _tokens + (ticks - _lastTicks) * _perTick);
            _lastTicks = ticks;
        }
        if (_tokens >= 1)
        {
            _tokens -= 1;
            return true;
        }
        return false;
    }
}
