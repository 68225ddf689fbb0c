using System.Diagnostics;

namespace SmartMaintenance.Streams.Testing;

/// <summary>Runs the real `smstream` (smstream.dll, copied beside the tests of every project that references the Cli).</summary>
public static class SmstreamCli
{
    public static string Dll => Path.Combine(AppContext.BaseDirectory, "smstream.dll");

    /// <summary>Runs a command to completion; returns exit code, standard output and standard error.</summary>
    public static async Task<(int Exit, string Out, string Err)> RunAsync(IDictionary<string, string>? env, TimeSpan timeout, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Dll);
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        foreach (var (k, v) in env ?? new Dictionary<string, string>())
        {
            psi.Environment[k] = v;
        }
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        await p.WaitForExitAsync(cts.Token);
        return (p.ExitCode, await stdout, await stderr);
    }
}

/// <summary>Where the repository and the shared data beside it are, found upwards from the test binaries.</summary>
public static class RepositoryPaths
{
    /// <summary>The folder holding SmartMaintenance.Streams.sln.</summary>
    public static string Root() => Upwards(dir => File.Exists(Path.Combine(dir, "SmartMaintenance.Streams.sln")) ? dir : null)
        ?? throw new InvalidOperationException("SmartMaintenance.Streams.sln not found above " + AppContext.BaseDirectory);

    /// <summary>The NAB development subset vendored in the repository (tests/data/nab-dev).</summary>
    public static string NabDev() => Path.Combine(Root(), "tests", "data", "nab-dev") is var p && Directory.Exists(p)
        ? p
        : throw new DirectoryNotFoundException("tests/data/nab-dev (the vendored NAB development subset) is missing from the repository.");

    private static string? Upwards(Func<string, string?> probe)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (probe(dir.FullName) is { } found)
            {
                return found;
            }
        }
        return null;
    }
}
