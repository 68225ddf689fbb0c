using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Windowing;

namespace SmartMaintenance.Streams.Windowing.Tests;

/// <summary>
/// Brute-force model of the window operator's contract, computed from the whole input with lists and
/// linear scans: which readings each window finally holds, which readings are late (fully or partially)
/// and which are duplicates.
/// </summary>
internal sealed class Reference
{
    private readonly IReadOnlyList<WindowSpec> _specs;
    private readonly long _horizon;
    private readonly bool _dedup;

    public Reference(IReadOnlyList<WindowSpec> specs, bool dedup, long? horizon = null)
    {
        _specs = specs;
        _dedup = dedup;
        _horizon = horizon ?? specs.Max(s => (s.Kind == WindowKind.Session ? s.Gap : s.Size) + s.AllowedLateness);
    }

    public Dictionary<(string Key, string Kind, long Start), (long End, List<SensorReading> Readings)> Windows { get; } = [];
    public List<(SourcePosition Position, string Kind, bool Partial)> Late { get; } = [];
    public List<SourcePosition> Duplicates { get; } = [];
    /// <summary>Session readings late only because a session of their key closed finally after their time.</summary>
    public List<SourcePosition> BeforeClosedSession { get; } = [];

    private sealed class Session
    {
        public long Start;
        public long End;
        public List<SensorReading> Readings = [];
        public bool Closed;
    }

    public Reference Run(IEnumerable<StreamEvent<SensorReading>> events)
    {
        var wm = long.MinValue;
        var memory = new Dictionary<string, List<(long Ts, long Bits, long Seq)>>();
        var sessions = new Dictionary<(string, int), List<Session>>();
        var closedEnd = new Dictionary<(string, int), long>();
        foreach (var e in events)
        {
            if (e.Kind == StreamEventKind.Watermark)
            {
                if (e.Timestamp <= wm)
                {
                    continue;
                }
                wm = e.Timestamp;
                foreach (var ((key, si), list) in sessions)
                {
                    var spec = _specs[si];
                    foreach (var s in list.Where(s => !s.Closed && s.End + spec.AllowedLateness <= wm))
                    {
                        s.Closed = true;
                        closedEnd[(key, si)] = Math.Max(closedEnd.GetValueOrDefault((key, si), long.MinValue), s.End);
                    }
                }
                continue;
            }
            if (e.Kind != StreamEventKind.Data)
            {
                continue;
            }
            var r = e.Item;
            var ts = r.Timestamp;
            if (_dedup)
            {
                var low = wm == long.MinValue ? long.MinValue : wm - _horizon;
                var mem = memory.TryGetValue(r.SensorId, out var m) ? m : memory[r.SensorId] = [];
                var bits = BitConverter.DoubleToInt64Bits(r.Value);
                if (mem.Any(x => x.Ts >= low && ((x.Ts == ts && x.Bits == bits) || (r.Seq >= 0 && x.Seq == r.Seq))))
                {
                    Duplicates.Add(r.Position);
                    continue;
                }
                if (ts >= low)
                {
                    mem.Add((ts, bits, r.Seq));
                }
            }
            // A spec that took none of the reading's windows makes it late for that spec; the reading is late as a whole
            // (Partial false) only when no spec took it, otherwise each such spec reports it as partially late.
            var wholeLate = new List<string>();
            var taken = false;
            for (var si = 0; si < _specs.Count; si++)
            {
                var spec = _specs[si];
                var l = spec.AllowedLateness;
                if (spec.Kind == WindowKind.Session)
                {
                    var g = spec.Gap;
                    var list = sessions.TryGetValue((r.SensorId, si), out var sl) ? sl : sessions[(r.SensorId, si)] = [];
                    // Late for its own time, unless inside a session still open (that session is not final).
                    var inOpen = list.Any(s => !s.Closed && s.Start <= ts && ts < s.End);
                    if ((ts + g + l <= wm && !inOpen) || ts < closedEnd.GetValueOrDefault((r.SensorId, si), long.MinValue))
                    {
                        wholeLate.Add(spec.Label);
                        if (ts + g + l > wm)
                        {
                            BeforeClosedSession.Add(r.Position);
                        }
                        continue;
                    }
                    var overlapping = list.Where(s => !s.Closed && s.Start < ts + g && ts < s.End).ToList();
                    var merged = new Session
                    {
                        Start = overlapping.Select(s => s.Start).Append(ts).Min(),
                        End = overlapping.Select(s => s.End).Append(ts + g).Max(),
                    };
                    merged.Readings.AddRange(overlapping.SelectMany(s => s.Readings));
                    merged.Readings.Add(r);
                    list.RemoveAll(overlapping.Contains);
                    list.Add(merged);
                    taken = true;
                }
                else
                {
                    var size = spec.Size;
                    var adv = spec.Advance;
                    var lastWs = FloorTo(ts, adv);
                    if (lastWs + size + l <= wm)
                    {
                        wholeLate.Add(spec.Label);
                        continue;
                    }
                    taken = true;
                    var partial = false;
                    for (var ws = FloorTo(ts - size, adv) + adv; ws <= lastWs; ws += adv)
                    {
                        if (ws + size + l <= wm)
                        {
                            partial = true;
                            continue;
                        }
                        var k = (r.SensorId, spec.Label, ws);
                        if (!Windows.TryGetValue(k, out var w))
                        {
                            Windows[k] = w = (ws + size, []);
                        }
                        w.Readings.Add(r);
                    }
                    if (partial)
                    {
                        Late.Add((r.Position, spec.Label, true));
                    }
                }
            }
            foreach (var label in wholeLate)
            {
                Late.Add((r.Position, label, taken));
            }
        }
        foreach (var ((key, si), list) in sessions)
        {
            foreach (var s in list)
            {
                Windows[(key, _specs[si].Label, s.Start)] = (s.End, s.Readings);
            }
        }
        return this;
    }

    private static long FloorTo(long a, long b) => (long)Math.Floor((double)a / b) * b;
}
