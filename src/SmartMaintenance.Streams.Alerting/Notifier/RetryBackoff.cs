namespace SmartMaintenance.Streams.Alerting.Notifier;

/// <summary>
/// The notifier's retry delays: <c>RetryBaseDelay</c> doubled per retry, plus up to 25 % jitter, capped at
/// <c>RetryMaxDelay</c>. Polly's own exponential jitter is decorrelated (a later delay can be shorter than an earlier
/// one, the first can be well under the base); this keeps what the settings promise: each delay at least the base
/// times 2^retry, never shorter than the one before.
/// </summary>
public sealed class RetryBackoff
{
    /// <summary>Largest jitter as a fraction of the un-jittered delay. Below 1, so the next doubling always wins.</summary>
    public const double MaxJitter = 0.25;

    private readonly TimeSpan _base;
    private readonly TimeSpan _max;
    private readonly Func<double> _random;

    /// <param name="random">Uniform in [0, 1); <see cref="Random.Shared"/> when null (tests pass their own).</param>
    public RetryBackoff(TimeSpan baseDelay, TimeSpan maxDelay, Func<double>? random = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(baseDelay, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxDelay, baseDelay);
        _base = baseDelay;
        _max = maxDelay;
        _random = random ?? Random.Shared.NextDouble;
    }

    /// <summary>Delay before retry number <paramref name="retry"/> (0 = the first retry).</summary>
    public TimeSpan Delay(int retry)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(retry);
        var ticks = _base.Ticks * Math.Pow(2, Math.Min(retry, 40)) * (1 + MaxJitter * _random());
        return ticks >= _max.Ticks ? _max : TimeSpan.FromTicks((long)ticks);
    }
}
