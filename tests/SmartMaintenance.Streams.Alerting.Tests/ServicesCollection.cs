using Npgsql;
using SmartMaintenance.Streams.Testing;
using Xunit;

namespace SmartMaintenance.Streams.Alerting.Tests;

/// <summary>Tests that need the real services: the embedded Kafka broker and a throwaway PostgreSQL.</summary>
[CollectionDefinition(Name)]
public sealed class ServicesCollection : ICollectionFixture<KafkaFixture>, ICollectionFixture<PostgresFixture>
{
    public const string Name = "alerting-services";
}

/// <summary>A fresh migrated database (it has alert_deliveries) per test.</summary>
internal sealed class TestDatabase : IAsyncDisposable
{
    private TestDatabase(NpgsqlDataSource dataSource) => DataSource = dataSource;

    public NpgsqlDataSource DataSource { get; }

    public static async Task<TestDatabase> CreateAsync(PostgresFixture postgres) =>
        new(NpgsqlDataSource.Create(await postgres.CreateDatabaseAsync()));

    public async Task<string?> OutcomeAsync(string eventKey, string channel)
    {
        await using var cmd = DataSource.CreateCommand("SELECT outcome FROM alert_deliveries WHERE event_key = $1 AND channel = $2");
        cmd.Parameters.AddWithValue(eventKey);
        cmd.Parameters.AddWithValue(channel);
        return await cmd.ExecuteScalarAsync() as string;
    }

    public async Task<long> CountAsync(string where = "true")
    {
        await using var cmd = DataSource.CreateCommand($"SELECT count(*) FROM alert_deliveries WHERE {where}");
        return (long)(await cmd.ExecuteScalarAsync())!;
    }

    public ValueTask DisposeAsync() => DataSource.DisposeAsync();
}
