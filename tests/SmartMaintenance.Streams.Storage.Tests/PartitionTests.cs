using Npgsql;
using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Testing;
using Xunit;

namespace SmartMaintenance.Streams.Storage.Tests;

[Collection(PostgresFixture.Collection)]
public sealed class PartitionTests(PostgresFixture fx)
{
    [Fact]
    public async Task Partitions_are_created_for_the_current_interval_and_the_configured_number_ahead()
    {
        var cs = await fx.CreateDatabaseAsync();
        var options = TestData.Options(cs);
        options.PartitionsAhead = 5;
        var now = new DateTimeOffset(2031, 3, 10, 15, 30, 0, TimeSpan.Zero);

        var created = await PartitionMaintenance.EnsureAheadAsync(cs, options, now);
        var again = await PartitionMaintenance.EnsureAheadAsync(cs, options, now);

        Assert.Equal(3 * 7, created); // previous + current + 5 ahead, for three tables
        Assert.Equal(0, again);
        await using var conn = new NpgsqlConnection(cs + ";Pooling=false");
        await conn.OpenAsync();
        var parts = (await PartitionMaintenance.ListAsync(conn, "readings")).Where(p => p.From.Year == 2031).ToList();
        Assert.Equal(7, parts.Count);
        Assert.Equal(new DateTimeOffset(2031, 3, 9, 0, 0, 0, TimeSpan.Zero), parts[0].From);
        Assert.Equal(new DateTimeOffset(2031, 3, 16, 0, 0, 0, TimeSpan.Zero), parts[^1].To);
        Assert.Equal("readings_p2031031500", parts[^1].Name);
    }

    [Fact]
    public async Task A_reading_outside_every_partition_lands_in_default_and_moves_when_its_partition_is_created()
    {
        var cs = await fx.CreateDatabaseAsync();
        var options = TestData.Options(cs);
        var old = new DateTimeOffset(2020, 6, 1, 12, 0, 0, TimeSpan.Zero);
        await using (var sink = new PostgresSink(options))
        {
            var batch = new StorageBatch();
            batch.Readings.Add(new SensorReading("s-old", old.ToUnixTimeMilliseconds(), 1.5));
            await sink.WriteAsync(batch, default);
        }
        Assert.Equal(1L, await TestData.ScalarAsync<long>(cs, "SELECT count(*) FROM ONLY readings_default"));

        await PartitionMaintenance.EnsureAheadAsync(cs, options, old);

        Assert.Equal(0L, await TestData.ScalarAsync<long>(cs, "SELECT count(*) FROM readings_default"));
        Assert.Equal(1L, await TestData.ScalarAsync<long>(cs, "SELECT count(*) FROM readings_p2020060100"));
        Assert.Equal(1L, await TestData.ScalarAsync<long>(cs, "SELECT count(*) FROM readings WHERE sensor_id = 's-old'"));
    }

    [Fact]
    public async Task Expired_partitions_are_dropped_and_recent_ones_kept()
    {
        var cs = await fx.CreateDatabaseAsync();
        var options = TestData.Options(cs);
        options.Retention = TimeSpan.FromDays(3);
        var then = new DateTimeOffset(2030, 1, 10, 0, 0, 0, TimeSpan.Zero);
        await PartitionMaintenance.EnsureAheadAsync(cs, options, then); // 2030-01-09 .. 2030-01-13
        await TestData.ExecAsync(cs, "INSERT INTO readings (sensor_id, ts, value) VALUES ('x', '2000-01-01Z', 1), ('y', '2030-01-12 05:00Z', 2)");

        var cutoff = new DateTimeOffset(2030, 1, 11, 0, 0, 0, TimeSpan.Zero);
        var expected = 0;
        await using (var conn = new NpgsqlConnection(cs + ";Pooling=false"))
        {
            await conn.OpenAsync();
            foreach (var (table, _) in Schema.TimeSeriesTables)
            {
                expected += (await PartitionMaintenance.ListAsync(conn, table)).Count(p => p.To <= cutoff);
            }
        }

        var dropped = await PartitionMaintenance.DropExpiredAsync(cs, options, cutoff + options.Retention);

        Assert.True(expected >= 3 * 2); // at least 01-09 and 01-10 (end at or before the cutoff), for three tables
        Assert.Equal(expected, dropped);
        Assert.False(await TestData.ScalarAsync<bool>(cs, "SELECT to_regclass('readings_p2030010900') IS NOT NULL"));
        Assert.True(await TestData.ScalarAsync<bool>(cs, "SELECT to_regclass('readings_p2030011100') IS NOT NULL"));
        Assert.Equal("y", await TestData.ScalarAsync<string>(cs, "SELECT string_agg(sensor_id, ',') FROM readings WHERE ts < '2031-01-01Z'"));
    }
}
