using SmartMaintenance.Streams.Contracts;

namespace SmartMaintenance.Streams.Integration.Tests.ExactlyOnceModel;

/// <summary>
/// The topic of one schedule: readings of a few sensors, each sensor keyed to one partition, produced over time in
/// event-time order with out-of-order jitter within the watermark's bound, gaps that end sessions and let partitions go
/// idle, and some readings hours late. Uneven progress of the consumers makes further readings late, wholly or for some
/// of their windows: the model records each decision (<see cref="ModelReading"/>).
/// </summary>
internal sealed class ModelInput
{
    public static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    public const long MaxOutOfOrdernessMs = 5_000;

    private readonly List<(int Partition, int Index)> _order = [];
    private int _produced;

    public ModelInput(Random rng, int partitions, int sensors, int readings)
    {
        Partitions = partitions;
        Logs = new List<SensorReading>[partitions];
        Visible = new int[partitions];
        for (var p = 0; p < partitions; p++)
        {
            Logs[p] = [];
        }
        var clock = T0.ToUnixTimeMilliseconds();
        var seq = new long[sensors];
        for (var i = 0; i < readings; i++)
        {
            clock += rng.Next(100) < 3 ? rng.Next(60_000, 240_000) : rng.Next(0, 8_000);
            var sensor = rng.Next(sensors);
            var partition = sensor % partitions;
            var veryLate = rng.Next(100) < 2;
            var ts = veryLate ? T0.ToUnixTimeMilliseconds() - 3 * 3_600_000L + rng.Next(600_000) : clock - rng.NextInt64(MaxOutOfOrdernessMs + 1);
            var offset = Logs[partition].Count;
            var value = Math.Round((rng.NextDouble() * 100) - 20, 3);
            Logs[partition].Add(new SensorReading("s" + sensor, ts, value, SensorType: "temperature", Seq: seq[sensor]++,
                Position: new SourcePosition(partition, offset, 0)));
            _order.Add((partition, offset));
        }
    }

    public int Partitions { get; }

    /// <summary>Each partition's records; a record's offset is its index.</summary>
    public List<SensorReading>[] Logs { get; }

    /// <summary>Records produced so far per partition (the consumers see no more).</summary>
    public int[] Visible { get; }

    public bool AllProduced => _produced == _order.Count;

    public void Produce(int count)
    {
        for (var i = 0; i < count && _produced < _order.Count; i++, _produced++)
        {
            Visible[_order[_produced].Partition]++;
        }
    }

    public void ProduceAll() => Produce(_order.Count);
}
