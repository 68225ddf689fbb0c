using Npgsql;
using SmartMaintenance.Streams.Testing;
using Xunit;

namespace SmartMaintenance.Streams.Storage.Tests;

/// <summary>Schema migrations on a real TimescaleDB (the test service: PGlite + TimescaleDB 2.23).</summary>
[Collection(TimescaleDbFixture.Collection)]
public sealed class TimescaleDbMigrationTests(TimescaleDbFixture fx)
{
    [Fact]
    public async Task Migrating_an_empty_schema_creates_hypertables_with_the_configured_chunk_interval_and_re_migrating_is_a_no_op()
    {
        var cs = await fx.CreateSchemaAsync(migrated: false);
        var options = TimescaleDbFixture.Options(cs);
        options.ChunkInterval = TimeSpan.FromHours(6);

        var first = await SchemaMigrator.MigrateAsync(cs, options);
        var second = await SchemaMigrator.MigrateAsync(cs, options);

        Assert.Equal(StorageMode.TimescaleDb, first.Mode);
        Assert.Null(first.Warning);
        Assert.Equal(Schema.LatestVersion, first.Applied.Count);
        Assert.Empty(second.Applied);
        Assert.Equal(Schema.LatestVersion, second.FromVersion);
        var schema = await TestData.ScalarAsync<string>(cs, "SELECT current_schema()");
        await using var conn = new NpgsqlConnection(cs + ";Pooling=false");
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand("""
            SELECT hypertable_name, column_name, time_interval FROM timescaledb_information.dimensions
            WHERE hypertable_schema = $1 ORDER BY hypertable_name
            """, conn);
        cmd.Parameters.AddWithValue(schema);
        var dims = new List<(string, string, TimeSpan)>();
        await using (var r = await cmd.ExecuteReaderAsync())
        {
            while (await r.ReadAsync())
            {
                dims.Add((r.GetString(0), r.GetString(1), r.GetTimeSpan(2)));
            }
        }
        Assert.Equal(
            [("anomalies", "ts", TimeSpan.FromHours(6)), ("readings", "ts", TimeSpan.FromHours(6)), ("window_aggregates", "window_start", TimeSpan.FromHours(6))],
            dims);
        Assert.Equal(2L, await TestData.ScalarAsync<long>(cs,
            $"SELECT count(*) FROM timescaledb_information.continuous_aggregates WHERE view_schema = '{schema}'"));
        Assert.Equal(7L, await TestData.ScalarAsync<long>(cs,
            $"SELECT count(*) FROM timescaledb_information.jobs WHERE hypertable_schema = '{schema}'"));
    }
}
