using System.Diagnostics;
using System.Text.Json;
using SmartMaintenance.Streams.Testing;
using Xunit;
using Xunit.Abstractions;

namespace SmartMaintenance.Streams.Reliability.Tests;

/// <summary>Many engines on one group: scaled out and in while readings flow, one of them SIGKILLed mid-rebalance.</summary>
[Collection(ServicesCollection.Name)]
public sealed class ScaleOutTests(KafkaFixture kafka, PostgresFixture postgres, ITestOutputHelper output)
{
    private const int Partitions = 24;

    [Fact]
    public async Task Four_engines_scaled_1_4_2_4_1_with_a_sigkill_mid_rebalance_store_every_reading_once_and_publish_the_alerts_of_one_engine()
    {
        var total = Scale.Readings;
        var cycles = Scale.ScaleCycles;
        var database = await postgres.CreateDatabaseAsync();
        await RebalancePauses.InstallAsync(database);
        using var run = EngineRun.Create(kafka, database, partitions: Partitions);
        // Readings flow during the whole schedule (about 25 s of rebalancing per cycle here).
        var over = TimeSpan.FromSeconds(Math.Max(Scale.ProduceOver.TotalSeconds, 30 * cycles));
        var producing = Input.ProduceLiveAsync(kafka, run.Input, total, over);

        var live = new List<SmstreamProcess>();
        var all = new List<SmstreamProcess>();
        var steps = new List<DateTime>();
        var kills = new List<(int Instance, DateTime At, IReadOnlyCollection<int> Held)>();
        SmstreamProcess Start()
        {
            var engine = run.StartEngine();
            live.Add(engine);
            all.Add(engine);
            return engine;
        }
        async Task SettledAsync(string step)
        {
            var sw = Stopwatch.StartNew();
            await EngineRun.WaitUntilAsync(() => Task.FromResult(Ownership.Settled(live, Partitions)), Scale.Budget(90), [.. live]);
            output.WriteLine($"scaled to {live.Count} ({step}) in {sw.Elapsed.TotalSeconds:F1} s: {await run.Ledger.CountAsync()} readings stored so far");
        }
        async Task StopAsync(int count)
        {
            var leaving = live.Take(count).ToList();
            live.RemoveAll(leaving.Contains);
            foreach (var stop in await Task.WhenAll(leaving.Select(e => e.TerminateAsync(TimeSpan.FromSeconds(60)))))
            {
                Assert.True(stop < TimeSpan.FromSeconds(45), $"a graceful stop took {stop}");
            }
            Assert.All(leaving, e => Assert.Equal(0, e.ExitCode));
        }

        steps.Add(DateTime.UtcNow);
        var first = Start();
        await SettledAsync("start");
        await EngineRun.WaitUntilAsync(async () => await run.Ledger.CountAsync() > 0, Scale.Budget(60), first);
        for (var cycle = 0; cycle < cycles; cycle++)
        {
            steps.Add(DateTime.UtcNow);
            Start();
            Start();
            Start();
            await SettledAsync("1→4");

            steps.Add(DateTime.UtcNow);
            await StopAsync(2);
            await SettledAsync("4→2");

            // 2→4, and one of the two old engines SIGKILLed while the group rebalances for the newcomers.
            steps.Add(DateTime.UtcNow);
            var old = live.ToList();
            var revokesBefore = old.Sum(e => Ownership.Events(0, e.Output).Count(x => x.Kind == "revoked"));
            var joined = new[] { Start(), Start() };
            await EngineRun.WaitUntilAsync(() => Task.FromResult(
                    old.Sum(e => Ownership.Events(0, e.Output).Count(x => x.Kind == "revoked")) > revokesBefore
                    || joined.Any(e => Ownership.Held(e.Output).Count > 0)),
                Scale.Budget(60), [.. live]);
            var victim = old[0];
            var held = Ownership.Held(victim.Output);
            var killedAt = DateTime.UtcNow;
            await victim.KillAsync();
            kills.Add((all.IndexOf(victim), killedAt, held));
            live.Remove(victim);
            output.WriteLine($"kill mid-rebalance: engine {all.IndexOf(victim)} held {held.Count} partitions");
            steps.Add(DateTime.UtcNow);
            Start();
            await SettledAsync("2→4 with a SIGKILL and its replacement");

            // 4→1 one engine at a time, as the autoscaler's scale-down policy does.
            for (var n = 3; n >= 1; n--)
            {
                steps.Add(DateTime.UtcNow);
                await StopAsync(1);
                await SettledAsync($"{n + 1}→{n}");
            }
        }

        var last = live.Single();
        await producing;
        // Pauses of the schedule's rebalances (printed before the exactness checks, so a failing run reports them too).
        var pauses = await RebalancePauses.MeasureAsync(database, all.SelectMany((e, i) => Ownership.Events(i, e.Output)).ToList(), steps, kills);
        foreach (var line in RebalancePauses.Describe(pauses))
        {
            output.WriteLine(line);
        }
        var caughtUp = Stopwatch.StartNew();
        while (await run.Ledger.CountAsync() < total && caughtUp.Elapsed < Scale.Budget(120))
        {
            Assert.False(last.HasExited, last.Tail());
            await Task.Delay(200);
        }
        if (await run.Ledger.CountAsync() < total)
        {
            Assert.Fail($"{total - await run.Ledger.CountAsync()} readings not stored {caughtUp.Elapsed.TotalSeconds:F0} s after the input ended; "
                        + $"offsets of record cover {await run.Ledger.CommittedMessagesAsync(run.Group)} of {total} messages\n{await MissingAsync(run, total)}\n{last.Tail()}");
        }
        // Idle past the idle timeout: the last windows close and their aggregates and alerts are written.
        await Task.Delay(5000);
        await last.TerminateAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(0, last.ExitCode);
        output.WriteLine($"scaled 1→4→2→4→1 {cycles} time(s) with {all.Count} engine processes, {kills.Count} SIGKILL(s); readings {total}");

        await run.Ledger.AssertExactlyAsync(total);
        Assert.Equal(total, await run.Ledger.CommittedMessagesAsync(run.Group));
        var (finals, windows) = await run.Ledger.AssertAggregatesRecomputeAsync();
        output.WriteLine($"readings {total} stored once; aggregates final {finals} of {windows} windows equal a recompute");

        // Alerts: the same ids and events as one engine that read the same input alone, none lost, none extra.
        using var reference = new EngineRun(kafka.BootstrapServers, await postgres.CreateDatabaseAsync(), run.Input,
            kafka.CreateUniqueTopic("rel-dlq", 2), kafka.CreateUniqueTopic("rel-alerts", 2));
        using (var alone = reference.StartEngine())
        {
            await EngineRun.WaitUntilAsync(async () => await reference.Ledger.CountAsync() >= total, Scale.Budget(120), alone);
            await Task.Delay(5000);
            await alone.TerminateAsync(TimeSpan.FromSeconds(60));
        }
        var stored = (await run.Ledger.AlertIdsAsync()).ToHashSet(StringComparer.Ordinal);
        var expected = (await reference.Ledger.AlertIdsAsync()).ToHashSet(StringComparer.Ordinal);
        var published = await EventsAsync(run.Alerts);
        var publishedAlone = await EventsAsync(reference.Alerts);
        output.WriteLine($"alerts: {stored.Count} ids stored (one engine alone: {expected.Count}), {published.Count} events published, "
                         + $"{published.Count - published.Distinct().Count()} republished after the kill (same id and revision)");
        Assert.NotEmpty(expected);
        Assert.Empty(expected.Except(stored));
        Assert.Empty(stored.Except(expected));
        Assert.Equal(stored, published.Select(e => e.Id).ToHashSet(StringComparer.Ordinal));
        Assert.Equal(publishedAlone.ToHashSet(), published.ToHashSet());
    }

    /// <summary>Which readings are missing (seq i is sensor i % 200's reading i / 200) and what the DLQ holds, for a failure message.</summary>
    private async Task<string> MissingAsync(EngineRun run, int total)
    {
        var missing = await run.Ledger.ScalarAsync<string>(
            $"SELECT coalesce(string_agg(g::text, ',' ORDER BY g), '') FROM (SELECT g FROM generate_series(0, {total - 1}) g EXCEPT SELECT seq FROM readings ORDER BY 1 LIMIT 40) m");
        var dlq = await kafka.ConsumeAllAsync(run.Dlq, idle: TimeSpan.FromSeconds(2));
        var reasons = string.Join(", ", dlq.GroupBy(m => m.Header("dlq.reason") ?? "?").Select(g => $"{g.Key} {g.Count()}"));
        var samples = string.Join("\n", dlq.Take(5).Select(m => $"{m.Header("dlq.source.partition")}/{m.Header("dlq.source.offset")} {m.Header("dlq.reason")}: {m.Header("dlq.detail")} {m.ValueText}"));
        return $"missing seq (first 40): {missing}\nDLQ: {dlq.Count} records ({reasons})\n{samples}";
    }

    /// <summary>(alert id, revision, status) of every event on the topic, repeats included.</summary>
    private async Task<List<(string Id, int Revision, string Status)>> EventsAsync(string topic)
    {
        var messages = await kafka.ConsumeAllAsync(topic, idle: TimeSpan.FromSeconds(2));
        return [.. messages.Select(m =>
        {
            var root = JsonDocument.Parse(m.Value).RootElement;
            return (root.GetProperty("alert_id").GetString()!, root.GetProperty("revision").GetInt32(), root.GetProperty("status").GetString()!);
        })];
    }
}
