using Npgsql;
using SmartMaintenance.Streams.Contracts;

namespace SmartMaintenance.Streams.Storage.Tests;

internal static class TestData
{
    public const string Group = "smstream-engine";
    public const string Topic = "sensor-readings";

    public static readonly long BaseMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 60_000 * 60_000;

    /// <summary>Readings of partition <paramref name="partition"/> at offsets [first, first + count).</summary>
    public static void AddReadings(StorageBatch batch, int partition, long firstOffset, int count, int sensors = 10)
    {
        for (var i = 0; i < count; i++)
        {
            var offset = firstOffset + i;
            batch.Readings.Add(new SensorReading(
                $"s-{offset % sensors}", BaseMs + offset, offset * 0.5, "asset-1", "vibration", "mm/s",
                Quality: i % 2 == 0 ? 0.9 : double.NaN, Seq: i % 3 == 0 ? offset : -1,
                Attributes: i % 5 == 0 ? """{"fw":"1.2"}""" : null,
                Position: new SourcePosition(partition, offset, 0)));
        }
        batch.Offsets.Add(new OffsetMark(Group, Topic, partition, firstOffset + count, firstOffset));
    }

    public static WindowAggregate Aggregate(string sensor, long startMs, int revision, double mean, string kind = "tumbling:1m", long count = 10) =>
        new(sensor, kind, startMs, startMs + 60_000, count, mean * count, mean - 1, mean + 1, mean, 0.5, mean, mean, mean, mean + 0.5, mean + 0.9,
            revision, IsFinal: false, AssetId: "asset-1", SensorType: "vibration");

    public static StorageOptions Options(string cs) => new()
    {
        ConnectionString = cs,
        UseTimescaleDb = false,
        RetryBaseDelay = TimeSpan.FromMilliseconds(50),
        RetryMaxDelay = TimeSpan.FromMilliseconds(500),
    };

    public static async Task<T> ScalarAsync<T>(string cs, string sql)
    {
        await using var conn = new NpgsqlConnection(cs + ";Pooling=false");
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, conn);
        return (T)(await cmd.ExecuteScalarAsync())!;
    }

    public static async Task ExecAsync(string cs, string sql)
    {
        await using var conn = new NpgsqlConnection(cs + ";Pooling=false");
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, conn);
        await cmd.ExecuteNonQueryAsync();
    }
}
