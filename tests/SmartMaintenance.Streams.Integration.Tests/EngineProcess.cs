using System.Diagnostics;
using System.Globalization;
using SmartMaintenance.Streams.Testing;
using Xunit;

namespace SmartMaintenance.Streams.Integration.Tests;

/// <summary>`smstream run` as a child process (so a test can SIGKILL it), and waiting on it.</summary>
internal static class EngineProcess
{
    /// <summary>Starts the engine on the given topics, group and database; <paramref name="environment"/> adds or overrides SMSTREAM_* settings.</summary>
    public static Process Start(KafkaFixture kafka, string input, string dlq, string alerts, string group, string db,
        IEnumerable<KeyValuePair<string, string>>? environment = null)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "smstream.dll"));
        psi.ArgumentList.Add("run");
        psi.ArgumentList.Add("--bootstrap");
        psi.ArgumentList.Add(kafka.BootstrapServers);
        psi.ArgumentList.Add("--database");
        psi.ArgumentList.Add(db);
        psi.Environment["SMSTREAM_TOPICS__READINGS"] = input;
        psi.Environment["SMSTREAM_TOPICS__READINGSDLQ"] = dlq;
        psi.Environment["SMSTREAM_TOPICS__ALERTS"] = alerts;
        psi.Environment["SMSTREAM_ENGINE__CONSUMERGROUP"] = group;
        psi.Environment["SMSTREAM_KAFKA__SESSIONTIMEOUTMS"] = "6000";
        psi.Environment["SMSTREAM_STORAGE__BATCHMAXROWS"] = "2000";
        // When the input stops, partitions turn idle quickly so the watermark releases the finished windows.
        psi.Environment["SMSTREAM_WINDOWS__IDLETIMEOUT"] = "00:00:02";
        foreach (var (name, value) in environment ?? [])
        {
            psi.Environment[name] = value;
        }
        var p = Process.Start(psi)!;
        p.OutputDataReceived += (_, _) => { };
        p.ErrorDataReceived += (_, _) => { };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }

    /// <summary>SIGTERM, then the exit code must be 0 (graceful: flushed, committed, left the group).</summary>
    public static async Task StopGracefullyAsync(Process p)
    {
        using (var kill = Process.Start("kill", ["-TERM", p.Id.ToString(CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(40));
        await p.WaitForExitAsync(timeout.Token);
        Assert.Equal(0, p.ExitCode);
    }

    /// <summary>Polls <paramref name="condition"/>; fails when the process exits first or the time is up.</summary>
    public static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, Process process)
    {
        var sw = Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.False(process.HasExited, $"engine process exited early with code {(process.HasExited ? process.ExitCode : 0)}");
            Assert.True(sw.Elapsed < timeout, $"condition not met within {timeout}");
            await Task.Delay(100);
        }
    }
}
