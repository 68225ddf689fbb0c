using Npgsql;
using SmartMaintenance.Streams.Storage;
using Xunit;

namespace SmartMaintenance.Streams.Testing;

/// <summary>One throwaway PostgreSQL cluster per test run (free port, temp data dir, destroyed at the end).</summary>
/// <remarks>Use it through a collection in the test assembly (xunit 2 discovers collection definitions only there):
/// <code>[CollectionDefinition(PostgresFixture.Collection)] public sealed class PostgresCollection : ICollectionFixture&lt;PostgresFixture&gt;;</code>
/// When the server binaries are missing, initialization fails and so does every test of the collection, with the
/// install command as the message. Each test gets a fresh, uniquely named database.</remarks>
public sealed class PostgresFixture : IAsyncLifetime
{
    public const string Collection = "postgres";
    private const string TemplateDatabase = "smstream_template";
    private int _counter;
    private PostgresCluster? _cluster;

    public PostgresCluster Cluster => _cluster ?? throw new InvalidOperationException("The PostgreSQL fixture is not initialized.");

    /// <summary>Connection string of the cluster's <c>postgres</c> database (superuser).</summary>
    public string AdminConnectionString => Cluster.ConnectionString + ";Pooling=false";

    /// <summary>Options the template database was migrated with (native partitioning).</summary>
    public StorageOptions Options { get; } = new() { UseTimescaleDb = false };

    public async Task InitializeAsync()
    {
        var dataDir = Path.Combine(Path.GetTempPath(), $"smstream-pg-{Environment.ProcessId}-{Guid.NewGuid():N}"[..40]);
        _cluster = new PostgresCluster(new PostgresClusterOptions { DataDirectory = dataDir, Port = 0 });
        try
        {
            await _cluster.StartAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not PostgresNotInstalledException)
        {
            throw new InvalidOperationException(
                $"PostgreSQL could not be started ({ex.Message}). Install it with: {PostgresNotInstalledException.InstallCommand}", ex);
        }
        // Migrate once into a template; each test clones it (much faster than migrating every database).
        await ExecAsync(AdminConnectionString, $"CREATE DATABASE {TemplateDatabase}").ConfigureAwait(false);
        var template = Cluster.ConnectionStringFor(TemplateDatabase) + ";Pooling=false";
        await SchemaMigrator.MigrateAsync(template, Options).ConfigureAwait(false);
    }

    public async Task DisposeAsync()
    {
        if (_cluster is not null)
        {
            NpgsqlConnection.ClearAllPools();
            await _cluster.DestroyAsync().ConfigureAwait(false);
        }
    }

    /// <summary>A fresh database with the latest schema (native partitions ahead of now); returns its connection string.</summary>
    public Task<string> CreateDatabaseAsync() => CreateDatabaseAsync(migrated: true);

    /// <summary>A fresh database, migrated or completely empty.</summary>
    public async Task<string> CreateDatabaseAsync(bool migrated)
    {
        var name = $"t{Environment.ProcessId}_{Interlocked.Increment(ref _counter)}_{Guid.NewGuid():N}"[..30];
        var template = migrated ? $" TEMPLATE {TemplateDatabase}" : "";
        await ExecAsync(AdminConnectionString, $"CREATE DATABASE {name}{template}").ConfigureAwait(false);
        return Cluster.ConnectionStringFor(name);
    }

    private static async Task ExecAsync(string connectionString, string sql)
    {
        await using var conn = new NpgsqlConnection(connectionString);
        await conn.OpenAsync().ConfigureAwait(false);
        await using var cmd = new NpgsqlCommand(sql, conn);
        await cmd.ExecuteNonQueryAsync().ConfigureAwait(false);
    }
}
