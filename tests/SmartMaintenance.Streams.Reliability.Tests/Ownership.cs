using System.Globalization;
using System.Text.RegularExpressions;

namespace SmartMaintenance.Streams.Reliability.Tests;

/// <summary>One "Partitions assigned/revoked/lost" line of an engine's log, with its UTC time.</summary>
internal sealed record PartitionEvent(int Instance, DateTime At, string Kind, IReadOnlyList<int> Partitions);

/// <summary>Which engine owns which partition, read from the engines' own log lines (cooperative assignment:
/// each line adds or removes only the partitions it names).</summary>
internal static partial class Ownership
{
    /// <summary>The partition events of one engine's output, in order.</summary>
    public static List<PartitionEvent> Events(int instance, string output)
    {
        var now = DateTime.UtcNow;
        var events = new List<PartitionEvent>();
        foreach (Match m in EventLine().Matches(output))
        {
            var clock = TimeSpan.ParseExact(m.Groups[1].Value, @"hh\:mm\:ss\.fff", CultureInfo.InvariantCulture);
            // The log carries the time of day only: the matching date is the latest one not after now.
            var at = now.Date + clock;
            if (at > now.AddMinutes(1))
            {
                at = at.AddDays(-1);
            }
            var partitions = m.Groups[3].Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(p => int.Parse(p, CultureInfo.InvariantCulture)).ToList();
            events.Add(new PartitionEvent(instance, DateTime.SpecifyKind(at, DateTimeKind.Utc), m.Groups[2].Value, partitions));
        }
        return events;
    }

    /// <summary>The partitions an engine holds after its log so far.</summary>
    public static HashSet<int> Held(string output)
    {
        var held = new HashSet<int>();
        foreach (var e in Events(0, output))
        {
            if (e.Kind == "assigned")
            {
                held.UnionWith(e.Partitions);
            }
            else
            {
                held.ExceptWith(e.Partitions);
            }
        }
        return held;
    }

    /// <summary>True when the live engines hold every partition exactly once between them and each holds at least one.</summary>
    public static bool Settled(IEnumerable<SmstreamProcess> live, int partitions)
    {
        var seen = new HashSet<int>();
        foreach (var engine in live)
        {
            var held = Held(engine.Output);
            if (held.Count == 0)
            {
                return false;
            }
            foreach (var p in held)
            {
                if (!seen.Add(p))
                {
                    return false;
                }
            }
        }
        return seen.Count == partitions;
    }

    [GeneratedRegex(@"^(\d\d:\d\d:\d\d\.\d{3}) .*?Partitions (assigned|revoked|lost): ([0-9, ]*)", RegexOptions.Multiline)]
    private static partial Regex EventLine();
}
