using Npgsql;

namespace SmartMaintenance.Streams.Storage;

/// <summary>Outcome of <see cref="SchemaMigrator.MigrateAsync(string, StorageOptions, CancellationToken)"/>.</summary>
public sealed record MigrationResult(int FromVersion, int ToVersion, StorageMode Mode, IReadOnlyList<Migration> Applied)
{
    /// <summary>Why the mode is not the one asked for (TimescaleDB installed but not preloaded), or null.</summary>
    public string? Warning { get; init; }
}

/// <summary>The storage mode a database gets, and the warning when TimescaleDB is there but unusable.</summary>
public sealed record ModeDecision(StorageMode Mode, string? Warning);

/// <summary>Applies the versioned migrations of <see cref="Schema"/>; idempotent and safe to run concurrently.</summary>
public static class SchemaMigrator
{
    // Any constant works; it only has to be the same for every engine migrating this database.
    private const long MigrationLockKey = 0x736d_7374_7265_616d; // "smstream"

    /// <summary>Migrates to the latest version, then creates the partitions ahead (native mode).</summary>
    public static Task<MigrationResult> MigrateAsync(string connectionString, StorageOptions options, CancellationToken ct = default) =>
        MigrateAsync(connectionString, options, Schema.LatestVersion, ct);

    /// <summary>Migrates up to <paramref name="targetVersion"/> (never down).</summary>
    public static async Task<MigrationResult> MigrateAsync(string connectionString, StorageOptions options, int targetVersion, CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfNegative(targetVersion);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(targetVersion, Schema.LatestVersion);
        try
        {
            await using var conn = new NpgsqlConnection(connectionString);
            await conn.OpenAsync(ct).ConfigureAwait(false);
            await ExecAsync(conn, null, $"SELECT pg_advisory_lock({MigrationLockKey})", options, ct).ConfigureAwait(false);
            try
            {
                await ExecAsync(conn, null, """
                    CREATE TABLE IF NOT EXISTS schema_migrations (
                        version      int PRIMARY KEY,
                        name         text        NOT NULL,
                        storage_mode text        NOT NULL,
                        applied_at   timestamptz NOT NULL DEFAULT now()
                    )
                    """, options, ct).ConfigureAwait(false);
                var (current, recorded) = await ReadVersionAsync(conn, ct).ConfigureAwait(false);
                var decision = recorded is { } r ? new ModeDecision(r, null) : await DecideModeAsync(conn, options, ct).ConfigureAwait(false);
                var mode = decision.Mode;
                var version = mode == StorageMode.TimescaleDb ? await TimescaleVersionAsync(conn, ct).ConfigureAwait(false) : null;
                var applied = new List<Migration>();
                foreach (var m in Schema.Plan(options, mode, version))
                {
                    if (m.Version <= current || m.Version > targetVersion)
                    {
                        continue;
                    }
                    await using var tx = await conn.BeginTransactionAsync(ct).ConfigureAwait(false);
                    foreach (var sql in m.Statements)
                    {
                        await ExecAsync(conn, tx, sql, options, ct).ConfigureAwait(false);
                    }
                    await using (var record = new NpgsqlCommand("INSERT INTO schema_migrations (version, name, storage_mode) VALUES ($1, $2, $3)", conn, tx))
                    {
                        record.Parameters.Add(new NpgsqlParameter<int> { TypedValue = m.Version });
                        record.Parameters.Add(new NpgsqlParameter<string> { TypedValue = m.Name });
                        record.Parameters.Add(new NpgsqlParameter<string> { TypedValue = ModeName(mode) });
                        await record.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
                    }
                    await tx.CommitAsync(ct).ConfigureAwait(false);
                    applied.Add(m);
                }
                var to = Math.Max(current, applied.Count > 0 ? applied[^1].Version : current);
                if (to >= 1 && mode == StorageMode.NativePartitions)
                {
                    await PartitionMaintenance.EnsureAheadAsync(conn, options, DateTimeOffset.UtcNow, ct).ConfigureAwait(false);
                }
                return new MigrationResult(current, to, mode, applied) { Warning = applied.Count > 0 ? decision.Warning : null };
            }
            finally
            {
                if (conn.State == System.Data.ConnectionState.Open)
                {
                    await ExecAsync(conn, null, $"SELECT pg_advisory_unlock({MigrationLockKey})", options, CancellationToken.None).ConfigureAwait(false);
                }
            }
        }
        catch (Exception ex) when (StorageErrors.Classify(ex) is StorageException se && !ReferenceEquals(se, ex))
        {
            throw se;
        }
    }

    /// <summary>Current schema version (0 when never migrated) and the recorded storage mode.</summary>
    public static async Task<(int Version, StorageMode? Mode)> ReadVersionAsync(NpgsqlConnection conn, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(conn);
        await using (var exists = new NpgsqlCommand("SELECT to_regclass('schema_migrations') IS NOT NULL", conn))
        {
            if (!(bool)(await exists.ExecuteScalarAsync(ct).ConfigureAwait(false))!)
            {
                return (0, null);
            }
        }
        await using var cmd = new NpgsqlCommand("SELECT coalesce(max(version), 0), min(storage_mode) FROM schema_migrations", conn);
        await using var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        await reader.ReadAsync(ct).ConfigureAwait(false);
        var version = reader.GetInt32(0);
        StorageMode? mode = reader.IsDBNull(1) ? null : ParseMode(reader.GetString(1));
        return (version, mode);
    }

    /// <summary>TimescaleDB when this server can run it and the options allow it; see <see cref="DecideMode"/>.</summary>
    public static async Task<StorageMode> DetectModeAsync(NpgsqlConnection conn, StorageOptions options, CancellationToken ct = default) =>
        (await DecideModeAsync(conn, options, ct).ConfigureAwait(false)).Mode;

    /// <summary>Reads what the server can do (extension created, available, preloaded) and decides the mode.</summary>
    public static async Task<ModeDecision> DecideModeAsync(NpgsqlConnection conn, StorageOptions options, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(conn);
        ArgumentNullException.ThrowIfNull(options);
        if (!options.UseTimescaleDb)
        {
            return new ModeDecision(StorageMode.NativePartitions, null);
        }
        await using var cmd = new NpgsqlCommand("""
            SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'),
                   EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'),
                   current_setting('shared_preload_libraries')
            """, conn);
        await using var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        await reader.ReadAsync(ct).ConfigureAwait(false);
        return DecideMode(options.UseTimescaleDb, reader.GetBoolean(0), reader.GetBoolean(1), reader.GetString(2));
    }

    /// <summary>
    /// TimescaleDB when allowed and either already created in the database (it only loads when usable) or available
    /// and listed in <c>shared_preload_libraries</c>; available but not preloaded falls back to native partitioning
    /// with a warning naming the setting (CREATE EXTENSION would fail with "must be preloaded").
    /// </summary>
    public static ModeDecision DecideMode(bool useTimescaleDb, bool created, bool available, string sharedPreloadLibraries)
    {
        if (!useTimescaleDb || (!created && !available))
        {
            return new ModeDecision(StorageMode.NativePartitions, null);
        }
        if (created || IsPreloaded(sharedPreloadLibraries))
        {
            return new ModeDecision(StorageMode.TimescaleDb, null);
        }
        return new ModeDecision(StorageMode.NativePartitions,
            $"TimescaleDB is installed on the server but not in shared_preload_libraries ('{sharedPreloadLibraries}'): using native partitioning. " +
            "To use TimescaleDB add timescaledb to shared_preload_libraries in postgresql.conf and restart the server before the first migration " +
            "(or pass --no-timescaledb / Storage:UseTimescaleDb=false to silence this).");
    }

    /// <summary>True when the comma-separated list names the timescaledb library (bare, versioned or with a path).</summary>
    public static bool IsPreloaded(string? sharedPreloadLibraries)
    {
        if (string.IsNullOrWhiteSpace(sharedPreloadLibraries))
        {
            return false;
        }
        foreach (var entry in sharedPreloadLibraries.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var name = Path.GetFileName(entry.Trim('"', '\'', ' '));
            if (name.EndsWith(".so", StringComparison.Ordinal))
            {
                name = name[..^3];
            }
            if (string.Equals(name, "timescaledb", StringComparison.Ordinal) || name.StartsWith("timescaledb-", StringComparison.Ordinal))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>The TimescaleDB version installed in the database, else the one CREATE EXTENSION would install; null when
    /// neither is there or it does not parse.</summary>
    public static async Task<Version?> TimescaleVersionAsync(NpgsqlConnection conn, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(conn);
        await using var cmd = new NpgsqlCommand("""
            SELECT coalesce((SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'),
                            (SELECT default_version FROM pg_available_extensions WHERE name = 'timescaledb'))
            """, conn);
        return ParseTimescaleVersion(await cmd.ExecuteScalarAsync(ct).ConfigureAwait(false) as string);
    }

    /// <summary>"2.23.0-dev" is 2.23.0; null when the text does not start with a version.</summary>
    public static Version? ParseTimescaleVersion(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }
        var end = 0;
        while (end < text.Length && (char.IsAsciiDigit(text[end]) || text[end] == '.'))
        {
            end++;
        }
        return Version.TryParse(text[..end].TrimEnd('.'), out var v) ? v : null;
    }

    public static string ModeName(StorageMode mode) => mode == StorageMode.TimescaleDb ? "timescaledb" : "native";

    public static StorageMode ParseMode(string name) =>
        string.Equals(name, "timescaledb", StringComparison.Ordinal) ? StorageMode.TimescaleDb : StorageMode.NativePartitions;

    private static async Task ExecAsync(NpgsqlConnection conn, NpgsqlTransaction? tx, string sql, StorageOptions options, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(sql, conn, tx) { CommandTimeout = options.CommandTimeout };
        await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
    }
}
