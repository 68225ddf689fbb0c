using System.Diagnostics;
using SmartMaintenance.Streams.Testing;
using Xunit;

namespace SmartMaintenance.Streams.Reliability.Tests;

/// <summary>Topics, consumer group and database of one fault test, and the <c>smstream run</c> processes working on them.</summary>
internal sealed class EngineRun(string bootstrap, string database, string input, string dlq, string alerts) : IDisposable
{
    private readonly List<SmstreamProcess> _processes = [];

    public string Group { get; } = "rel-" + Guid.NewGuid().ToString("N")[..10];
    public string Database => database;
    public string Input => input;
    public string Dlq => dlq;
    public string Alerts => alerts;
    public Ledger Ledger { get; } = new(database);

    /// <summary>Extra SMSTREAM_* variables for every engine started from now on.</summary>
    public Dictionary<string, string> Environment { get; } = new(StringComparer.Ordinal);

    public static EngineRun Create(KafkaFixture kafka, string database, int partitions = 6) => new(
        kafka.BootstrapServers, database,
        kafka.CreateUniqueTopic("rel-readings", partitions), kafka.CreateUniqueTopic("rel-dlq", 2), kafka.CreateUniqueTopic("rel-alerts", 2));

    public SmstreamProcess StartEngine()
    {
        var env = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["SMSTREAM_TOPICS__READINGS"] = input,
            ["SMSTREAM_TOPICS__READINGSDLQ"] = dlq,
            ["SMSTREAM_TOPICS__ALERTS"] = alerts,
            ["SMSTREAM_ENGINE__CONSUMERGROUP"] = Group,
            ["SMSTREAM_KAFKA__SESSIONTIMEOUTMS"] = "3000",
            ["SMSTREAM_KAFKA__HEARTBEATINTERVALMS"] = "500",
            ["SMSTREAM_STORAGE__BATCHMAXROWS"] = "2000",
            // Several engines run at once: each serves /metrics and /health on a free loopback port.
            ["SMSTREAM_HTTP__LISTEN"] = "127.0.0.1:0",
            // When the input stops, partitions turn idle quickly so the watermark releases the finished windows.
            ["SMSTREAM_WINDOWS__IDLETIMEOUT"] = "00:00:02",
            // Short warm-up so the input's spikes open alerts within a few hundred readings per sensor.
            ["SMSTREAM_SCORING__DEFAULTS__WARMUPREADINGS"] = "20",
            ["SMSTREAM_SCORING__DEFAULTS__SUPPRESSREADINGS"] = "10",
        };
        foreach (var (k, v) in Environment)
        {
            env[k] = v;
        }
        var p = SmstreamProcess.Start(["run", "--bootstrap", bootstrap, "--database", database], env);
        _processes.Add(p);
        return p;
    }

    /// <summary>Everything every engine of this run wrote to stdout/stderr.</summary>
    public string AllOutput => string.Join("\n----\n", _processes.Select(p => p.Output));

    public void Dispose()
    {
        foreach (var p in _processes)
        {
            p.Dispose();
        }
    }

    /// <summary>Polls until <paramref name="condition"/> holds; fails when <paramref name="timeout"/> passes or a live engine exits.</summary>
    public static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, params SmstreamProcess[] alive)
    {
        var sw = Stopwatch.StartNew();
        while (!await condition())
        {
            foreach (var p in alive)
            {
                Assert.False(p.HasExited, $"engine exited early with code {(p.HasExited ? p.ExitCode : 0)}:\n{p.Tail()}");
            }
            Assert.True(sw.Elapsed < timeout, $"condition not met within {timeout}; last engine output:\n{(alive.Length > 0 ? alive[^1].Tail() : "")}");
            await Task.Delay(100);
        }
    }
}
