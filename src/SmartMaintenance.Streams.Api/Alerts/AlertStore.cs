using System.Text.Json;
using System.Text.Json.Nodes;
using Npgsql;
using SmartMaintenance.Streams.Api.Http;
using NpgsqlTypes;
using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Storage;

namespace SmartMaintenance.Streams.Api.Alerts;

/// <summary>Reads alerts (table alerts, kept by the engine), their revisions and operators' actions.</summary>
public sealed class AlertStore(NpgsqlDataSource dataSource)
{
    private const string Columns = """
        a.alert_id, a.status, a.revision, a.severity, a.sensor_id, a.asset_id, a.sensor_type, a.detector, a.score, a.threshold, a.value,
        a.window_start, a.window_end, a.first_seen, a.last_seen, k.actor, k.at, k.note
        """;
    private const string AckJoin = $"""
        LEFT JOIN LATERAL (SELECT actor, at, note FROM {Schema.AlertAcksTable} x WHERE x.alert_id = a.alert_id AND x.action = 'acknowledge'
                           ORDER BY at DESC LIMIT 1) k ON true
        """;

    public async Task<IReadOnlyList<AlertView>> ListAsync(string? status, int? minSeverity, string? asset, string? sensor, DateTimeOffset? since,
        DateTimeOffset? until, int limit, int offset, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand($"""
            SELECT {Columns} FROM alerts a {AckJoin}
            WHERE ($1::text IS NULL OR ($1 = 'open' AND a.status <> 'resolved') OR ($1 = 'resolved' AND a.status = 'resolved'))
              AND ($2::int IS NULL OR a.severity >= $2) AND ($3::text IS NULL OR a.asset_id = $3) AND ($4::text IS NULL OR a.sensor_id = $4)
              AND ($5::timestamptz IS NULL OR a.last_seen >= $5) AND ($6::timestamptz IS NULL OR a.last_seen < $6)
            ORDER BY a.last_seen DESC NULLS LAST, a.alert_id LIMIT $7 OFFSET $8
            """);
        cmd.Parameters.AddWithValue(NpgsqlDbType.Text, (object?)status ?? DBNull.Value);
        cmd.Parameters.AddWithValue(NpgsqlDbType.Integer, (object?)minSeverity ?? DBNull.Value);
        cmd.Parameters.AddWithValue(NpgsqlDbType.Text, (object?)asset ?? DBNull.Value);
        cmd.Parameters.AddWithValue(NpgsqlDbType.Text, (object?)sensor ?? DBNull.Value);
        cmd.Parameters.AddWithValue(NpgsqlDbType.TimestampTz, (object?)since ?? DBNull.Value);
        cmd.Parameters.AddWithValue(NpgsqlDbType.TimestampTz, (object?)until ?? DBNull.Value);
        cmd.Parameters.AddWithValue(limit);
        cmd.Parameters.AddWithValue(offset);
        return await ReadViewsAsync(cmd, ct);
    }

    public async Task<AlertView?> GetAsync(string alertId, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand($"SELECT {Columns} FROM alerts a {AckJoin} WHERE a.alert_id = $1");
        cmd.Parameters.AddWithValue(alertId);
        var list = await ReadViewsAsync(cmd, ct);
        return list.Count == 0 ? null : list[0];
    }

    public async Task<IReadOnlyList<AlertRevision>> RevisionsAsync(string alertId, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand(
            $"SELECT revision, status, severity, score, value, last_seen, recorded_at FROM {Schema.AlertRevisionsTable} WHERE alert_id = $1 ORDER BY revision, recorded_at");
        cmd.Parameters.AddWithValue(alertId);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var list = new List<AlertRevision>();
        while (await reader.ReadAsync(ct))
        {
            list.Add(new AlertRevision(reader.GetInt32(0), reader.GetString(1), reader.GetInt16(2), Rows.Double(reader, 3), Rows.Double(reader, 4),
                Rows.Time(reader, 5), reader.GetFieldValue<DateTimeOffset>(6)));
        }
        return list;
    }

    public async Task<IReadOnlyList<AlertAction>> ActionsAsync(string alertId, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand(
            $"SELECT action, actor, at, note, revision FROM {Schema.AlertAcksTable} WHERE alert_id = $1 ORDER BY at");
        cmd.Parameters.AddWithValue(alertId);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var list = new List<AlertAction>();
        while (await reader.ReadAsync(ct))
        {
            list.Add(new AlertAction(reader.GetString(0), reader.GetString(1), reader.GetFieldValue<DateTimeOffset>(2),
                reader.IsDBNull(3) ? null : reader.GetString(3), reader.GetInt32(4)));
        }
        return list;
    }

    /// <summary>The stored alert as the event the engine last published (payload), locked for the transaction.</summary>
    public static async Task<AlertEvent?> LockAsync(NpgsqlConnection conn, NpgsqlTransaction tx, string alertId, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(
            """
            SELECT payload::text, status, revision, severity, sensor_id, asset_id, sensor_type, detector, score, threshold, value,
                   window_start, window_end, first_seen, last_seen
            FROM alerts WHERE alert_id = $1 FOR UPDATE
            """, conn, tx);
        cmd.Parameters.AddWithValue(alertId);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct))
        {
            return null;
        }
        AlertEvent? stored = null;
        if (!reader.IsDBNull(0))
        {
            try
            {
                stored = JsonSerializer.Deserialize(reader.GetString(0), ContractsJsonContext.Default.AlertEvent);
            }
            catch (JsonException)
            {
                // An unreadable payload: the columns below are the alert too.
            }
        }
        var epoch = DateTimeOffset.UnixEpoch;
        return (stored ?? new AlertEvent
        {
            AlertId = alertId,
            Status = reader.GetString(1),
            SensorId = reader.GetString(4),
            Detector = reader.GetString(7),
        }) with
        {
            Status = reader.GetString(1),
            Revision = reader.GetInt32(2),
            Severity = reader.GetInt16(3),
            AssetId = reader.IsDBNull(5) ? null : reader.GetString(5),
            SensorType = reader.IsDBNull(6) ? null : reader.GetString(6),
            Score = Rows.Double(reader, 8) ?? 0,
            Threshold = Rows.Double(reader, 9) ?? 0,
            Value = Rows.Double(reader, 10) ?? 0,
            WindowStart = Rows.Time(reader, 11) ?? epoch,
            WindowEnd = Rows.Time(reader, 12) ?? epoch,
            FirstSeen = Rows.Time(reader, 13) ?? epoch,
            LastSeen = Rows.Time(reader, 14) ?? epoch,
        };
    }

    /// <summary>Records an operator's action (and, for resolve, the new status and revision) in the transaction.</summary>
    public static async Task RecordAsync(NpgsqlConnection conn, NpgsqlTransaction tx, AlertEvent alert, string action, string actor, string? note,
        CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(alert);
        await using (var cmd = new NpgsqlCommand(
            $"INSERT INTO {Schema.AlertAcksTable} (alert_id, at, actor, action, note, revision) VALUES ($1, clock_timestamp(), $2, $3, $4, $5)", conn, tx))
        {
            cmd.Parameters.AddWithValue(alert.AlertId);
            cmd.Parameters.AddWithValue(actor);
            cmd.Parameters.AddWithValue(action);
            cmd.Parameters.AddWithValue(NpgsqlDbType.Text, (object?)note ?? DBNull.Value);
            cmd.Parameters.AddWithValue(alert.Revision);
            await cmd.ExecuteNonQueryAsync(ct);
        }
        if (alert.Status == AlertStatus.Resolved)
        {
            await using var cmd = new NpgsqlCommand(
                "UPDATE alerts SET status = $2, revision = $3, payload = $4, updated_at = now() WHERE alert_id = $1", conn, tx);
            cmd.Parameters.AddWithValue(alert.AlertId);
            cmd.Parameters.AddWithValue(alert.Status);
            cmd.Parameters.AddWithValue(alert.Revision);
            cmd.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Jsonb, Value = JsonSerializer.Serialize(alert, ContractsJsonContext.Default.AlertEvent) });
            await cmd.ExecuteNonQueryAsync(ct);
        }
    }

    /// <summary>The event an operator's action puts on the alerts topic.</summary>
    public static AlertEvent ActionEvent(AlertEvent stored, string status, string actor, string? note, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(stored);
        var evidence = stored.Evidence?.DeepClone().AsObject() ?? [];
        evidence[status == AlertStatus.Resolved ? "resolved_by" : "acknowledged_by"] = actor;
        if (note is not null)
        {
            evidence["note"] = note;
        }
        return stored with
        {
            Status = status,
            Revision = status == AlertStatus.Resolved ? stored.Revision + 1 : stored.Revision,
            LastSeen = status == AlertStatus.Resolved ? now : stored.LastSeen,
            Evidence = evidence,
        };
    }

    private static async Task<IReadOnlyList<AlertView>> ReadViewsAsync(NpgsqlCommand cmd, CancellationToken ct)
    {
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var list = new List<AlertView>();
        while (await reader.ReadAsync(ct))
        {
            list.Add(new AlertView(reader.GetString(0), reader.GetString(1), reader.GetInt32(2), reader.GetInt16(3), reader.GetString(4),
                Rows.Text(reader, 5), Rows.Text(reader, 6), reader.GetString(7), Rows.Double(reader, 8), Rows.Double(reader, 9), Rows.Double(reader, 10),
                Rows.Time(reader, 11), Rows.Time(reader, 12), Rows.Time(reader, 13), Rows.Time(reader, 14),
                Rows.Text(reader, 15), Rows.Time(reader, 16), Rows.Text(reader, 17)));
        }
        return list;
    }
}
