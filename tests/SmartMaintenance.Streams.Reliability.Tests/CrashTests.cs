using System.Text.Json;
using SmartMaintenance.Streams.Testing;
using Xunit;
using Xunit.Abstractions;

namespace SmartMaintenance.Streams.Reliability.Tests;

[Collection(ServicesCollection.Name)]
public sealed class CrashTests(KafkaFixture kafka, PostgresFixture postgres, ITestOutputHelper output)
{
    [Fact]
    public async Task Engine_sigkilled_at_random_moments_and_restarted_stores_the_input_exactly_once()
    {
        var total = Scale.Readings;
        var kills = Scale.Kills;
        var random = new Random(Scale.Seed);
        using var run = EngineRun.Create(kafka, await postgres.CreateDatabaseAsync());
        var producing = Input.ProduceLiveAsync(kafka, run.Input, total, Scale.ProduceOver);

        var killedAt = new List<long>();
        for (var k = 0; k < kills; k++)
        {
            using var engine = run.StartEngine();
            // A random moment while the engine is writing: wait for its first commit, then up to 2 s more.
            var before = await run.Ledger.CountAsync();
            await EngineRun.WaitUntilAsync(async () => await run.Ledger.CountAsync() > before || producing.IsCompleted && await run.Ledger.CountAsync() >= total,
                Scale.Budget(60), engine);
            var delay = TimeSpan.FromMilliseconds(random.Next(0, 2_000));
            await Task.Delay(delay);
            Assert.False(engine.HasExited, $"engine exited by itself before kill {k + 1}:\n{engine.Tail()}");
            await engine.KillAsync();
            killedAt.Add(await run.Ledger.CountAsync());
            output.WriteLine($"kill {k + 1}, {delay.TotalSeconds:F1} s after a commit: {killedAt[^1]} readings stored");
        }
        await producing;

        using (var last = run.StartEngine())
        {
            await EngineRun.WaitUntilAsync(async () => await run.Ledger.CountAsync() >= total, Scale.Budget(120), last);
            // Idle past the idle timeout: windows are released, and a duplicate write would show up now.
            await Task.Delay(5000);
            await last.TerminateAsync(TimeSpan.FromSeconds(60));
            Assert.True(last.ExitCode == 0, $"exit code {last.ExitCode} after SIGTERM; output:\n{last.Tail()}");
        }

        await run.Ledger.AssertExactlyAsync(total);
        Assert.Equal(total, await run.Ledger.CommittedMessagesAsync(run.Group));
        var (finals, windows) = await run.Ledger.AssertAggregatesRecomputeAsync();
        output.WriteLine($"readings {total}, kills {kills}, aggregates final {finals} of {windows} windows");

        // Alerts: the database holds each alert id once (primary key); every one of them reached the alerts topic.
        // The topic is at-least-once: a batch killed after producing its alerts but before committing republishes
        // the same alert_id and revision after restart, which the notifier's delivery log deduplicates.
        var stored = await run.Ledger.AlertIdsAsync();
        var published = await kafka.ConsumeAllAsync(run.Alerts, idle: TimeSpan.FromSeconds(2));
        var publishedIds = published.Select(m => JsonDocument.Parse(m.Value).RootElement.GetProperty("alert_id").GetString()!).ToHashSet(StringComparer.Ordinal);
        Assert.NotEmpty(stored);
        Assert.Empty(stored.Except(publishedIds));
        Assert.Empty(publishedIds.Except(stored));
        var repeats = published.GroupBy(m =>
        {
            var root = JsonDocument.Parse(m.Value).RootElement;
            return (root.GetProperty("alert_id").GetString(), root.GetProperty("revision").GetInt32(), root.GetProperty("status").GetString());
        }).Count(g => g.Count() > 1);
        output.WriteLine($"alerts: {stored.Count} ids stored, {published.Count} events published, {repeats} (id, revision) republished after a kill");
    }
}
