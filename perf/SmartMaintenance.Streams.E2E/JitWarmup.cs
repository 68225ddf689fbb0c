using System.Globalization;
using System.Runtime;

namespace SmartMaintenance.Streams.E2E;

/// <summary>
/// Runs a stage untimed until the JIT has nothing left to do, so the timed run measures the steady state of a process
/// that has been running for hours: tiered compilation promotes hot methods (tier 0 → instrumented → tier 1 with the
/// PGO profile) in the background for seconds after they first run, and a single 300,000-reading warm-up on a smaller
/// topic left 1,900 methods and 1.2–1.9 µs of JIT CPU per reading in the timed window (docs/performance.md).
/// </summary>
internal static class JitWarmup
{
    /// <summary>Runs <paramref name="pass"/> until one compiles fewer than <paramref name="quietMethods"/> methods (at most
    /// <paramref name="maxPasses"/> times), then waits for the background compiler to finish its queue.</summary>
    public static async Task RunAsync(string stage, Func<Task> pass, int maxPasses, int quietMethods)
    {
        for (var i = 0; i < maxPasses; i++)
        {
            var before = JitSample.Take();
            await pass().ConfigureAwait(false);
            var compiled = JitSample.Take().Methods - before.Methods;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"WARM stage={stage} pass={i} {before.Since()}"));
            if (compiled < quietMethods)
            {
                break;
            }
        }
        await WaitQuietAsync().ConfigureAwait(false);
    }

    /// <summary>Until no method was compiled for 1 s (at most 15 s): promotions queued by the last pass finish untimed.</summary>
    public static async Task WaitQuietAsync()
    {
        var last = JitSample.Take().Methods;
        var quietFor = 0;
        for (var waited = 0; waited < 15_000 && quietFor < 1000; waited += 250)
        {
            await Task.Delay(250).ConfigureAwait(false);
            var now = JitSample.Take().Methods;
            quietFor = now == last ? quietFor + 250 : 0;
            last = now;
        }
    }
}

/// <summary>The runtime's own JIT counters: methods compiled and time spent compiling, process-wide.</summary>
internal readonly record struct JitSample(long Methods, TimeSpan Time)
{
    public static JitSample Take() => new(JitInfo.GetCompiledMethodCount(), JitInfo.GetCompilationTime());

    public string Since()
    {
        var now = Take();
        return string.Create(CultureInfo.InvariantCulture, $"jit_methods={now.Methods - Methods} jit_ms={(now.Time - Time).TotalMilliseconds:F0}");
    }
}
