using System.Globalization;
using System.Text;
using SmartMaintenance.Streams.Contracts;

namespace SmartMaintenance.Streams.Kafka.Simulation;

/// <summary>Kinds of malformed readings the simulator writes, each meant to be rejected with one <see cref="RejectReason"/>.</summary>
public enum MalformedKind
{
    /// <summary>Truncated JSON, trailing garbage, or not JSON at all. Always a message of its own (never inside an envelope).</summary>
    BrokenJson,
    /// <summary>One of sensor_id, ts, value absent.</summary>
    MissingField,
    /// <summary>value is the string "NaN", "Infinity" or "-Infinity".</summary>
    NonFiniteValue,
    /// <summary>value physically impossible for its type (e.g. -500 °C, negative vibration) or quality outside 0..1.</summary>
    OutOfRange,
    /// <summary>ts ten years after the reading's event time.</summary>
    FutureTimestamp,
}

/// <summary>Kinds of anomaly episodes the simulator injects into otherwise valid readings.</summary>
public enum AnomalyKind
{
    /// <summary>One reading 10..20 standard deviations off.</summary>
    Spike,
    /// <summary>60..180 readings shifted by 6..10 standard deviations.</summary>
    LevelShift,
    /// <summary>60..180 readings repeating exactly the same value.</summary>
    Stuck,
}

public static class MalformedKinds
{
    public static IReadOnlyList<MalformedKind> All { get; } = Enum.GetValues<MalformedKind>();

    /// <summary>The reason a validator following the contracts rejects this kind with.</summary>
    public static RejectReason ExpectedReason(this MalformedKind kind) => kind switch
    {
        MalformedKind.BrokenJson => RejectReason.MalformedJson,
        MalformedKind.MissingField => RejectReason.MissingField,
        MalformedKind.NonFiniteValue => RejectReason.NonFiniteValue,
        MalformedKind.OutOfRange => RejectReason.OutOfRange,
        MalformedKind.FutureTimestamp => RejectReason.FutureTimestamp,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };
}

/// <summary>What a simulation run published (or, for <see cref="SensorDataGenerator"/>, generated).</summary>
public sealed record SimulationSummary
{
    /// <summary>Kafka messages (single readings, envelopes and broken-JSON messages).</summary>
    public long Messages { get; init; }
    /// <summary>Messages that were batch envelopes.</summary>
    public long Envelopes { get; init; }
    /// <summary>All readings written, valid and malformed (a broken-JSON message counts as one).</summary>
    public long Readings { get; init; }
    /// <summary>Readings that satisfy the contract (anomalous ones included).</summary>
    public long ValidReadings { get; init; }
    public long MalformedReadings { get; init; }
    public required IReadOnlyDictionary<MalformedKind, long> MalformedByKind { get; init; }
    /// <summary>Anomaly episodes started.</summary>
    public long AnomaliesInjected { get; init; }
    public required IReadOnlyDictionary<AnomalyKind, long> AnomaliesByKind { get; init; }
    /// <summary>Valid readings whose value an anomaly episode altered.</summary>
    public long AnomalousReadings { get; init; }
    /// <summary>Messages the producer reported as not delivered (0 in a healthy run).</summary>
    public long DeliveryFailures { get; init; }
    public int Seed { get; init; }
    public DateTimeOffset StartTime { get; init; }
    public TimeSpan Elapsed { get; init; }

    /// <summary>Malformed readings per reject reason, as a validator following the contracts reports them.</summary>
    public IReadOnlyDictionary<RejectReason, long> ExpectedRejects()
    {
        var result = new Dictionary<RejectReason, long>();
        foreach (var (kind, count) in MalformedByKind)
        {
            result[kind.ExpectedReason()] = count;
        }
        return result;
    }

    public string ToText()
    {
        var sb = new StringBuilder();
        var c = CultureInfo.InvariantCulture;
        sb.Append(c, $"messages: {Messages}").AppendLine();
        if (Envelopes > 0)
        {
            sb.Append(c, $"envelopes: {Envelopes}").AppendLine();
        }
        sb.Append(c, $"readings: {Readings}").AppendLine();
        sb.Append(c, $"readings valid: {ValidReadings}").AppendLine();
        sb.Append(c, $"readings malformed: {MalformedReadings}");
        foreach (var kind in MalformedKinds.All)
        {
            sb.Append(c, $" {kind.ExpectedReason().ToCode()}={MalformedByKind.GetValueOrDefault(kind)}");
        }
        sb.AppendLine();
        sb.Append(c, $"anomalies injected: {AnomaliesInjected}");
        foreach (var kind in Enum.GetValues<AnomalyKind>())
        {
            sb.Append(c, $" {kind.ToString().ToLowerInvariant()}={AnomaliesByKind.GetValueOrDefault(kind)}");
        }
        sb.Append(c, $" (anomalous readings {AnomalousReadings})").AppendLine();
        sb.Append(c, $"delivery failures: {DeliveryFailures}").AppendLine();
        var rate = Elapsed.TotalSeconds > 0 ? Readings / Elapsed.TotalSeconds : 0;
        sb.Append(c, $"seed: {Seed}, start: {StartTime:O}, elapsed: {Elapsed.TotalSeconds:F2} s ({rate:F0} readings/s)");
        return sb.ToString();
    }
}
