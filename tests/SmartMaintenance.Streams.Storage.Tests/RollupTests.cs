using SmartMaintenance.Streams.Testing;
using Xunit;

namespace SmartMaintenance.Streams.Storage.Tests;

[Collection(PostgresFixture.Collection)]
public sealed class RollupTests(PostgresFixture fx)
{
    [Fact]
    public async Task Hourly_and_daily_rollups_combine_minute_aggregates_exactly_and_follow_corrections()
    {
        var cs = await fx.CreateDatabaseAsync();
        var options = TestData.Options(cs);
        var start = new DateTimeOffset(2026, 11, 20, 10, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();
        await using var sink = new PostgresSink(options);
        var batch = new StorageBatch();
        // Two hours of minutes; minute m has 10 samples with mean m and sample stddev 1.
        for (var m = 0; m < 120; m++)
        {
            batch.Aggregates.Add(TestData.Aggregate("s-1", start + (m * 60_000L), 0, m) with { StdDev = 1, First = m, Last = m + 0.5 });
        }
        batch.Aggregates.Add(TestData.Aggregate("s-1", start, 0, 99, kind: "5m")); // another kind: not rolled up
        await sink.WriteAsync(batch, default);
        var refresher = new RollupRefresher(cs, options);
        var from = DateTimeOffset.FromUnixTimeMilliseconds(start);

        await refresher.RefreshAsync(from, from.AddHours(2));

        Assert.Equal(2L, await TestData.ScalarAsync<long>(cs, "SELECT count(*) FROM window_rollups_hourly"));
        Assert.Equal(600L, await TestData.ScalarAsync<long>(cs, "SELECT count FROM window_rollups_hourly WHERE bucket = '2026-11-20 10:00Z'"));
        Assert.Equal(29.5, await TestData.ScalarAsync<double>(cs, "SELECT mean FROM window_rollups_hourly WHERE bucket = '2026-11-20 10:00Z'"), 9);
        Assert.Equal(0.0, await TestData.ScalarAsync<double>(cs, "SELECT first FROM window_rollups_hourly WHERE bucket = '2026-11-20 10:00Z'"));
        Assert.Equal(59.5, await TestData.ScalarAsync<double>(cs, "SELECT last FROM window_rollups_hourly WHERE bucket = '2026-11-20 10:00Z'"));
        // Pooled sample stddev of 60 groups of 10 with means 0..59 and within-group stddev 1.
        var expected = PooledStdDev(Enumerable.Range(0, 60).Select(m => (double)m).ToArray(), n: 10, sd: 1);
        Assert.Equal(expected, await TestData.ScalarAsync<double>(cs, "SELECT stddev FROM window_rollups_hourly WHERE bucket = '2026-11-20 10:00Z'"), 6);
        Assert.Equal(1200L, await TestData.ScalarAsync<long>(cs, "SELECT count FROM window_rollups_daily WHERE bucket = '2026-11-20 00:00Z'"));
        Assert.Equal(59.5, await TestData.ScalarAsync<double>(cs, "SELECT mean FROM window_rollups_daily"), 9);

        batch.Clear();
        batch.Aggregates.Add(TestData.Aggregate("s-1", start, 1, 1000) with { StdDev = 1 }); // late correction of the first minute
        await sink.WriteAsync(batch, default);
        await refresher.RefreshAsync(from, from.AddMinutes(1));

        Assert.Equal(1000.0, await TestData.ScalarAsync<double>(cs, "SELECT max FROM window_rollups_hourly WHERE bucket = '2026-11-20 10:00Z'") - 1);
        Assert.Equal(1001.0, await TestData.ScalarAsync<double>(cs, "SELECT max FROM window_rollups_daily"));
    }

    private static double PooledStdDev(double[] means, int n, double sd)
    {
        var total = means.Length * n;
        var sum = means.Sum() * n;
        var sumSq = means.Sum(m => ((n - 1) * sd * sd) + (n * m * m));
        return Math.Sqrt((sumSq - (sum * sum / total)) / (total - 1));
    }
}
