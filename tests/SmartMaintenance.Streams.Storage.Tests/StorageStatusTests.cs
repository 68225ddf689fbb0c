using SmartMaintenance.Streams.Testing;
using Xunit;

namespace SmartMaintenance.Streams.Storage.Tests;

[Collection(PostgresFixture.Collection)]
public sealed class StorageStatusTests(PostgresFixture fx)
{
    [Fact]
    public async Task Status_reports_version_mode_partitions_sizes_and_stored_offsets()
    {
        var cs = await fx.CreateDatabaseAsync();
        await using (var sink = new PostgresSink(TestData.Options(cs)))
        {
            var batch = new StorageBatch();
            TestData.AddReadings(batch, 4, 10, 3000);
            await sink.WriteAsync(batch, default);
        }
        await TestData.ExecAsync(cs, "ANALYZE readings");

        var status = await StorageStatus.ReadAsync(cs);

        Assert.Equal(Schema.LatestVersion, status.SchemaVersion);
        Assert.Equal(StorageMode.NativePartitions, status.Mode);
        Assert.False(status.TimescaleDbInstalled);
        var readings = Assert.Single(status.Tables, t => t.Table == "readings");
        Assert.True(readings.Partitions >= 5, $"partitions: {readings.Partitions}");
        Assert.True(readings.TotalBytes > 0);
        Assert.InRange(readings.EstimatedRows, 2500, 3500);
        Assert.True(Assert.Single(status.Tables, t => t.Table == "alerts").TotalBytes > 0);
        var offset = Assert.Single(status.Offsets);
        Assert.Equal((4, 3010L, 10L), (offset.Partition, offset.NextOffset, offset.ReplayFrom));
    }

    [Fact]
    public async Task Status_of_an_unmigrated_database_reports_version_zero_and_no_tables()
    {
        var cs = await fx.CreateDatabaseAsync(migrated: false);

        var status = await StorageStatus.ReadAsync(cs);

        Assert.Equal(0, status.SchemaVersion);
        Assert.Null(status.Mode);
        Assert.Empty(status.Tables);
    }
}
