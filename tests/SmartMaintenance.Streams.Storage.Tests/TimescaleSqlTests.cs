using Xunit;

namespace SmartMaintenance.Streams.Storage.Tests;

/// <summary>The statements of TimescaleDB mode (they run on a real server in the TimescaleDb* test classes).</summary>
public sealed class TimescaleSqlTests
{
    private static readonly StorageOptions Options = new()
    {
        ChunkInterval = TimeSpan.FromHours(12),
        Retention = TimeSpan.FromDays(90),
        CompressAfter = TimeSpan.FromDays(3),
        RollupSourceWindowKind = "1m",
    };

    private static List<string> Statements(StorageMode mode) => Schema.Plan(Options, mode).SelectMany(m => m.Statements).ToList();

    [Fact]
    public void The_extension_is_created_first_and_tables_are_plain_hypertables_without_native_partitioning()
    {
        var sql = Statements(StorageMode.TimescaleDb);

        Assert.Equal("CREATE EXTENSION IF NOT EXISTS timescaledb", sql[0]);
        Assert.DoesNotContain(sql, s => s.Contains("PARTITION BY", StringComparison.Ordinal));
        Assert.DoesNotContain(sql, s => s.Contains("DEFAULT PARTITION", StringComparison.Ordinal) || s.Contains("PARTITION OF", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("readings", "ts")]
    [InlineData("window_aggregates", "window_start")]
    [InlineData("anomalies", "ts")]
    [InlineData("rul_estimates", "ts")]
    public void Time_series_tables_become_hypertables_by_range_with_the_configured_chunk_interval(string table, string column)
    {
        Assert.Contains($"SELECT create_hypertable('{table}', by_range('{column}', INTERVAL '12 hours'), if_not_exists => TRUE)", Statements(StorageMode.TimescaleDb));
    }

    [Fact]
    public void Compression_is_segmented_by_sensor_and_ordered_by_time_with_a_policy()
    {
        var sql = Statements(StorageMode.TimescaleDb);

        Assert.Contains("ALTER TABLE readings SET (timescaledb.compress, timescaledb.compress_segmentby = 'sensor_id', timescaledb.compress_orderby = 'ts DESC')", sql);
        Assert.Contains("SELECT add_compression_policy('readings', compress_after => INTERVAL '3 days', if_not_exists => TRUE)", sql);
        Assert.Contains("SELECT add_compression_policy('window_aggregates', compress_after => INTERVAL '3 days', if_not_exists => TRUE)", sql);
    }

    [Theory]
    [InlineData("readings")]
    [InlineData("window_aggregates")]
    [InlineData("anomalies")]
    public void Retention_drops_chunks_older_than_the_configured_retention(string table)
    {
        Assert.Contains($"SELECT add_retention_policy('{table}', drop_after => INTERVAL '90 days', if_not_exists => TRUE)", Statements(StorageMode.TimescaleDb));
    }

    [Fact]
    public void Hourly_and_daily_rollups_are_hierarchical_continuous_aggregates_with_refresh_policies()
    {
        var sql = Statements(StorageMode.TimescaleDb);
        var hourly = Assert.Single(sql, s => s.StartsWith("CREATE MATERIALIZED VIEW window_rollups_hourly", StringComparison.Ordinal));
        var daily = Assert.Single(sql, s => s.StartsWith("CREATE MATERIALIZED VIEW window_rollups_daily", StringComparison.Ordinal));

        Assert.Contains("WITH (timescaledb.continuous", hourly, StringComparison.Ordinal);
        Assert.Contains("time_bucket(INTERVAL '1 hour', window_start)", hourly, StringComparison.Ordinal);
        Assert.Contains("FROM window_aggregates", hourly, StringComparison.Ordinal);
        Assert.Contains("WHERE window_kind = '1m'", hourly, StringComparison.Ordinal);
        Assert.EndsWith("WITH NO DATA", hourly.TrimEnd(), StringComparison.Ordinal);
        Assert.Contains("time_bucket(INTERVAL '1 day', bucket)", daily, StringComparison.Ordinal);
        // Same columns as the native rollup tables, so queries do not depend on the mode.
        foreach (var column in new[] { "count", "sum", "sum_sq", "min", "max", "mean", "stddev", "first", "last", "asset_id", "sensor_type" })
        {
            Assert.Contains($" AS {column},", hourly.Replace("\n", ",\n", StringComparison.Ordinal), StringComparison.Ordinal);
            Assert.Contains($" AS {column},", daily.Replace("\n", ",\n", StringComparison.Ordinal), StringComparison.Ordinal);
        }
        Assert.Contains("FROM window_rollups_hourly", daily, StringComparison.Ordinal);
        Assert.Contains(sql, s => s.StartsWith("SELECT add_continuous_aggregate_policy('window_rollups_hourly', start_offset => INTERVAL '1 day', end_offset => INTERVAL '1 hour'", StringComparison.Ordinal));
        Assert.Contains(sql, s => s.StartsWith("SELECT add_continuous_aggregate_policy('window_rollups_daily', start_offset => INTERVAL '7 days', end_offset => INTERVAL '1 day'", StringComparison.Ordinal));
        // Policies come after the views they refer to.
        Assert.True(sql.FindIndex(s => s.Contains("add_continuous_aggregate_policy('window_rollups_daily'", StringComparison.Ordinal)) > sql.IndexOf(daily));
    }

    [Fact]
    public void Native_mode_uses_range_partitions_with_default_partitions_and_no_timescale_calls()
    {
        var sql = Statements(StorageMode.NativePartitions);

        Assert.Contains(sql, s => s.Contains("CREATE TABLE readings (", StringComparison.Ordinal) && s.TrimEnd().EndsWith("PARTITION BY RANGE (ts)", StringComparison.Ordinal));
        Assert.Contains("CREATE TABLE readings_default PARTITION OF readings DEFAULT", sql);
        Assert.DoesNotContain(sql, s => s.Contains("timescaledb", StringComparison.Ordinal) || s.Contains("create_hypertable", StringComparison.Ordinal));
    }

    [Fact]
    public void Both_modes_have_the_same_versions_so_a_database_records_one_history()
    {
        var ts = Schema.Plan(Options, StorageMode.TimescaleDb).Select(m => m.Version);
        var native = Schema.Plan(Options, StorageMode.NativePartitions).Select(m => m.Version);

        Assert.Equal(native, ts);
        Assert.Equal(Enumerable.Range(1, Schema.LatestVersion), ts);
    }

    [Theory]
    [InlineData(24 * 3, "INTERVAL '3 days'")]
    [InlineData(12, "INTERVAL '12 hours'")]
    public void Intervals_are_rendered_in_readable_units(int hours, string expected)
    {
        Assert.Equal(expected, Schema.Interval(TimeSpan.FromHours(hours)));
    }
}

/// <summary>The TimescaleDB API generation follows the server's version.</summary>
public sealed class TimescaleVersionSqlTests
{
    private static readonly StorageOptions Options = new() { ChunkInterval = TimeSpan.FromHours(12), CompressAfter = TimeSpan.FromDays(3) };

    private static List<string> Statements(Version? version) =>
        Schema.Plan(Options, StorageMode.TimescaleDb, version).SelectMany(m => m.Statements).ToList();

    [Theory]
    [InlineData("2.23.0-dev", 2, 23, 0)]
    [InlineData("2.17.2", 2, 17, 2)]
    [InlineData("2.9", 2, 9, -1)]
    public void Extension_versions_parse_with_their_suffix_dropped(string text, int major, int minor, int build)
    {
        var expected = build < 0 ? new Version(major, minor) : new Version(major, minor, build);
        Assert.Equal(expected, SchemaMigrator.ParseTimescaleVersion(text));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("dev")]
    public void Text_that_is_no_version_gives_null(string? text) => Assert.Null(SchemaMigrator.ParseTimescaleVersion(text));

    [Fact]
    public void Before_2_13_hypertables_use_the_legacy_signature()
    {
        Assert.Contains("SELECT create_hypertable('readings', 'ts', chunk_time_interval => INTERVAL '12 hours', if_not_exists => TRUE)", Statements(new Version(2, 12, 1)));
        Assert.DoesNotContain(Statements(new Version(2, 12, 1)), s => s.Contains("by_range", StringComparison.Ordinal));
        Assert.Contains("SELECT create_hypertable('readings', by_range('ts', INTERVAL '12 hours'), if_not_exists => TRUE)", Statements(new Version(2, 13)));
    }

    [Fact]
    public void From_2_18_compression_uses_the_columnstore_calls()
    {
        var sql = Statements(new Version(2, 18));

        Assert.Contains("ALTER TABLE readings SET (timescaledb.enable_columnstore = true, timescaledb.segmentby = 'sensor_id', timescaledb.orderby = 'ts DESC')", sql);
        Assert.Contains("CALL add_columnstore_policy('readings', after => INTERVAL '3 days', if_not_exists => TRUE)", sql);
        Assert.DoesNotContain(sql, s => s.Contains("add_compression_policy", StringComparison.Ordinal));
        Assert.Contains("SELECT add_compression_policy('readings', compress_after => INTERVAL '3 days', if_not_exists => TRUE)", Statements(new Version(2, 17, 2)));
    }
}
