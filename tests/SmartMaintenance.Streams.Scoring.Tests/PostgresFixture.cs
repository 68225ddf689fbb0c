using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace SmartMaintenance.Streams.Scoring.Tests;

/// <summary>
/// A throwaway PostgreSQL server from Debian's binaries (initdb refuses root, so it runs as the postgres
/// user when we are root). Fails, never skips, when the server cannot be started.
/// </summary>
public sealed class PostgresFixture : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "smstream-scoring-pg-" + Guid.NewGuid().ToString("N")[..12]);
    private readonly string _bin;

    public PostgresFixture()
    {
        _bin = FindBin();
        Directory.CreateDirectory(_root);
        var data = Path.Combine(_root, "data");
        if (Environment.UserName == "root")
        {
            Run("chown", $"-R postgres:postgres {_root}", asPostgres: false);
        }
        Run(Path.Combine(_bin, "initdb"), $"-D {data} -A trust -U postgres --no-sync -E UTF8", asPostgres: true);
        Port = FreePort();
        Run(Path.Combine(_bin, "pg_ctl"),
            $"-D {data} -l {Path.Combine(_root, "server.log")} -w -t 60 -o \"-p {Port} -k {_root} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off\" start",
            asPostgres: true);
    }

    public int Port { get; }

    /// <summary>Creates a fresh database and returns a data source for it.</summary>
    public NpgsqlDataSource CreateDatabase()
    {
        var name = "scoring_" + Guid.NewGuid().ToString("N")[..12];
        using (var admin = NpgsqlDataSource.Create($"Host=127.0.0.1;Port={Port};Username=postgres;Database=postgres;Pooling=false"))
        using (var cmd = admin.CreateCommand($"CREATE DATABASE {name}"))
        {
            cmd.ExecuteNonQuery();
        }
        return NpgsqlDataSource.Create($"Host=127.0.0.1;Port={Port};Username=postgres;Database={name}");
    }

    private static string FindBin()
    {
        foreach (var candidate in new[] { "/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/17/bin" })
        {
            if (File.Exists(Path.Combine(candidate, "initdb")))
            {
                return candidate;
            }
        }
        throw new InvalidOperationException("PostgreSQL server binaries not found (apt-get install postgresql-15).");
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    private static void Run(string file, string args, bool asPostgres)
    {
        var psi = asPostgres && Environment.UserName == "root"
            ? new ProcessStartInfo("runuser", $"-u postgres -- {file} {args}")
            : new ProcessStartInfo(file, args);
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        psi.WorkingDirectory = Path.GetTempPath();
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"Could not start {file}.");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEnd();
        if (!p.WaitForExit(120_000) || p.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {args} failed ({(p.HasExited ? p.ExitCode : -1)}): {stderr} {stdout.Result}");
        }
    }

    public void Dispose()
    {
        try
        {
            Run(Path.Combine(_bin, "pg_ctl"), $"-D {Path.Combine(_root, "data")} -m immediate -w stop", asPostgres: true);
        }
        finally
        {
            Directory.Delete(_root, recursive: true);
        }
    }
}
