using System.Collections.Concurrent;
using SmartMaintenance.Streams.Alerting.Notifier;

namespace SmartMaintenance.Streams.Alerting.Tests;

/// <summary>Process-local delivery log with the same row semantics as alert_deliveries (used until the shared
/// PostgreSQL fixture is available; PostgresDeliveryLogTests pin the real one).</summary>
internal sealed class ProcessDeliveryLog : IDeliveryLog
{
    private readonly ConcurrentDictionary<(string Key, string Channel), (string Outcome, long Seq)> _rows = new();
    private long _seq;

    public string? Outcome(string key, string channel) => _rows.TryGetValue((key, channel), out var r) ? r.Outcome : null;

    public ValueTask<ClaimState> ClaimAsync(string eventKey, string channel, CancellationToken cancellationToken)
    {
        if (_rows.TryAdd((eventKey, channel), (DeliveryOutcomes.Pending, Interlocked.Increment(ref _seq))))
        {
            return ValueTask.FromResult(ClaimState.New);
        }
        return ValueTask.FromResult(_rows[(eventKey, channel)].Outcome == DeliveryOutcomes.Pending ? ClaimState.Interrupted : ClaimState.Done);
    }

    public ValueTask MarkAsync(string eventKey, string channel, string outcome, CancellationToken cancellationToken)
    {
        _rows[(eventKey, channel)] = (outcome, Interlocked.Increment(ref _seq));
        return ValueTask.CompletedTask;
    }

    public ValueTask<IReadOnlyList<string>> ListHeldAsync(string channel, CancellationToken cancellationToken) =>
        ValueTask.FromResult<IReadOnlyList<string>>(_rows.Where(r => r.Key.Channel == channel && r.Value.Outcome == DeliveryOutcomes.Held)
            .OrderBy(r => r.Value.Seq).Select(r => r.Key.Key).ToList());

    public ValueTask MarkHeldAsync(IReadOnlyList<string> eventKeys, string channel, string outcome, CancellationToken cancellationToken)
    {
        foreach (var k in eventKeys)
        {
            if (Outcome(k, channel) == DeliveryOutcomes.Held)
            {
                _rows[(k, channel)] = (outcome, Interlocked.Increment(ref _seq));
            }
        }
        return ValueTask.CompletedTask;
    }
}
