using Npgsql;
using SmartMaintenance.Streams.Api.Http;
using NpgsqlTypes;
using SmartMaintenance.Streams.Ingest;
using SmartMaintenance.Streams.Storage;

namespace SmartMaintenance.Streams.Api.Sensors;

/// <summary>A sensor as the API lists it: registry entry (if any) and when it last stored a reading.</summary>
public sealed record SensorView(string SensorId, string? AssetId, string? SensorType, string? Unit, double? RangeMin, double? RangeMax,
    string? Description, bool Registered, DateTimeOffset? LastSeen, DateTimeOffset? UpdatedAt, string? UpdatedBy);

/// <summary>A page of sensors.</summary>
public sealed record SensorPage(IReadOnlyList<SensorView> Items, int Limit, int Offset);

/// <summary>Body of PUT /sensors/{id}.</summary>
public sealed record SensorRequest(string? AssetId, string? SensorType, string? Unit, double? RangeMin, double? RangeMax, string? Description);

/// <summary>The sensor registry (table sensor_registry), and its load into the <see cref="SensorOverrides"/> validation uses.</summary>
public sealed class SensorRegistry(NpgsqlDataSource dataSource)
{
    private const string Columns = "s.sensor_id, r.asset_id, r.sensor_type, r.unit, r.range_min, r.range_max, r.description, r.sensor_id IS NOT NULL, " +
        "(SELECT max(ts) FROM (SELECT ts FROM readings x WHERE x.sensor_id = s.sensor_id ORDER BY ts DESC LIMIT 1) l), r.updated_at, r.updated_by";

    // Known sensors: registered ones and those with stored detector state (the engine saw them).
    private const string Known = $"""
        (SELECT sensor_id FROM {Schema.SensorRegistryTable} UNION SELECT DISTINCT sensor_id FROM {Schema.DetectorStateTable}) s
        LEFT JOIN {Schema.SensorRegistryTable} r ON r.sensor_id = s.sensor_id
        """;

    public async Task<IReadOnlyList<SensorView>> ListAsync(string? asset, string? type, string? search, int limit, int offset, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand($"""
            SELECT {Columns} FROM {Known}
            WHERE ($1::text IS NULL OR r.asset_id = $1) AND ($2::text IS NULL OR r.sensor_type = $2)
              AND ($3::text IS NULL OR strpos(s.sensor_id, $3) > 0 OR strpos(coalesce(r.description, ''), $3) > 0)
            ORDER BY s.sensor_id LIMIT $4 OFFSET $5
            """);
        cmd.Parameters.AddWithValue(NpgsqlDbType.Text, (object?)asset ?? DBNull.Value);
        cmd.Parameters.AddWithValue(NpgsqlDbType.Text, (object?)type ?? DBNull.Value);
        cmd.Parameters.AddWithValue(NpgsqlDbType.Text, (object?)search ?? DBNull.Value);
        cmd.Parameters.AddWithValue(limit);
        cmd.Parameters.AddWithValue(offset);
        return await ReadAsync(cmd, ct);
    }

    public async Task<SensorView?> GetAsync(string sensorId, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand($"SELECT {Columns} FROM {Known} WHERE s.sensor_id = $1");
        cmd.Parameters.AddWithValue(sensorId);
        var list = await ReadAsync(cmd, ct);
        return list.Count == 0 ? null : list[0];
    }

    public static async Task UpsertAsync(NpgsqlConnection conn, NpgsqlTransaction tx, string sensorId, SensorRequest r, string actor, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(r);
        await using var cmd = new NpgsqlCommand($"""
            INSERT INTO {Schema.SensorRegistryTable} (sensor_id, asset_id, sensor_type, unit, range_min, range_max, description, updated_by)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
            ON CONFLICT (sensor_id) DO UPDATE SET asset_id = excluded.asset_id, sensor_type = excluded.sensor_type, unit = excluded.unit,
                range_min = excluded.range_min, range_max = excluded.range_max, description = excluded.description,
                updated_by = excluded.updated_by, updated_at = now()
            """, conn, tx);
        cmd.Parameters.AddWithValue(sensorId);
        cmd.Parameters.AddWithValue(NpgsqlDbType.Text, (object?)r.AssetId ?? DBNull.Value);
        cmd.Parameters.AddWithValue(NpgsqlDbType.Text, (object?)r.SensorType ?? DBNull.Value);
        cmd.Parameters.AddWithValue(NpgsqlDbType.Text, (object?)r.Unit ?? DBNull.Value);
        cmd.Parameters.AddWithValue(NpgsqlDbType.Double, (object?)r.RangeMin ?? DBNull.Value);
        cmd.Parameters.AddWithValue(NpgsqlDbType.Double, (object?)r.RangeMax ?? DBNull.Value);
        cmd.Parameters.AddWithValue(NpgsqlDbType.Text, (object?)r.Description ?? DBNull.Value);
        cmd.Parameters.AddWithValue(actor);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    public static async Task<bool> DeleteAsync(NpgsqlConnection conn, NpgsqlTransaction tx, string sensorId, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand($"DELETE FROM {Schema.SensorRegistryTable} WHERE sensor_id = $1", conn, tx);
        cmd.Parameters.AddWithValue(sensorId);
        return await cmd.ExecuteNonQueryAsync(ct) > 0;
    }

    /// <summary>Reads the whole registry into <paramref name="overrides"/> (what validation applies).</summary>
    public async Task LoadAsync(SensorOverrides overrides, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(overrides);
        await using var cmd = dataSource.CreateCommand(
            $"SELECT sensor_id, asset_id, sensor_type, unit, range_min, range_max FROM {Schema.SensorRegistryTable}");
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var list = new List<KeyValuePair<string, SensorOverride>>();
        while (await reader.ReadAsync(ct))
        {
            list.Add(new(reader.GetString(0), new SensorOverride(Rows.Text(reader, 1), Rows.Text(reader, 2), Rows.Text(reader, 3), Rows.Double(reader, 4), Rows.Double(reader, 5))));
        }
        overrides.Replace(list);
    }

    private static async Task<IReadOnlyList<SensorView>> ReadAsync(NpgsqlCommand cmd, CancellationToken ct)
    {
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var list = new List<SensorView>();
        while (await reader.ReadAsync(ct))
        {
            list.Add(new SensorView(reader.GetString(0), Rows.Text(reader, 1), Rows.Text(reader, 2), Rows.Text(reader, 3), Rows.Double(reader, 4), Rows.Double(reader, 5),
                Rows.Text(reader, 6), reader.GetBoolean(7), Rows.Time(reader, 8), Rows.Time(reader, 9), Rows.Text(reader, 10)));
        }
        return list;
    }
}
