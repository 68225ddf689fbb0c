using SmartMaintenance.Streams.Contracts;

namespace SmartMaintenance.Streams.Engine;

/// <summary>Outcome counters of one engine instance; they reconcile: every record ends in exactly one of them.</summary>
/// <remarks>Written by the consume loop and the writer, read by anyone (progress, summaries), hence Interlocked.
/// Counts are of durable outcomes: readings count as stored only once their transaction has committed.</remarks>
public sealed class EngineCounters
{
    private long _messages;
    private long _readings;
    private long _stored;
    private long _replayed;
    private long _aggregates;
    private long _anomalies;
    private long _alerts;
    private long _batches;
    private long _slices;
    private readonly long[] _rejected = new long[Enum.GetValues<RejectReason>().Length];

    public long Messages => Interlocked.Read(ref _messages);
    /// <summary>Readings seen (valid or not) in messages consumed for the first time (replays excluded).</summary>
    public long Readings => Interlocked.Read(ref _readings);
    public long Stored => Interlocked.Read(ref _stored);
    public long Replayed => Interlocked.Read(ref _replayed);
    public long Aggregates => Interlocked.Read(ref _aggregates);
    public long Anomalies => Interlocked.Read(ref _anomalies);
    public long AlertsPublished => Interlocked.Read(ref _alerts);
    public long Batches => Interlocked.Read(ref _batches);
    /// <summary>Aggregate slices committed ahead of their batch (a minute-end burst, Engine:AggregateSliceSize).</summary>
    public long Slices => Interlocked.Read(ref _slices);
    public long Rejected(RejectReason reason) => Interlocked.Read(ref _rejected[(int)reason]);
    public long RejectedTotal
    {
        get
        {
            long sum = 0;
            for (var i = 0; i < _rejected.Length; i++)
            {
                sum += Interlocked.Read(ref _rejected[i]);
            }
            return sum;
        }
    }

    internal void AddMessage() => Interlocked.Increment(ref _messages);
    internal void AddReadings(long n) => Interlocked.Add(ref _readings, n);
    internal void AddReplayed(long n) => Interlocked.Add(ref _replayed, n);
    internal void AddRejected(RejectReason reason, long n = 1) => Interlocked.Add(ref _rejected[(int)reason], n);

    internal void AddCommitted(long stored, long aggregates, long anomalies, long alerts)
    {
        Interlocked.Add(ref _stored, stored);
        Interlocked.Add(ref _aggregates, aggregates);
        Interlocked.Add(ref _anomalies, anomalies);
        Interlocked.Add(ref _alerts, alerts);
        Interlocked.Increment(ref _batches);
    }

    internal void AddSliceCommitted(long aggregates)
    {
        Interlocked.Add(ref _aggregates, aggregates);
        Interlocked.Increment(ref _slices);
    }
}
