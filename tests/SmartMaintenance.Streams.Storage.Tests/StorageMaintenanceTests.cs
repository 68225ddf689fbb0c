using SmartMaintenance.Streams.Testing;
using Xunit;

namespace SmartMaintenance.Streams.Storage.Tests;

[Collection(PostgresFixture.Collection)]
public sealed class StorageMaintenanceTests(PostgresFixture fx)
{
    [Fact]
    public async Task A_maintenance_run_creates_partitions_ahead_moves_early_rows_out_of_default_and_refreshes_rollups()
    {
        var cs = await fx.CreateDatabaseAsync();
        var options = TestData.Options(cs);
        var future = PartitionMaintenance.AlignDown(DateTimeOffset.UtcNow.AddDays(20), TimeSpan.FromHours(1)).AddMinutes(30);
        await using (var sink = new PostgresSink(options))
        {
            var batch = new StorageBatch();
            for (var m = 1; m <= 20; m++)
            {
                batch.Aggregates.Add(TestData.Aggregate("s-9", future.AddMinutes(-m).ToUnixTimeMilliseconds(), 0, m));
            }
            await sink.WriteAsync(batch, default);
        }
        Assert.Equal(20L, await TestData.ScalarAsync<long>(cs, "SELECT count(*) FROM ONLY window_aggregates_default"));

        var result = await new StorageMaintenance(options).RunOnceAsync(future);

        Assert.Equal(3 * (options.PartitionsAhead + 2), result.PartitionsCreated);
        Assert.Equal(0, result.PartitionsDropped);
        Assert.True(result.RollupRows >= 2); // at least one hourly and one daily bucket
        Assert.Equal(0L, await TestData.ScalarAsync<long>(cs, "SELECT count(*) FROM ONLY window_aggregates_default"));
        Assert.Equal(20L, await TestData.ScalarAsync<long>(cs, "SELECT (sum(count) / 10)::bigint FROM window_rollups_hourly WHERE sensor_id = 's-9'"));
    }
}
