using System.Reactive.Subjects;
using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Windowing;

namespace SmartMaintenance.Streams.Windowing.Tests;

/// <summary>Feeds events through the window operator and collects what it emits.</summary>
internal sealed class Harness : IDisposable
{
    private readonly Subject<StreamEvent<SensorReading>> _input = new();
    private readonly IDisposable _subscription;

    public Harness(IReadOnlyList<WindowSpec> specs, WindowOperatorOptions? options = null)
    {
        _subscription = _input.AggregateWindows(specs, options).Subscribe(e =>
        {
            switch (e.Kind)
            {
                case StreamEventKind.Data when e.Item.Kind == WindowOutputKind.Aggregate:
                    Aggregates.Add((e.Item.Aggregate, e.Item.Firing));
                    break;
                case StreamEventKind.Data:
                    Rejected.Add(e.Item.Rejected);
                    break;
                case StreamEventKind.Watermark:
                    Watermarks.Add(e.Timestamp);
                    break;
                default:
                    Control.Add((e.Kind, e.Partition));
                    break;
            }
        }, ex => Error = ex);
    }

    public List<(WindowAggregate Aggregate, FiringKind Firing)> Aggregates { get; } = [];
    public List<RejectedReading> Rejected { get; } = [];
    public List<long> Watermarks { get; } = [];
    public List<(StreamEventKind Kind, int Partition)> Control { get; } = [];
    public Exception? Error { get; private set; }

    public void Push(StreamEvent<SensorReading> e) => _input.OnNext(e);

    public void Data(SensorReading r) => _input.OnNext(StreamEvent<SensorReading>.Data(r));

    public void Watermark(long ts) => _input.OnNext(StreamEvent<SensorReading>.Watermark(ts));

    public void PushAll(IEnumerable<StreamEvent<SensorReading>> events)
    {
        foreach (var e in events)
        {
            _input.OnNext(e);
        }
    }

    /// <summary>Last state of every window after applying emissions in order (retractions delete).</summary>
    public Dictionary<(string Key, string Kind, long Start), WindowAggregate> FinalState()
    {
        var state = new Dictionary<(string, string, long), WindowAggregate>();
        foreach (var (a, firing) in Aggregates)
        {
            var k = (a.SensorId, a.WindowKind, a.WindowStart);
            if (firing == FiringKind.Retraction)
            {
                state.Remove(k);
            }
            else
            {
                state[k] = a;
            }
        }
        return state;
    }

    public void Dispose()
    {
        _subscription.Dispose();
        _input.Dispose();
    }

    public static SensorReading Reading(string sensor, long ts, double value, int partition = 0, long offset = -1, long seq = -1, int index = 0) =>
        new(sensor, ts, value, Seq: seq, Position: new SourcePosition(partition, offset, index));
}
