using System.Globalization;
using SmartMaintenance.Streams.Windowing;

namespace SmartMaintenance.Streams.Integration.Tests.ExactlyOnceModel;

/// <summary>
/// What must hold in the model database after a schedule: every reading stored (at most once) or dead-lettered;
/// every stored final aggregate equal to the recompute of the stored readings its window took when they were processed
/// live (<see cref="ModelReading"/>), however often they were replayed since; every window that closed before the
/// drain's watermark and took stored readings stored as final; final sessions of a sensor disjoint.
/// </summary>
internal static class ModelVerifier
{
    public static List<string> Check(ModelInput input, ModelDatabase db, WindowingSettings windows, long finalWatermark)
    {
        var problems = new List<string>();
        var bySensor = new Dictionary<string, List<ModelReading>>(StringComparer.Ordinal);
        for (var p = 0; p < input.Partitions; p++)
        {
            for (var o = 0; o < input.Logs[p].Count; o++)
            {
                var key = (p, (long)o);
                if (db.Readings.TryGetValue(key, out var r))
                {
                    (bySensor.TryGetValue(r.Reading.SensorId, out var list) ? list : bySensor[r.Reading.SensorId] = []).Add(r);
                }
                else if (!db.DeadLetters.Contains(key))
                {
                    problems.Add($"reading p{p}@{o} ({Time(input.Logs[p][o].Timestamp)}) was neither stored nor dead-lettered");
                }
            }
        }
        foreach (var list in bySensor.Values)
        {
            list.Sort((a, b) => a.Reading.Timestamp.CompareTo(b.Reading.Timestamp));
        }

        var specs = windows.ToSpecs();
        foreach (var ((sensor, kind, start), a) in db.Aggregates)
        {
            if (!a.IsFinal)
            {
                continue;
            }
            var spec = specs.First(x => x.Label == kind);
            var readings = bySensor.TryGetValue(sensor, out var l) ? l : [];
            long count = 0;
            double sum = 0, min = double.PositiveInfinity, max = double.NegativeInfinity;
            foreach (var r in readings)
            {
                if (r.Reading.Timestamp >= a.WindowStart && r.Reading.Timestamp < a.WindowEnd && Takes(spec, a.WindowStart, r))
                {
                    count++;
                    sum += r.Reading.Value;
                    min = Math.Min(min, r.Reading.Value);
                    max = Math.Max(max, r.Reading.Value);
                }
            }
            if (count != a.Count || Math.Abs(sum - a.Sum) > 1e-6 * Math.Max(1, Math.Abs(sum)) || (count > 0 && (min != a.Min || max != a.Max)))
            {
                problems.Add($"final {kind} of {sensor} at {Time(start)}–{Time(a.WindowEnd)} (revision {a.Revision}, written by {db.WrittenBy[(sensor, kind, start)]}): stored count {a.Count} sum {a.Sum:F3}, recomputed count {count} sum {sum:F3}");
            }
        }

        foreach (var spec in specs)
        {
            foreach (var (sensor, readings) in bySensor)
            {
                if (spec.Kind == WindowKind.Session)
                {
                    CheckSessions(problems, db, spec, sensor, readings, finalWatermark);
                }
                else
                {
                    CheckAligned(problems, db, spec, sensor, readings, finalWatermark);
                }
            }
        }
        return problems;
    }

    /// <summary>Whether the window of <paramref name="spec"/> starting at <paramref name="start"/> took the reading when it
    /// was processed live: an aligned window when it was not yet final then; a session unless the reading was late for it.</summary>
    private static bool Takes(WindowSpec spec, long start, ModelReading r) => spec.Kind == WindowKind.Session
        ? Array.IndexOf(r.LateKinds, spec.Label) < 0
        : start + spec.Size + spec.AllowedLateness > r.ClosedBelow;

    private static void CheckAligned(List<string> problems, ModelDatabase db, WindowSpec spec, string sensor, List<ModelReading> readings, long watermark)
    {
        var starts = new SortedSet<long>();
        foreach (var r in readings)
        {
            var last = FloorTo(r.Reading.Timestamp, spec.Advance);
            for (var ws = last - spec.Size + spec.Advance; ws <= last; ws += spec.Advance)
            {
                if (ws + spec.Size > r.Reading.Timestamp && Takes(spec, ws, r))
                {
                    starts.Add(ws);
                }
            }
        }
        foreach (var ws in starts)
        {
            if (ws + spec.Size + spec.AllowedLateness > watermark)
            {
                continue;
            }
            var stored = db.Aggregates.TryGetValue((sensor, spec.Label, ws), out var a);
            if (!stored || !a.IsFinal)
            {
                problems.Add($"closed {spec.Label} of {sensor} at {Time(ws)} took stored readings but has no final aggregate"
                    + (stored ? $" (revision {a.Revision} not final, written by {db.WrittenBy[(sensor, spec.Label, ws)]})" : " (no row)"));
            }
        }
    }

    private static void CheckSessions(List<string> problems, ModelDatabase db, WindowSpec spec, string sensor, List<ModelReading> readings, long watermark)
    {
        var sessions = new List<(long Start, long End)>();
        foreach (var ((s, kind, start), a) in db.Aggregates)
        {
            if (s == sensor && kind == spec.Label && a.IsFinal)
            {
                sessions.Add((start, a.WindowEnd));
            }
        }
        sessions.Sort();
        for (var i = 1; i < sessions.Count; i++)
        {
            if (sessions[i].Start < sessions[i - 1].End)
            {
                problems.Add($"final sessions of {sensor} overlap: {Time(sessions[i - 1].Start)}–{Time(sessions[i - 1].End)} and {Time(sessions[i].Start)}–{Time(sessions[i].End)}");
            }
        }
        // The sessions the taken readings make: the connected runs of [ts, ts + gap). Those closed before the drain's
        // watermark must be stored, final, exactly.
        long from = 0, to = long.MinValue;
        foreach (var m in readings)
        {
            if (!Takes(spec, 0, m))
            {
                continue;
            }
            var ts = m.Reading.Timestamp;
            if (ts >= to)
            {
                Expect(from, to);
                from = ts;
            }
            to = Math.Max(to, ts + spec.Gap);
        }
        Expect(from, to);

        void Expect(long s, long e)
        {
            if (e == long.MinValue || e + spec.AllowedLateness > watermark)
            {
                return;
            }
            if (!sessions.Contains((s, e)))
            {
                problems.Add($"closed {spec.Label} of {sensor} {Time(s)}–{Time(e)} is not stored as a final session");
            }
        }
    }

    private static long FloorTo(long a, long b) => (a >= 0 ? a / b : ((a + 1) / b) - 1) * b;

    private static string Time(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms).ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture);
}
