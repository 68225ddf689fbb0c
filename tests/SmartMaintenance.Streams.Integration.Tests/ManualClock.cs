namespace SmartMaintenance.Streams.Integration.Tests;

/// <summary>A wall clock the test moves by hand: processing time (idle timeouts, early firings) without waiting.</summary>
internal sealed class ManualClock(DateTimeOffset now) : TimeProvider
{
    private DateTimeOffset _now = now;

    public void Advance(TimeSpan by) => _now += by;

    public override DateTimeOffset GetUtcNow() => _now;
}
