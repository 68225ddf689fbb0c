using Npgsql;
using SmartMaintenance.Streams.Testing;
using Xunit;

namespace SmartMaintenance.Streams.Storage.Tests;

[Collection(PostgresFixture.Collection)]
public sealed class MigrationTests(PostgresFixture fx)
{
    private static readonly string[] Tables =
        ["readings", "window_aggregates", "anomalies", "alerts", "alert_deliveries", "stream_offsets", "dlq_replays", "model_registry",
         "window_rollups_hourly", "window_rollups_daily", "schema_migrations", "rul_estimates"];

    [Fact]
    public async Task Migrating_an_empty_database_creates_every_table_at_the_latest_version_in_native_mode()
    {
        var cs = await fx.CreateDatabaseAsync(migrated: false);
        var result = await SchemaMigrator.MigrateAsync(cs, TestData.Options(cs));

        Assert.Equal(0, result.FromVersion);
        Assert.Equal(Schema.LatestVersion, result.ToVersion);
        Assert.Equal(StorageMode.NativePartitions, result.Mode);
        Assert.Equal(Schema.LatestVersion, result.Applied.Count);
        foreach (var table in Tables)
        {
            Assert.True(await TestData.ScalarAsync<bool>(cs, $"SELECT to_regclass('{table}') IS NOT NULL"), table);
        }
        Assert.Equal('p', await TestData.ScalarAsync<char>(cs, "SELECT relkind FROM pg_class WHERE relname = 'readings'"));
    }

    [Fact]
    public async Task Migrating_twice_is_a_no_op()
    {
        var cs = await fx.CreateDatabaseAsync(migrated: false);
        var options = TestData.Options(cs);
        await SchemaMigrator.MigrateAsync(cs, options);
        var before = await SchemaFingerprintAsync(cs);

        var second = await SchemaMigrator.MigrateAsync(cs, options);

        Assert.Empty(second.Applied);
        Assert.Equal(Schema.LatestVersion, second.FromVersion);
        Assert.Equal(before, await SchemaFingerprintAsync(cs));
        Assert.Equal((long)Schema.LatestVersion, await TestData.ScalarAsync<long>(cs, "SELECT count(*) FROM schema_migrations"));
    }

    [Fact]
    public async Task Migrating_from_every_earlier_version_reaches_the_same_schema_as_from_empty()
    {
        var reference = await fx.CreateDatabaseAsync(migrated: false);
        await SchemaMigrator.MigrateAsync(reference, TestData.Options(reference));
        var expected = await SchemaFingerprintAsync(reference);

        for (var k = 0; k < Schema.LatestVersion; k++)
        {
            var cs = await fx.CreateDatabaseAsync(migrated: false);
            var options = TestData.Options(cs);
            var partial = await SchemaMigrator.MigrateAsync(cs, options, k);
            Assert.Equal(k, partial.ToVersion);

            var rest = await SchemaMigrator.MigrateAsync(cs, options);

            Assert.Equal(k, rest.FromVersion);
            Assert.Equal(Schema.LatestVersion - k, rest.Applied.Count);
            Assert.Equal(expected, await SchemaFingerprintAsync(cs));
        }
    }

    [Fact]
    public async Task Two_engines_migrating_at_once_both_succeed_and_apply_each_version_once()
    {
        var cs = await fx.CreateDatabaseAsync(migrated: false);
        var options = TestData.Options(cs);

        var results = await Task.WhenAll(
            Task.Run(() => SchemaMigrator.MigrateAsync(cs, options)),
            Task.Run(() => SchemaMigrator.MigrateAsync(cs, options)));

        Assert.Equal(Schema.LatestVersion, results.Sum(r => r.Applied.Count));
        Assert.All(results, r => Assert.Equal(Schema.LatestVersion, r.ToVersion));
        Assert.Equal((long)Schema.LatestVersion, await TestData.ScalarAsync<long>(cs, "SELECT count(DISTINCT version) FROM schema_migrations"));
    }

    /// <summary>Tables, columns, indexes and constraints, ignoring partitions (they depend on the clock).</summary>
    private static async Task<string> SchemaFingerprintAsync(string cs)
    {
        await using var conn = new NpgsqlConnection(cs + ";Pooling=false");
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand("""
            SELECT string_agg(x, E'\n' ORDER BY x) FROM (
                SELECT c.relname || '.' || a.attname || ':' || format_type(a.atttypid, a.atttypmod) || ':' || a.attnotnull AS x
                FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = 'public' AND a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p') AND NOT c.relispartition
                UNION ALL
                SELECT indexname || ':' || indexdef FROM pg_indexes
                WHERE schemaname = 'public' AND tablename NOT LIKE '%\_p%' AND tablename NOT LIKE '%\_default'
                UNION ALL
                SELECT conname || ':' || pg_get_constraintdef(oid) FROM pg_constraint
                WHERE connamespace = 'public'::regnamespace AND conrelid IN (SELECT oid FROM pg_class WHERE NOT relispartition)
            ) s
            """, conn);
        return (string)(await cmd.ExecuteScalarAsync())!;
    }
}
