using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Npgsql;
using SmartMaintenance.Streams.Api.Http;
using SmartMaintenance.Streams.Api.Security;

namespace SmartMaintenance.Streams.Api.Models;

/// <summary>/api/v1/models: the model registry (table model_registry, written by `smstream train`).</summary>
public static class ModelEndpoints
{
    /// <summary>A registered model version.</summary>
    public sealed record ModelView(string ModelId, string Name, int Version, string Kind, string? SensorType, string? OnnxPath,
        DateTimeOffset? TrainingFrom, DateTimeOffset? TrainingTo, string? DataHash, DateTimeOffset CreatedAt);

    public static void Map(RouteGroupBuilder api)
    {
        ArgumentNullException.ThrowIfNull(api);
        var models = api.MapGroup("/models").WithTags("Models");
        models.MapGet("/", ListAsync).RequireAuthorization(Roles.Read).WithName("ListModels").Produces<List<ModelView>>()
            .WithSummary("Registered model versions, newest first; filter by name or sensor_type.");
    }

    private static async Task<IResult> ListAsync(ApiServices s, string? name, string? sensorType, int? limit, CancellationToken ct)
    {
        var l = Query.Limit(limit);
        await using var cmd = s.DataSource.CreateCommand("""
            SELECT model_id, name, version, kind, sensor_type, onnx_path, training_from, training_to, data_hash, created_at FROM model_registry
            WHERE ($1::text IS NULL OR name = $1) AND ($2::text IS NULL OR sensor_type = $2)
            ORDER BY created_at DESC, version DESC LIMIT $3
            """);
        cmd.Parameters.AddWithValue(NpgsqlTypes.NpgsqlDbType.Text, (object?)Query.Text(name, "name") ?? DBNull.Value);
        cmd.Parameters.AddWithValue(NpgsqlTypes.NpgsqlDbType.Text, (object?)Query.Text(sensorType, "sensor_type") ?? DBNull.Value);
        cmd.Parameters.AddWithValue(l);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var list = new List<ModelView>();
        while (await reader.ReadAsync(ct))
        {
            list.Add(new ModelView(reader.GetString(0), reader.GetString(1), reader.GetInt32(2), reader.GetString(3), Rows.Text(reader, 4), Rows.Text(reader, 5),
                Rows.Time(reader, 6), Rows.Time(reader, 7), Rows.Text(reader, 8), reader.GetFieldValue<DateTimeOffset>(9)));
        }
        return Results.Ok(list);
    }
}
