using Npgsql;
using SmartMaintenance.Streams.Testing;
using Xunit;

namespace SmartMaintenance.Streams.Storage.Tests;

/// <summary>The storage mode follows what the server can do: TimescaleDB only where it is created or preloaded.</summary>
public sealed class ModeDetectionTests
{
    [Theory]
    [InlineData("timescaledb", true)]
    [InlineData("pg_stat_statements, timescaledb", true)]
    [InlineData("'$libdir/timescaledb-2.17.2'", true)]
    [InlineData("timescaledb.so", true)]
    [InlineData("", false)]
    [InlineData("pg_stat_statements", false)]
    [InlineData("timescaledb_toolkit", false)]
    public void Preload_list_is_read_by_library_name(string libraries, bool preloaded) =>
        Assert.Equal(preloaded, SchemaMigrator.IsPreloaded(libraries));

    [Fact]
    public void Available_but_not_preloaded_falls_back_to_native_with_a_warning_naming_the_setting()
    {
        var decision = SchemaMigrator.DecideMode(useTimescaleDb: true, created: false, available: true, sharedPreloadLibraries: "pg_stat_statements");

        Assert.Equal(StorageMode.NativePartitions, decision.Mode);
        Assert.Contains("shared_preload_libraries", decision.Warning, StringComparison.Ordinal);
        Assert.Contains("pg_stat_statements", decision.Warning, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(true, false, true, "timescaledb", StorageMode.TimescaleDb)]   // preloaded, not yet created
    [InlineData(true, true, true, "", StorageMode.TimescaleDb)]               // created: it loaded, so it works
    [InlineData(true, false, false, "timescaledb", StorageMode.NativePartitions)]
    [InlineData(false, true, true, "timescaledb", StorageMode.NativePartitions)] // --no-timescaledb
    public void Mode_without_warning(bool use, bool created, bool available, string libraries, StorageMode mode)
    {
        var decision = SchemaMigrator.DecideMode(use, created, available, libraries);

        Assert.Equal(mode, decision.Mode);
        Assert.Null(decision.Warning);
    }

    [Fact]
    public void The_throwaway_cluster_preloads_TimescaleDB_only_where_its_library_is_installed()
    {
        var root = Directory.CreateTempSubdirectory("smstream-pgroot-");
        try
        {
            var bin = Directory.CreateDirectory(Path.Combine(root.FullName, "17", "bin")).FullName;
            Assert.False(PostgresCluster.HasTimescaleDb(bin));
            Directory.CreateDirectory(Path.Combine(root.FullName, "17", "lib"));
            File.WriteAllText(Path.Combine(root.FullName, "17", "lib", "timescaledb.so"), "");
            Assert.True(PostgresCluster.HasTimescaleDb(bin));
        }
        finally
        {
            root.Delete(recursive: true);
        }
    }
}

/// <summary>Mode detection against the two real servers of the test run.</summary>
[Collection(PostgresFixture.Collection)]
public sealed class NativeModeDetectionTests(PostgresFixture fx)
{
    [Fact]
    public async Task The_throwaway_cluster_migrates_in_the_mode_its_preload_allows_without_a_warning()
    {
        var cs = await fx.CreateDatabaseAsync(migrated: false);
        var options = TestData.Options(cs);
        options.UseTimescaleDb = true;

        var result = await SchemaMigrator.MigrateAsync(cs, options);

        // `db up`'s cluster preloads TimescaleDB where the machine has it; then the mode follows.
        var hasTimescale = PostgresCluster.HasTimescaleDb(fx.Cluster.BinDirectory);
        Assert.Equal(hasTimescale ? StorageMode.TimescaleDb : StorageMode.NativePartitions, result.Mode);
        Assert.Null(result.Warning);
        await using var conn = new NpgsqlConnection(cs + ";Pooling=false");
        await conn.OpenAsync();
        var preloaded = SchemaMigrator.IsPreloaded((string)(await new NpgsqlCommand("SHOW shared_preload_libraries", conn).ExecuteScalarAsync())!);
        Assert.Equal(hasTimescale, preloaded);
    }
}
