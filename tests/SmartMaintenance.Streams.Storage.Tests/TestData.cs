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

    /// <summary>A z-score anomaly of a sensor at <paramref name="ms"/> in the 1-minute window starting there.</summary>
    public static Anomaly Anomaly(string sensor, long ms, string evidence = """{"z":4.2}""") =>
        new(sensor, "asset-1", "vibration", "zscore", ms + 5, 9.5, 0.97, 0.9, 4, ms, ms + 60_000, evidence);

    /// <summary>The open alert of <see cref="Anomaly"/>'s episode.</summary>
    public static AlertEvent OpenAlert(string sensor, long ms) => new()
    {
        AlertId = AlertIds.For(sensor, "zscore", ms), Status = AlertStatus.Open, Revision = 0, Severity = 4,
        SensorId = sensor, AssetId = "asset-1", Detector = "zscore", Score = 0.97, Threshold = 0.9, Value = 9.5,
        WindowStart = DateTimeOffset.FromUnixTimeMilliseconds(ms), WindowEnd = DateTimeOffset.FromUnixTimeMilliseconds(ms + 60_000),
        FirstSeen = DateTimeOffset.FromUnixTimeMilliseconds(ms), LastSeen = DateTimeOffset.FromUnixTimeMilliseconds(ms + 5),
        PublishedAt = DateTimeOffset.UtcNow, Evidence = new System.Text.Json.Nodes.JsonObject { ["z"] = 4.2 },
    };

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
