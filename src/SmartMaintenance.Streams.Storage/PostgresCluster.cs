using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace SmartMaintenance.Streams.Storage;

/// <summary>Options of a throwaway PostgreSQL cluster.</summary>
public sealed class PostgresClusterOptions
{
    /// <summary>Data directory; created (and initdb'd) when empty or absent.</summary>
    public required string DataDirectory { get; init; }

    /// <summary>TCP port on 127.0.0.1; 0 picks a free one at start.</summary>
    public int Port { get; init; }

    /// <summary>Picks the port when <see cref="Port"/> is 0; null asks the OS for a free ephemeral port. Whatever it
    /// returns may be taken by another process before the server binds it; the start then picks again.</summary>
    public Func<int>? PickPort { get; init; }

    /// <summary>Server binaries (initdb, pg_ctl); null finds the highest /usr/lib/postgresql/&lt;ver&gt;/bin.</summary>
    public string? BinDirectory { get; init; }

    /// <summary>Extra postgresql.conf lines appended after the throwaway tuning.</summary>
    public IReadOnlyList<string> ExtraSettings { get; init; } = [];

    /// <summary>Preload TimescaleDB (shared_preload_libraries) when the server's library directory has it, so
    /// migrations choose TimescaleDB mode; the extension refuses CREATE EXTENSION without it.</summary>
    public bool PreloadTimescaleDb { get; init; } = true;
}

/// <summary>PostgreSQL cannot be started because its server binaries are not installed.</summary>
/// <remarks>The message is exactly the command that installs them, so scripts and humans can act on it.</remarks>
public sealed class PostgresNotInstalledException : Exception
{
    public const string InstallCommand = "apt-get install -y --no-install-recommends postgresql-15";

    public PostgresNotInstalledException() : base(InstallCommand)
    {
    }

    public PostgresNotInstalledException(string message) : base(message)
    {
    }

    public PostgresNotInstalledException(string message, Exception innerException) : base(message, innerException)
    {
    }
}

/// <summary>A throwaway PostgreSQL cluster run from Debian's server binaries (dev, tests, CI).</summary>
/// <remarks>Tuned for speed, not durability (fsync off). initdb refuses to run as root, so as root the
/// server tools run as the <c>postgres</c> user via runuser, in a data directory owned by it.</remarks>
public sealed class PostgresCluster : IAsyncDisposable
{
    private const string ServiceUser = "postgres";
    private static readonly string[] ThrowawayTuning =
    [
        "listen_addresses = '127.0.0.1'",
        "fsync = off",
        "synchronous_commit = off",
        "full_page_writes = off",
        "shared_buffers = 256MB",
        "max_wal_size = 4GB",
        "max_connections = 200",
        "checkpoint_timeout = 30min",
        "log_min_messages = warning",
        "log_min_error_statement = panic",
    ];

    private readonly PostgresClusterOptions _options;
    private readonly bool _asRoot;

    public PostgresCluster(PostgresClusterOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrWhiteSpace(options.DataDirectory);
        ArgumentOutOfRangeException.ThrowIfNegative(options.Port);
        _options = options;
        DataDirectory = Path.GetFullPath(options.DataDirectory);
        BinDirectory = options.BinDirectory ?? FindBinDirectory() ?? throw new PostgresNotInstalledException();
        if (!File.Exists(Path.Combine(BinDirectory, "initdb")) || !File.Exists(Path.Combine(BinDirectory, "pg_ctl")))
        {
            throw new PostgresNotInstalledException();
        }
        _asRoot = string.Equals(Environment.UserName, "root", StringComparison.Ordinal);
        Port = options.Port;
    }

    public string DataDirectory { get; }

    public string BinDirectory { get; }

    /// <summary>The port the server listens on (known after <see cref="StartAsync"/> when 0 was asked for).</summary>
    public int Port { get; private set; }

    public string LogFile => Path.Combine(DataDirectory, "server.log");

    /// <summary>Connection string of the <c>postgres</c> database (trust auth, user postgres).</summary>
    public string ConnectionString => ConnectionStringFor("postgres");

    public string ConnectionStringFor(string database) =>
        string.Create(CultureInfo.InvariantCulture, $"Host=127.0.0.1;Port={Port};Username=postgres;Database={database}");

    /// <summary>Highest installed server version's bin directory, or null when none has initdb.</summary>
    public static string? FindBinDirectory(string root = "/usr/lib/postgresql")
    {
        if (!Directory.Exists(root))
        {
            return null;
        }
        string? best = null;
        var bestVersion = -1.0;
        foreach (var dir in Directory.EnumerateDirectories(root))
        {
            var bin = Path.Combine(dir, "bin");
            if (double.TryParse(Path.GetFileName(dir), NumberStyles.Float, CultureInfo.InvariantCulture, out var v)
                && v > bestVersion && File.Exists(Path.Combine(bin, "initdb")) && File.Exists(Path.Combine(bin, "pg_ctl")))
            {
                best = bin;
                bestVersion = v;
            }
        }
        return best;
    }

    /// <summary>True when the server next to <paramref name="binDirectory"/> has the TimescaleDB library
    /// (Debian: /usr/lib/postgresql/&lt;ver&gt;/lib/timescaledb.so, from the timescaledb-2-postgresql-&lt;ver&gt; package).</summary>
    public static bool HasTimescaleDb(string binDirectory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(binDirectory);
        var lib = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(binDirectory).TrimEnd('/')) ?? binDirectory, "lib");
        return File.Exists(Path.Combine(lib, "timescaledb.so"));
    }

    /// <summary>initdb when the data directory is empty, start the server, wait until it accepts connections.</summary>
    /// <returns>The connection string of the <c>postgres</c> database.</returns>
    public async Task<string> StartAsync(CancellationToken ct = default)
    {
        var portChosenHere = Port == 0;
        if (portChosenHere)
        {
            Port = (_options.PickPort ?? FreePort)();
        }
        Directory.CreateDirectory(DataDirectory);
        if (!File.Exists(Path.Combine(DataDirectory, "PG_VERSION")))
        {
            if (Directory.EnumerateFileSystemEntries(DataDirectory).Any())
            {
                throw new InvalidOperationException($"Data directory {DataDirectory} is neither empty nor a PostgreSQL cluster.");
            }
            await ChownAsync(DataDirectory, ct).ConfigureAwait(false);
            await RunToolAsync("initdb", ["-D", DataDirectory, "-U", ServiceUser, "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"], ct).ConfigureAwait(false);
            var conf = new StringBuilder().AppendLine().AppendLine("# smstream throwaway cluster");
            foreach (var line in ThrowawayTuning)
            {
                conf.AppendLine(line);
            }
            conf.AppendLine(CultureInfo.InvariantCulture, $"unix_socket_directories = '{DataDirectory.Replace("'", "''", StringComparison.Ordinal)}'");
            if (_options.PreloadTimescaleDb && HasTimescaleDb(BinDirectory))
            {
                conf.AppendLine("shared_preload_libraries = 'timescaledb'");
            }
            foreach (var line in _options.ExtraSettings)
            {
                conf.AppendLine(line);
            }
            await File.AppendAllTextAsync(Path.Combine(DataDirectory, "postgresql.conf"), conf.ToString(), ct).ConfigureAwait(false);
        }
        if (!File.Exists(LogFile))
        {
            await File.WriteAllTextAsync(LogFile, "", ct).ConfigureAwait(false);
        }
        await ChownAsync(LogFile, ct).ConfigureAwait(false);
        for (var attempt = 1; ; attempt++)
        {
            var logLength = new FileInfo(LogFile).Length;
            try
            {
                await RunToolAsync("pg_ctl", ["start", "-D", DataDirectory, "-l", LogFile, "-w", "-t", "120", "-o", $"-p {Port.ToString(CultureInfo.InvariantCulture)}"], ct).ConfigureAwait(false);
                return ConnectionString;
            }
            catch (InvalidOperationException) when (portChosenHere && attempt < MaxPortAttempts && LostPortRace(logLength))
            {
                // The free port we probed was taken (by another process starting on this box) before the server bound
                // it: a probe cannot reserve a port, so pick another one rather than fail the caller.
                Port = (_options.PickPort ?? FreePort)();
            }
        }
    }

    private const int MaxPortAttempts = 5;

    /// <summary>True when the server's log since <paramref name="from"/> says its port was already in use.</summary>
    private bool LostPortRace(long from)
    {
        using var stream = new FileStream(LogFile, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        stream.Seek(Math.Min(from, stream.Length), SeekOrigin.Begin);
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd().Contains("Address already in use", StringComparison.Ordinal);
    }

    /// <summary>True when a server is running on this data directory (<c>pg_ctl status</c>); then <see cref="Port"/> is its port.</summary>
    public async Task<bool> IsRunningAsync(CancellationToken ct = default)
    {
        if (!File.Exists(Path.Combine(DataDirectory, "postmaster.pid")))
        {
            return false;
        }
        try
        {
            await RunToolAsync("pg_ctl", ["status", "-D", DataDirectory], ct).ConfigureAwait(false);
            // Line 4 of postmaster.pid is the port the running server listens on.
            var lines = await File.ReadAllLinesAsync(Path.Combine(DataDirectory, "postmaster.pid"), ct).ConfigureAwait(false);
            if (lines.Length > 3 && int.TryParse(lines[3], NumberStyles.Integer, CultureInfo.InvariantCulture, out var port))
            {
                Port = port;
            }
            return true;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    /// <summary>Fast shutdown (open transactions are rolled back); no-op when not running.</summary>
    public async Task StopAsync(CancellationToken ct = default)
    {
        if (!File.Exists(Path.Combine(DataDirectory, "postmaster.pid")))
        {
            return;
        }
        await RunToolAsync("pg_ctl", ["stop", "-D", DataDirectory, "-m", "fast", "-w", "-t", "60"], ct).ConfigureAwait(false);
    }

    /// <summary>Stops the server and deletes the data directory.</summary>
    public async Task DestroyAsync(CancellationToken ct = default)
    {
        if (Directory.Exists(DataDirectory))
        {
            await StopAsync(ct).ConfigureAwait(false);
            Directory.Delete(DataDirectory, recursive: true);
        }
    }

    public async ValueTask DisposeAsync() => await DestroyAsync().ConfigureAwait(false);

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private Task ChownAsync(string path, CancellationToken ct) =>
        _asRoot ? RunAsync("chown", ["-R", $"{ServiceUser}:{ServiceUser}", path], ct) : Task.CompletedTask;

    private Task RunToolAsync(string tool, IReadOnlyList<string> args, CancellationToken ct)
    {
        var exe = Path.Combine(BinDirectory, tool);
        // initdb and postgres refuse root; runuser drops to the service user without a password.
        return _asRoot ? RunAsync("runuser", ["-u", ServiceUser, "--", exe, .. args], ct) : RunAsync(exe, args, ct);
    }

    private async Task RunAsync(string fileName, IReadOnlyList<string> args, CancellationToken ct)
    {
        var psi = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetTempPath(),
        };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        using var process = Process.Start(psi) ?? throw new InvalidOperationException($"Could not start {fileName}.");
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync(ct);
        var stderr = process.StandardError.ReadToEndAsync(ct);
        await process.WaitForExitAsync(ct).ConfigureAwait(false);
        var output = (await stdout.ConfigureAwait(false)) + (await stderr.ConfigureAwait(false));
        if (process.ExitCode != 0)
        {
            var log = File.Exists(LogFile) ? await TailAsync(LogFile).ConfigureAwait(false) : "";
            throw new InvalidOperationException(
                $"`{fileName} {string.Join(' ', args)}` exited with {process.ExitCode}: {output.Trim()}{(log.Length > 0 ? $"\nserver log:\n{log}" : "")}");
        }
    }

    private static async Task<string> TailAsync(string path)
    {
        var lines = await File.ReadAllLinesAsync(path).ConfigureAwait(false);
        return string.Join('\n', lines.Skip(Math.Max(0, lines.Length - 20)));
    }
}
