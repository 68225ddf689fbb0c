using System.Diagnostics;
using System.Globalization;

namespace SmartMaintenance.Streams.E2E;

/// <summary>
/// With E2E_PERF=DIR, records every CPU of the box with <c>perf record -a -g</c> during one stage's timed window into
/// DIR/&lt;stage&gt;.data, and writes the PostgreSQL process ids of the cluster beside it (DIR/&lt;stage&gt;.pg-pids), so the
/// backends of (b) and (c) can be compared with <c>perf report -i DIR/copy.data --pid $(cat DIR/copy.pg-pids)</c>.
/// System-wide because the engine's writer connections are forked after the recording starts.
/// </summary>
internal sealed class PerfRecorder
{
    private readonly Process _perf;
    private readonly string _directory;
    private readonly string _stage;

    private PerfRecorder(Process perf, string directory, string stage)
    {
        _perf = perf;
        _directory = directory;
        _stage = stage;
    }

    public static PerfRecorder? Start(string stage)
    {
        if (Environment.GetEnvironmentVariable("E2E_PERF") is not { Length: > 0 } directory)
        {
            return null;
        }
        Directory.CreateDirectory(directory);
        var psi = new ProcessStartInfo("perf", ["record", "-a", "-g", "-F", "499", "-o", Path.Combine(directory, stage + ".data")])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        var perf = Process.Start(psi) ?? throw new InvalidOperationException("perf did not start");
        // perf needs a moment to open its events on every CPU.
        Thread.Sleep(500);
        return new PerfRecorder(perf, directory, stage);
    }

    /// <summary>Stops the recording (SIGINT, as Ctrl-C) and writes the cluster's process ids.</summary>
    public void Stop(string? pgDataDirectory)
    {
        if (PostgresProcesses.Postmaster(pgDataDirectory) is { } postmaster)
        {
            var pids = new List<int> { postmaster };
            foreach (var (pid, _, _) in PostgresProcesses.Children(postmaster))
            {
                pids.Add(pid);
            }
            File.WriteAllText(Path.Combine(_directory, _stage + ".pg-pids"), string.Join(',', pids));
        }
        File.WriteAllText(Path.Combine(_directory, _stage + ".self-pid"), Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
        using var kill = Process.Start("kill", ["-INT", _perf.Id.ToString(CultureInfo.InvariantCulture)]);
        kill?.WaitForExit();
        _perf.WaitForExit();
    }
}
