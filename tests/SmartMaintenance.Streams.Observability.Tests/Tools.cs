using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace SmartMaintenance.Streams.Observability.Tests;

/// <summary>External programs the tests need (Debian's prometheus/promtool, docker-compose). Missing ones fail the test
/// with the install command; they are never skipped.</summary>
internal static class Tools
{
    public static string Require(string name, string package)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        throw new InvalidOperationException(
            $"'{name}' is not installed; the observability tests need it. Install it with: apt-get install -y --no-install-recommends {package} (scripts/ensure-deps.sh {package})");
    }

    public static async Task<(int ExitCode, string Output)> RunAsync(string file, IEnumerable<string> args, string? workingDirectory = null, TimeSpan? timeout = null)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Repo.Root,
        };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        using var process = Process.Start(psi) ?? throw new InvalidOperationException("cannot start " + file);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(cts.Token);
        return (process.ExitCode, await stdout + await stderr);
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public static string Lines(IEnumerable<string> lines)
    {
        var sb = new StringBuilder();
        foreach (var l in lines)
        {
            sb.AppendLine(l);
        }
        return sb.ToString();
    }
}
