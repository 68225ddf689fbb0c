using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using SmartMaintenance.Streams.Api.Http;
using SmartMaintenance.Streams.Api.Security;

namespace SmartMaintenance.Streams.Api.Sensors;

/// <summary>/api/v1/sensors: list/search and the registry (asset, type, unit, validation range per sensor).</summary>
public static class SensorEndpoints
{
    public static void Map(RouteGroupBuilder api)
    {
        ArgumentNullException.ThrowIfNull(api);
        var sensors = api.MapGroup("/sensors").WithTags("Sensors");
        sensors.MapGet("/", ListAsync).RequireAuthorization(Roles.Read).WithName("ListSensors").Produces<SensorPage>()
            .WithSummary("Known sensors (registered or seen by the engine), by id; filter by asset, type, q (substring of id or description).");
        sensors.MapGet("/{id}", GetAsync).RequireAuthorization(Roles.Read).WithName("GetSensor").Produces<SensorView>();
        sensors.MapPut("/{id}", PutAsync).RequireAuthorization(Roles.Administer).WithName("PutSensor").Produces<SensorView>()
            .WithSummary("Register or change a sensor; validation applies its range (replacing its type's) and fills missing asset/type/unit.");
        sensors.MapDelete("/{id}", DeleteAsync).RequireAuthorization(Roles.Administer).WithName("DeleteSensor").Produces(StatusCodes.Status204NoContent);
    }

    private static async Task<IResult> ListAsync(ApiServices s, string? asset, string? type, string? q, int? limit, int? offset, CancellationToken ct)
    {
        var l = Query.Limit(limit);
        var o = Query.Offset(offset);
        var items = await new SensorRegistry(s.DataSource).ListAsync(Query.Text(asset, "asset"), Query.Text(type, "type"), Query.Text(q, "q"), l, o, ct);
        return Results.Ok(new SensorPage(items, l, o));
    }

    private static async Task<IResult> GetAsync(string id, ApiServices s, CancellationToken ct)
    {
        var sensorId = Query.Required(id, "id", s.Validation.MaxIdLength);
        return Results.Ok(await new SensorRegistry(s.DataSource).GetAsync(sensorId, ct) ?? throw ApiProblem.NotFound("sensor", sensorId));
    }

    private static async Task<IResult> PutAsync(string id, SensorRequest? body, HttpContext http, ApiServices s)
    {
        var ct = http.RequestAborted;
        var max = s.Validation.MaxIdLength;
        var sensorId = Query.Required(id, "id", max);
        if (body is null)
        {
            throw ApiProblem.BadField("body", "a JSON object is required");
        }
        var r = new SensorRequest(Query.Text(body.AssetId, "asset_id", max), Query.Text(body.SensorType, "sensor_type", max), Query.Text(body.Unit, "unit", max),
            Query.Finite(body.RangeMin, "range_min"), Query.Finite(body.RangeMax, "range_max"), Query.Text(body.Description, "description", 2000));
        if (r.RangeMin > r.RangeMax)
        {
            throw ApiProblem.BadField("range_min", "must not exceed range_max");
        }
        await using (var conn = await s.DataSource.OpenConnectionAsync(ct))
        {
            await using var tx = await conn.BeginTransactionAsync(ct);
            await SensorRegistry.UpsertAsync(conn, tx, sensorId, r, AuditLog.Actor(http.User), ct);
            await AuditLog.WriteAsync(conn, tx, http, "sensor.put", sensorId, r, ct);
            await tx.CommitAsync(ct);
        }
        var registry = new SensorRegistry(s.DataSource);
        await registry.LoadAsync(s.Overrides, ct);
        return Results.Ok(await registry.GetAsync(sensorId, ct));
    }

    private static async Task<IResult> DeleteAsync(string id, HttpContext http, ApiServices s)
    {
        var ct = http.RequestAborted;
        var sensorId = Query.Required(id, "id", s.Validation.MaxIdLength);
        await using (var conn = await s.DataSource.OpenConnectionAsync(ct))
        {
            await using var tx = await conn.BeginTransactionAsync(ct);
            if (!await SensorRegistry.DeleteAsync(conn, tx, sensorId, ct))
            {
                throw ApiProblem.NotFound("registered sensor", sensorId);
            }
            await AuditLog.WriteAsync(conn, tx, http, "sensor.delete", sensorId, null, ct);
            await tx.CommitAsync(ct);
        }
        await new SensorRegistry(s.DataSource).LoadAsync(s.Overrides, ct);
        return Results.NoContent();
    }
}
