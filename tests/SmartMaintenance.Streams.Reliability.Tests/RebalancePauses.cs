using System.Globalization;
using Npgsql;

namespace SmartMaintenance.Streams.Reliability.Tests;

/// <summary>A moved partition's pause: from its revoke (or its owner's SIGKILL) to the first commit of its new owner.</summary>
internal sealed record PartitionPause(int Step, int Partition, bool AfterKill, TimeSpan ToAssigned, TimeSpan ToFirstCommit);

/// <summary>
/// Measures rebalance pauses of a fault run: a trigger on stream_offsets logs every commit's partition and wall-clock
/// time (the engine writes a partition's offsets in the transaction of its rows), and the engines' log lines say
/// when a partition was revoked and when, and by whom, it was assigned next.
/// </summary>
internal static class RebalancePauses
{
    public static async Task InstallAsync(string database)
    {
        const string sql = """
            CREATE TABLE rel_commit_log (partition int NOT NULL, next_offset bigint NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp());
            CREATE FUNCTION rel_commit_log_row() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN INSERT INTO rel_commit_log (partition, next_offset) VALUES (NEW.partition, NEW.next_offset); RETURN NEW; END $$;
            CREATE TRIGGER rel_commit_log AFTER INSERT OR UPDATE ON stream_offsets FOR EACH ROW EXECUTE FUNCTION rel_commit_log_row();
            """;
        await using var conn = new NpgsqlConnection(database);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, conn);
        await cmd.ExecuteNonQueryAsync();
    }

    /// <summary>Pauses of every partition moved by a revoke or a kill. <paramref name="steps"/>: start time of each scale
    /// step, ascending; <paramref name="kills"/>: instance and time of each SIGKILL.</summary>
    public static async Task<List<PartitionPause>> MeasureAsync(string database, IReadOnlyList<PartitionEvent> events,
        IReadOnlyList<DateTime> steps, IReadOnlyList<(int Instance, DateTime At, IReadOnlyCollection<int> Held)> kills)
    {
        var commits = new Dictionary<int, List<DateTime>>();
        await using (var conn = new NpgsqlConnection(database))
        {
            await conn.OpenAsync();
            await using var cmd = new NpgsqlCommand("SELECT partition, at FROM rel_commit_log ORDER BY at", conn);
            await using var reader = await cmd.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                var p = reader.GetInt32(0);
                if (!commits.TryGetValue(p, out var list))
                {
                    commits[p] = list = [];
                }
                list.Add(reader.GetFieldValue<DateTime>(1).ToUniversalTime());
            }
        }
        var ordered = events.OrderBy(e => e.At).ToList();
        var pauses = new List<PartitionPause>();

        void Add(int partition, DateTime from, bool afterKill)
        {
            // The next owner: the first assignment of the partition at or after the move (cooperative protocol: the old
            // owner's revoke, with its last commit, completes before anyone is assigned the partition).
            var next = ordered.FirstOrDefault(e => e.Kind == "assigned" && e.At >= from.AddMilliseconds(-1) && e.Partitions.Contains(partition));
            if (next is null || !commits.TryGetValue(partition, out var list))
            {
                return;
            }
            var first = list.FirstOrDefault(t => t > next.At);
            if (first == default)
            {
                return;
            }
            var step = steps.Count(s => s <= from) - 1;
            pauses.Add(new PartitionPause(step, partition, afterKill, next.At - from, first - from));
        }

        foreach (var e in ordered.Where(e => e.Kind == "revoked"))
        {
            foreach (var p in e.Partitions)
            {
                Add(p, e.At, afterKill: false);
            }
        }
        foreach (var (_, at, held) in kills)
        {
            foreach (var p in held)
            {
                Add(p, at, afterKill: true);
            }
        }
        return pauses;
    }

    /// <summary>Lines for the test output (scripts/reliability collects those starting with "rebalance").</summary>
    public static IEnumerable<string> Describe(IReadOnlyList<PartitionPause> pauses)
    {
        var revoked = pauses.Where(p => !p.AfterKill).ToList();
        var perStep = revoked.GroupBy(p => p.Step).Select(g => g.Max(p => p.ToFirstCommit)).ToList();
        yield return $"rebalance pause per moved partition (revoke → first commit on the new owner), {revoked.Count} moves: {Stats(revoked.Select(p => p.ToFirstCommit))}";
        yield return $"rebalance pause of the slowest partition per rebalance, {perStep.Count} rebalances: {Stats(perStep)}";
        yield return $"rebalance revoke → assigned on the new owner, {revoked.Count} moves: {Stats(revoked.Select(p => p.ToAssigned))}";
        var killed = pauses.Where(p => p.AfterKill).ToList();
        if (killed.Count > 0)
        {
            yield return $"rebalance after SIGKILL (kill → first commit on the new owner), {killed.Count} partitions: {Stats(killed.Select(p => p.ToFirstCommit))}";
        }
    }

    private static string Stats(IEnumerable<TimeSpan> values)
    {
        var sorted = values.Select(v => v.TotalMilliseconds).Order().ToList();
        if (sorted.Count == 0)
        {
            return "none measured";
        }
        double Rank(double q) => sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Count) - 1, 0, sorted.Count - 1)];
        return string.Create(CultureInfo.InvariantCulture, $"p50 {Rank(0.5):F0} ms, p99 {Rank(0.99):F0} ms, max {sorted[^1]:F0} ms");
    }
}
