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
            [("anomalies", "ts", TimeSpan.FromHours(6)), ("readings", "ts", TimeSpan.FromHours(6)), ("rul_estimates", "ts", TimeSpan.FromHours(6)),
             ("window_aggregates", "window_start", TimeSpan.FromHours(6))],
            dims);
        Assert.Equal(2L, await TestData.ScalarAsync<long>(cs,
            $"SELECT count(*) FROM timescaledb_information.continuous_aggregates WHERE view_schema = '{schema}'"));
        Assert.Equal(7L, await TestData.ScalarAsync<long>(cs,
            $"SELECT count(*) FROM timescaledb_information.jobs WHERE hypertable_schema = '{schema}'"));
    }
}

/// <summary>Each TimescaleDB API generation the migration can emit, applied on the real 2.23 server.</summary>
[Collection(TimescaleDbFixture.Collection)]
public sealed class TimescaleDbApiGenerationTests(TimescaleDbFixture fx)
{
    [Theory]
    [InlineData("2.12.0")] // legacy create_hypertable signature, compression API
    [InlineData("2.17.0")] // by_range, compression API
    [InlineData("2.23.0")] // by_range, columnstore API (what the migrator picks here)
    public async Task Every_generation_gives_hypertables_with_the_chunk_interval_compression_by_sensor_and_the_seven_policies(string version)
    {
        var cs = await fx.CreateSchemaAsync(migrated: false);
        var options = TimescaleDbFixture.Options(cs);
        options.ChunkInterval = TimeSpan.FromHours(12);
        await using var conn = new NpgsqlConnection(cs + ";Pooling=false");
        await conn.OpenAsync();

        foreach (var migration in Schema.Plan(options, StorageMode.TimescaleDb, Version.Parse(version)))
        {
            await using var tx = await conn.BeginTransactionAsync();
            foreach (var sql in migration.Statements)
            {
                await using var cmd = new NpgsqlCommand(sql, conn, tx);
                await cmd.ExecuteNonQueryAsync();
            }
            await tx.CommitAsync();
        }

        var schema = await TestData.ScalarAsync<string>(cs, "SELECT current_schema()");
        // readings, window_aggregates, anomalies and rul_estimates.
        Assert.Equal(4L, await TestData.ScalarAsync<long>(cs,
            $"SELECT count(*) FROM timescaledb_information.dimensions WHERE hypertable_schema = '{schema}' AND time_interval = INTERVAL '12 hours'"));
        Assert.Equal("sensor_id", await TestData.ScalarAsync<string>(cs,
            $"SELECT attname FROM timescaledb_information.compression_settings WHERE hypertable_schema = '{schema}' AND hypertable_name = 'readings' AND segmentby_column_index = 1"));
        Assert.Equal(7L, await TestData.ScalarAsync<long>(cs, $"SELECT count(*) FROM timescaledb_information.jobs WHERE hypertable_schema = '{schema}'"));
    }

    [Fact]
    public async Task The_migrator_reads_the_servers_version()
    {
        await using var conn = new NpgsqlConnection(fx.AdminConnectionString);
        await conn.OpenAsync();

        var version = await SchemaMigrator.TimescaleVersionAsync(conn);

        Assert.NotNull(version);
        Assert.True(version >= Schema.ColumnstoreSince, $"{version}");
    }
}
