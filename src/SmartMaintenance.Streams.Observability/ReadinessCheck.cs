namespace SmartMaintenance.Streams.Observability;

/// <summary>One condition of /health/ready.</summary>
public interface IReadinessCheck
{
    /// <summary>Short, stable name (shown in the response and in <c>smstream_ready</c>'s check label).</summary>
    string Name { get; }

    /// <summary>Evaluates the condition; a check that throws or exceeds its timeout counts as failed.</summary>
    Task<CheckResult> CheckAsync(CancellationToken cancellationToken);
}

/// <summary>Outcome of one readiness check, with a human-readable reason.</summary>
public readonly record struct CheckResult(bool Ok, string Detail)
{
    public static CheckResult Pass(string detail) => new(true, detail);

    public static CheckResult Fail(string detail) => new(false, detail);
}

/// <summary>A readiness check from a delegate (cheap, in-process conditions).</summary>
public sealed class DelegateCheck(string name, Func<CheckResult> check) : IReadinessCheck
{
    public string Name { get; } = name;

    public Task<CheckResult> CheckAsync(CancellationToken cancellationToken) => Task.FromResult(check());
}
