using Npgsql;
using SmartMaintenance.Streams.Storage;
using Xunit;

namespace SmartMaintenance.Streams.Testing;

/// <summary>One TimescaleDB test service (scripts/timescaledb-service) per test run, in a temp data directory.</summary>
/// <remarks>Use it through a collection in the test assembly:
/// <code>[CollectionDefinition(TimescaleDbFixture.Collection)] public sealed class TimescaleDbCollection : ICollectionFixture&lt;TimescaleDbFixture&gt;;</code>
/// The service has one database, so each test gets a schema of its own (<see cref="CreateSchemaAsync"/>); its
/// connection string puts that schema first on the search path. When Node or the service cannot start, every test
/// of the collection fails with the reason (never skips).</remarks>
public sealed class TimescaleDbFixture : IAsyncLifetime
{
    public const string Collection = "timescaledb";
    private int _counter;
    private TimescaleDbService? _service;

    public TimescaleDbService Service => _service ?? throw new InvalidOperationException("The TimescaleDB fixture is not initialized.");

    /// <summary>Connection string of the service's database (public schema), without pooling.</summary>
    public string AdminConnectionString => Service.ConnectionString + ";Pooling=false";

    public async Task InitializeAsync()
    {
        var dataDir = Path.Combine(Path.GetTempPath(), $"smstream-tsdb-{Environment.ProcessId}-{Guid.NewGuid():N}"[..42]);
        _service = new TimescaleDbService(new TimescaleDbServiceOptions { DataDirectory = dataDir });
        try
        {
            await _service.StartAsync().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            throw new InvalidOperationException(
                $"The TimescaleDB test service could not be started ({ex.Message}). It needs Node.js ≥ 20 and npm: scripts/ensure-deps.sh nodejs timescaledb-service.", ex);
        }
    }

    public async Task DisposeAsync()
    {
        if (_service is not null)
        {
            NpgsqlConnection.ClearAllPools();
            await _service.DestroyAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Options for a schema of this service in TimescaleDB mode.</summary>
    public static StorageOptions Options(string connectionString) => new()
    {
        ConnectionString = connectionString,
        UseTimescaleDb = true,
        RetryBaseDelay = TimeSpan.FromMilliseconds(50),
        RetryMaxDelay = TimeSpan.FromMilliseconds(500),
    };

    /// <summary>A fresh schema, empty or migrated (TimescaleDB mode); returns a connection string whose search path
    /// starts with it.</summary>
    public async Task<string> CreateSchemaAsync(bool migrated = true)
    {
        var name = $"t{Interlocked.Increment(ref _counter)}_{Guid.NewGuid():N}"[..20];
        await using (var conn = new NpgsqlConnection(AdminConnectionString))
        {
            await conn.OpenAsync().ConfigureAwait(false);
            await using var cmd = new NpgsqlCommand($"CREATE SCHEMA {name}", conn);
            await cmd.ExecuteNonQueryAsync().ConfigureAwait(false);
        }
        var cs = new NpgsqlConnectionStringBuilder(Service.ConnectionString) { SearchPath = $"{name},public" }.ConnectionString;
        if (migrated)
        {
            await SchemaMigrator.MigrateAsync(cs + ";Pooling=false", Options(cs)).ConfigureAwait(false);
        }
        return cs;
    }
}
