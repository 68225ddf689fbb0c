using System.Globalization;
using System.Text;
using Npgsql;

namespace SmartMaintenance.Streams.E2E;

/// <summary>
/// What PostgreSQL did during one stage (perf/e2e --pg-diag): statements (pg_stat_statements), WAL and buffer writes
/// (pg_stat_wal, pg_stat_bgwriter), autovacuum runs on the written tables, and what the client backends were waiting
/// on (pg_stat_activity sampled every 10 ms). Off by default: the extension and the sampler cost a little CPU, so the
/// figures perf/e2e reports are taken without them.
/// </summary>
internal sealed class PgDiag
{
    /// <summary>postgresql.conf lines the diagnostics need (the extension must be preloaded).</summary>
    public static readonly string[] Settings =
    [
        "shared_preload_libraries = 'pg_stat_statements'",
        "pg_stat_statements.track = all",
        "track_io_timing = on",
        "track_wal_io_timing = on",
        "log_autovacuum_min_duration = 0",
        "log_checkpoints = on",
    ];

    private const string CountersSql = """
        SELECT (SELECT wal_records FROM pg_stat_wal), (SELECT wal_bytes FROM pg_stat_wal), (SELECT wal_buffers_full FROM pg_stat_wal),
               (SELECT wal_write FROM pg_stat_wal), (SELECT wal_write_time FROM pg_stat_wal),
               (SELECT buffers_checkpoint FROM pg_stat_bgwriter), (SELECT buffers_clean FROM pg_stat_bgwriter),
               (SELECT buffers_backend FROM pg_stat_bgwriter), (SELECT buffers_alloc FROM pg_stat_bgwriter),
               (SELECT coalesce(sum(autovacuum_count + autoanalyze_count), 0) FROM pg_stat_all_tables),
               (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()),
               (SELECT blks_read FROM pg_stat_database WHERE datname = current_database()),
               (SELECT blks_hit FROM pg_stat_database WHERE datname = current_database())
        """;

    private static readonly string[] CounterNames =
        ["wal_records", "wal_bytes", "wal_buffers_full", "wal_write", "wal_write_ms", "buf_checkpoint", "buf_bgwriter", "buf_backend", "buf_alloc", "autovacuum_runs", "commits", "blks_read", "blks_hit"];

    private readonly NpgsqlDataSource _dataSource;
    private readonly string _logFile;
    private double[] _before = [];
    private long _logOffset;
    private readonly Dictionary<string, int> _waits = new(StringComparer.Ordinal);
    private int _samples;
    private CancellationTokenSource? _sampling;
    private Task? _sampler;

    private PgDiag(NpgsqlDataSource dataSource, string logFile)
    {
        _dataSource = dataSource;
        _logFile = logFile;
    }

    public static async Task<PgDiag> CreateAsync(NpgsqlDataSource dataSource, string logFile)
    {
        await using var cmd = dataSource.CreateCommand("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
        await cmd.ExecuteNonQueryAsync().ConfigureAwait(false);
        return new PgDiag(dataSource, logFile);
    }

    public async Task StartAsync()
    {
        await using (var reset = _dataSource.CreateCommand("SELECT pg_stat_statements_reset()"))
        {
            await reset.ExecuteNonQueryAsync().ConfigureAwait(false);
        }
        _before = await CountersAsync().ConfigureAwait(false);
        _logOffset = new FileInfo(_logFile).Length;
        _waits.Clear();
        _samples = 0;
        _sampling = new CancellationTokenSource();
        _sampler = Task.Run(() => SampleAsync(_sampling.Token));
    }

    /// <summary>Prints the stage's diagnostics (lines starting with DIAG) to stdout.</summary>
    public async Task StopAsync(string stage, long readings)
    {
        await _sampling!.CancelAsync().ConfigureAwait(false);
        try
        {
            await _sampler!.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        var after = await CountersAsync().ConfigureAwait(false);
        var line = new StringBuilder().Append(CultureInfo.InvariantCulture, $"DIAG stage={stage} counters");
        for (var i = 0; i < CounterNames.Length; i++)
        {
            line.Append(CultureInfo.InvariantCulture, $" {CounterNames[i]}={after[i] - _before[i]:0.#}");
        }
        line.Append(CultureInfo.InvariantCulture, $" wal_bytes_per_reading={(after[1] - _before[1]) / Math.Max(1, readings):F1}");
        Console.WriteLine(line);
        await using (var cmd = _dataSource.CreateCommand("""
            SELECT calls, total_exec_time, rows, shared_blks_hit, shared_blks_read, shared_blks_dirtied, shared_blks_written, wal_records, wal_bytes,
                   regexp_replace(left(query, 90), '\s+', ' ', 'g')
            FROM pg_stat_statements WHERE query NOT LIKE '%pg_stat%' ORDER BY total_exec_time DESC LIMIT 14
            """))
        await using (var reader = await cmd.ExecuteReaderAsync().ConfigureAwait(false))
        {
            while (await reader.ReadAsync().ConfigureAwait(false))
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"DIAG stage={stage} stmt calls={reader.GetInt64(0)} ms={reader.GetDouble(1):F0} us_per_reading={reader.GetDouble(1) * 1000 / Math.Max(1, readings):F3} rows={reader.GetInt64(2)} hit={reader.GetInt64(3)} read={reader.GetInt64(4)} dirtied={reader.GetInt64(5)} written={reader.GetInt64(6)} wal_records={reader.GetInt64(7)} wal_bytes={reader.GetDecimal(8)} | {reader.GetString(9)}"));
            }
        }
        var waits = new StringBuilder().Append(CultureInfo.InvariantCulture, $"DIAG stage={stage} waits samples={_samples}");
        foreach (var (key, count) in _waits.OrderByDescending(kv => kv.Value))
        {
            waits.Append(CultureInfo.InvariantCulture, $" {key}={count}");
        }
        Console.WriteLine(waits);
        // Autovacuum and checkpoint reports the server logged during the stage.
        await using var log = new FileStream(_logFile, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        log.Seek(_logOffset, SeekOrigin.Begin);
        using var text = new StreamReader(log);
        while (await text.ReadLineAsync().ConfigureAwait(false) is { } l)
        {
            if (l.Contains("automatic", StringComparison.Ordinal) || l.Contains("checkpoint", StringComparison.Ordinal)
                || l.Contains("system usage", StringComparison.Ordinal))
            {
                Console.WriteLine($"DIAG stage={stage} log {l.Trim()}");
            }
        }
    }

    private async Task<double[]> CountersAsync()
    {
        await using var cmd = _dataSource.CreateCommand(CountersSql);
        await using var reader = await cmd.ExecuteReaderAsync().ConfigureAwait(false);
        await reader.ReadAsync().ConfigureAwait(false);
        var values = new double[CounterNames.Length];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = Convert.ToDouble(reader.GetValue(i), CultureInfo.InvariantCulture);
        }
        return values;
    }

    /// <summary>Every 10 ms: the state and wait event of each other client backend (active ones, and idle in transaction).</summary>
    private async Task SampleAsync(CancellationToken ct)
    {
        await using var conn = await _dataSource.OpenConnectionAsync(ct).ConfigureAwait(false);
        await using var cmd = new NpgsqlCommand("""
            SELECT state, coalesce(wait_event_type || ':' || wait_event, 'cpu') FROM pg_stat_activity
            WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND state IS DISTINCT FROM 'idle'
            """, conn);
        while (!ct.IsCancellationRequested)
        {
            await using (var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false))
            {
                while (await reader.ReadAsync(ct).ConfigureAwait(false))
                {
                    var key = reader.GetString(0).Replace(' ', '_') + "/" + reader.GetString(1);
                    _waits[key] = _waits.GetValueOrDefault(key) + 1;
                }
            }
            _samples++;
            await Task.Delay(10, ct).ConfigureAwait(false);
        }
    }
}
