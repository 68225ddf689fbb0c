using System.Security.Cryptography;
using Npgsql;
using SmartMaintenance.Streams.Api.Http;
using NpgsqlTypes;
using SmartMaintenance.Streams.Storage;

namespace SmartMaintenance.Streams.Api.Alerts;

/// <summary>Silences in table alert_silences; the notifier reads the active ones (PostgresSilences).</summary>
public sealed class SilenceStore(NpgsqlDataSource dataSource)
{
    private const string Columns = "silence_id, asset_id, sensor_id, sensor_type, detector, starts_at, ends_at, reason, created_by, created_at, expired_at";

    public async Task<IReadOnlyList<SilenceView>> ListAsync(bool activeOnly, int limit, int offset, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand($"""
            SELECT {Columns} FROM {Schema.SilencesTable}
            WHERE NOT $1 OR (expired_at IS NULL AND ends_at > now())
            ORDER BY created_at DESC, silence_id LIMIT $2 OFFSET $3
            """);
        cmd.Parameters.AddWithValue(activeOnly);
        cmd.Parameters.AddWithValue(limit);
        cmd.Parameters.AddWithValue(offset);
        return await ReadAsync(cmd, ct);
    }

    public async Task<SilenceView?> GetAsync(string id, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand($"SELECT {Columns} FROM {Schema.SilencesTable} WHERE silence_id = $1");
        cmd.Parameters.AddWithValue(id);
        var list = await ReadAsync(cmd, ct);
        return list.Count == 0 ? null : list[0];
    }

    public static async Task<string> InsertAsync(NpgsqlConnection conn, NpgsqlTransaction tx, SilenceRequest r, DateTimeOffset startsAt, DateTimeOffset endsAt,
        string reason, string actor, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(r);
        var id = "sil_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        await using var cmd = new NpgsqlCommand($"""
            INSERT INTO {Schema.SilencesTable} (silence_id, asset_id, sensor_id, sensor_type, detector, starts_at, ends_at, reason, created_by)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
            """, conn, tx);
        cmd.Parameters.AddWithValue(id);
        cmd.Parameters.AddWithValue(NpgsqlDbType.Text, (object?)r.AssetId ?? DBNull.Value);
        cmd.Parameters.AddWithValue(NpgsqlDbType.Text, (object?)r.SensorId ?? DBNull.Value);
        cmd.Parameters.AddWithValue(NpgsqlDbType.Text, (object?)r.SensorType ?? DBNull.Value);
        cmd.Parameters.AddWithValue(NpgsqlDbType.Text, (object?)r.Detector ?? DBNull.Value);
        cmd.Parameters.AddWithValue(startsAt);
        cmd.Parameters.AddWithValue(endsAt);
        cmd.Parameters.AddWithValue(reason);
        cmd.Parameters.AddWithValue(actor);
        await cmd.ExecuteNonQueryAsync(ct);
        return id;
    }

    /// <summary>Ends a silence now; false when it does not exist or has already ended.</summary>
    public static async Task<bool> ExpireAsync(NpgsqlConnection conn, NpgsqlTransaction tx, string id, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(
            $"UPDATE {Schema.SilencesTable} SET expired_at = now() WHERE silence_id = $1 AND expired_at IS NULL", conn, tx);
        cmd.Parameters.AddWithValue(id);
        return await cmd.ExecuteNonQueryAsync(ct) > 0;
    }

    private static async Task<IReadOnlyList<SilenceView>> ReadAsync(NpgsqlCommand cmd, CancellationToken ct)
    {
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var list = new List<SilenceView>();
        var now = DateTimeOffset.UtcNow;
        while (await reader.ReadAsync(ct))
        {
            var starts = reader.GetFieldValue<DateTimeOffset>(5);
            var ends = reader.GetFieldValue<DateTimeOffset>(6);
            DateTimeOffset? expired = reader.IsDBNull(10) ? null : reader.GetFieldValue<DateTimeOffset>(10);
            list.Add(new SilenceView(reader.GetString(0), Rows.Text(reader, 1), Rows.Text(reader, 2), Rows.Text(reader, 3), Rows.Text(reader, 4), starts, ends,
                reader.GetString(7), reader.GetString(8), reader.GetFieldValue<DateTimeOffset>(9), expired,
                expired is null && now >= starts && now < ends));
        }
        return list;
    }
}
