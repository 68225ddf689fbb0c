using System.Security.Claims;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Npgsql;
using NpgsqlTypes;
using SmartMaintenance.Streams.Api.Http;
using SmartMaintenance.Streams.Storage;

namespace SmartMaintenance.Streams.Api.Security;

/// <summary>One entry of the audit log.</summary>
public sealed record AuditEntry(long Id, DateTimeOffset At, string Actor, string Role, string Action, string Target, JsonElement? Detail, string? Remote);

/// <summary>Who changed what, when and from where (table api_audit). Every changing endpoint writes one row in the
/// same transaction as its change, so a change without its audit row cannot happen.</summary>
public static class AuditLog
{
    public static string Actor(ClaimsPrincipal user)
    {
        ArgumentNullException.ThrowIfNull(user);
        return user.FindFirstValue(ClaimTypes.NameIdentifier) ?? user.Identity?.Name ?? "anonymous";
    }

    public static string Role(ClaimsPrincipal user)
    {
        ArgumentNullException.ThrowIfNull(user);
        foreach (var role in new[] { Roles.Admin, Roles.Operator, Roles.Viewer })
        {
            if (user.IsInRole(role))
            {
                return role;
            }
        }
        return "none";
    }

    public static async Task WriteAsync(NpgsqlConnection conn, NpgsqlTransaction? tx, HttpContext context, string action, string target, object? detail,
        CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(context);
        await using var cmd = new NpgsqlCommand(
            $"INSERT INTO {Schema.AuditTable} (actor, role, action, target, detail, remote) VALUES ($1, $2, $3, $4, $5, $6)", conn, tx);
        cmd.Parameters.AddWithValue(Actor(context.User));
        cmd.Parameters.AddWithValue(Role(context.User));
        cmd.Parameters.AddWithValue(action);
        cmd.Parameters.AddWithValue(target);
        cmd.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Jsonb, Value = detail is null ? DBNull.Value : JsonSerializer.Serialize(detail, ApiJson.Options) });
        cmd.Parameters.AddWithValue((object?)context.Connection.RemoteIpAddress?.ToString() ?? DBNull.Value);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    public static async Task<IReadOnlyList<AuditEntry>> ListAsync(NpgsqlDataSource dataSource, string? actor, string? action, DateTimeOffset? since, int limit,
        CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        await using var cmd = dataSource.CreateCommand($"""
            SELECT id, at, actor, role, action, target, detail::text, remote FROM {Schema.AuditTable}
            WHERE ($1::text IS NULL OR actor = $1) AND ($2::text IS NULL OR action = $2) AND ($3::timestamptz IS NULL OR at >= $3)
            ORDER BY id DESC LIMIT $4
            """);
        cmd.Parameters.AddWithValue(NpgsqlDbType.Text, (object?)actor ?? DBNull.Value);
        cmd.Parameters.AddWithValue(NpgsqlDbType.Text, (object?)action ?? DBNull.Value);
        cmd.Parameters.AddWithValue(NpgsqlDbType.TimestampTz, (object?)since ?? DBNull.Value);
        cmd.Parameters.AddWithValue(limit);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var list = new List<AuditEntry>();
        while (await reader.ReadAsync(ct))
        {
            JsonElement? detail = reader.IsDBNull(6) ? null : JsonDocument.Parse(reader.GetString(6)).RootElement.Clone();
            list.Add(new AuditEntry(reader.GetInt64(0), new DateTimeOffset(reader.GetDateTime(1), TimeSpan.Zero), reader.GetString(2), reader.GetString(3),
                reader.GetString(4), reader.GetString(5), detail, reader.IsDBNull(7) ? null : reader.GetString(7)));
        }
        return list;
    }
}
