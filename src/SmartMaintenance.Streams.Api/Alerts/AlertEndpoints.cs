using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using SmartMaintenance.Streams.Api.Http;
using SmartMaintenance.Streams.Api.Security;
using SmartMaintenance.Streams.Contracts;

namespace SmartMaintenance.Streams.Api.Alerts;

/// <summary>/api/v1/alerts and /api/v1/silences.</summary>
public static class AlertEndpoints
{
    private static readonly TimeSpan MaxSilence = TimeSpan.FromDays(366);

    public static void Map(RouteGroupBuilder api)
    {
        ArgumentNullException.ThrowIfNull(api);
        var alerts = api.MapGroup("/alerts").WithTags("Alerts");
        alerts.MapGet("/", ListAsync).RequireAuthorization(Roles.Read).WithName("ListAlerts").Produces<AlertPage>()
            .WithSummary("Alerts, newest first; filter by status (open|resolved), min_severity, asset, sensor, since/until (last_seen).");
        alerts.MapGet("/{id}", GetAsync).RequireAuthorization(Roles.Read).WithName("GetAlert").Produces<AlertDetail>()
            .WithSummary("One alert with every revision it went through and operators' actions.");
        alerts.MapPost("/{id}/acknowledge", (string id, AlertNote? body, HttpContext http, ApiServices s) => ActAsync(id, body, http, s, AlertStatus.Acknowledged))
            .RequireAuthorization(Roles.Operate).WithName("AcknowledgeAlert").Produces<AlertView>().WithSummary("Acknowledge (who and when are recorded, with an optional note); an event goes on the alerts topic.");
        alerts.MapPost("/{id}/resolve", (string id, AlertNote? body, HttpContext http, ApiServices s) => ActAsync(id, body, http, s, AlertStatus.Resolved))
            .RequireAuthorization(Roles.Operate).WithName("ResolveAlert").Produces<AlertView>().WithSummary("Resolve by hand (revision + 1); an event goes on the alerts topic.");

        var silences = api.MapGroup("/silences").WithTags("Silences");
        silences.MapGet("/", ListSilencesAsync).RequireAuthorization(Roles.Read).WithName("ListSilences").Produces<List<SilenceView>>()
            .WithSummary("Silences, newest first; active=true for those in force.");
        silences.MapGet("/{id}", GetSilenceAsync).RequireAuthorization(Roles.Read).WithName("GetSilence").Produces<SilenceView>();
        silences.MapPost("/", CreateSilenceAsync).RequireAuthorization(Roles.Operate).WithName("CreateSilence").Produces<SilenceView>(StatusCodes.Status201Created)
            .WithSummary("Silence matching alerts (asset_id, sensor_id, sensor_type, detector: exact or prefix*) from starts_at to ends_at; the notifier does not deliver them.");
        silences.MapDelete("/{id}", ExpireSilenceAsync).RequireAuthorization(Roles.Operate).WithName("ExpireSilence").Produces(StatusCodes.Status204NoContent).WithSummary("End a silence now.");
    }

    private static async Task<IResult> ListAsync(ApiServices s, string? status, [FromQuery(Name = "min_severity")] int? minSeverity, string? asset, string? sensor, string? since, string? until,
        int? limit, int? offset, CancellationToken ct)
    {
        if (status is not (null or "" or "open" or "resolved"))
        {
            throw ApiProblem.BadField("status", "must be open or resolved");
        }
        if (minSeverity is < 1 or > 5)
        {
            throw ApiProblem.BadField("min_severity", "must be within 1..5");
        }
        var l = Query.Limit(limit);
        var o = Query.Offset(offset);
        var items = await new AlertStore(s.DataSource).ListAsync(Query.Text(status, "status"), minSeverity, Query.Text(asset, "asset"), Query.Text(sensor, "sensor"),
            Query.Time(since, "since"), Query.Time(until, "until"), l, o, ct);
        return Results.Ok(new AlertPage(items, l, o));
    }

    private static async Task<IResult> GetAsync(string id, ApiServices s, CancellationToken ct)
    {
        var alertId = Query.Required(id, "id");
        var store = new AlertStore(s.DataSource);
        var alert = await store.GetAsync(alertId, ct) ?? throw ApiProblem.NotFound("alert", alertId);
        return Results.Ok(new AlertDetail(alert, await store.RevisionsAsync(alertId, ct), await store.ActionsAsync(alertId, ct)));
    }

    private static async Task<IResult> ActAsync(string id, AlertNote? body, HttpContext http, ApiServices s, string status)
    {
        var ct = http.RequestAborted;
        var alertId = Query.Required(id, "id");
        var note = Query.Text(body?.Note, "note", 2000);
        var actor = AuditLog.Actor(http.User);
        await using var conn = await s.DataSource.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var stored = await AlertStore.LockAsync(conn, tx, alertId, ct) ?? throw ApiProblem.NotFound("alert", alertId);
        if (stored.Status == AlertStatus.Resolved)
        {
            throw ApiProblem.Conflict($"alert '{alertId}' is already resolved");
        }
        var action = status == AlertStatus.Resolved ? "resolve" : "acknowledge";
        var evt = AlertStore.ActionEvent(stored, status, actor, note, DateTimeOffset.UtcNow);
        await AlertStore.RecordAsync(conn, tx, evt, action, actor, note, ct);
        await AuditLog.WriteAsync(conn, tx, http, "alert." + action, alertId, new { note, revision = evt.Revision }, ct);
        // On the topic before the commit: a failed send rolls the action back, so the database never has one the topic lacks.
        await s.Alerts.PublishAsync(evt, ct);
        await tx.CommitAsync(ct);
        var store = new AlertStore(s.DataSource);
        return Results.Ok(await store.GetAsync(alertId, ct));
    }

    private static async Task<IResult> ListSilencesAsync(ApiServices s, bool? active, int? limit, int? offset, CancellationToken ct)
    {
        var l = Query.Limit(limit);
        var o = Query.Offset(offset);
        return Results.Ok(await new SilenceStore(s.DataSource).ListAsync(active ?? false, l, o, ct));
    }

    private static async Task<IResult> GetSilenceAsync(string id, ApiServices s, CancellationToken ct)
    {
        var silenceId = Query.Required(id, "id");
        return Results.Ok(await new SilenceStore(s.DataSource).GetAsync(silenceId, ct) ?? throw ApiProblem.NotFound("silence", silenceId));
    }

    private static async Task<IResult> CreateSilenceAsync(SilenceRequest? body, HttpContext http, ApiServices s)
    {
        var ct = http.RequestAborted;
        if (body is null)
        {
            throw ApiProblem.BadField("body", "a JSON object is required");
        }
        var r = body with
        {
            AssetId = Query.Text(body.AssetId, "asset_id"),
            SensorId = Query.Text(body.SensorId, "sensor_id"),
            SensorType = Query.Text(body.SensorType, "sensor_type"),
            Detector = Query.Text(body.Detector, "detector"),
        };
        if (r.AssetId is null && r.SensorId is null && r.SensorType is null && r.Detector is null)
        {
            throw ApiProblem.BadField("asset_id", "at least one matcher (asset_id, sensor_id, sensor_type, detector) is required");
        }
        var reason = Query.Required(body.Reason, "reason", 2000);
        var starts = body.StartsAt ?? DateTimeOffset.UtcNow;
        var ends = body.EndsAt ?? throw ApiProblem.BadField("ends_at", "is required");
        if (ends <= starts)
        {
            throw ApiProblem.BadField("ends_at", "must be after starts_at");
        }
        if (ends - starts > MaxSilence || starts.Year < 2000 || ends.Year > 9000)
        {
            throw ApiProblem.BadField("ends_at", "a silence lasts at most 366 days");
        }
        await using var conn = await s.DataSource.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var id = await SilenceStore.InsertAsync(conn, tx, r, starts, ends, reason, AuditLog.Actor(http.User), ct);
        await AuditLog.WriteAsync(conn, tx, http, "silence.create", id, r with { StartsAt = starts, EndsAt = ends, Reason = reason }, ct);
        await tx.CommitAsync(ct);
        var view = await new SilenceStore(s.DataSource).GetAsync(id, ct);
        return Results.Created($"/api/v1/silences/{id}", view);
    }

    private static async Task<IResult> ExpireSilenceAsync(string id, HttpContext http, ApiServices s)
    {
        var ct = http.RequestAborted;
        var silenceId = Query.Required(id, "id");
        await using var conn = await s.DataSource.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        if (!await SilenceStore.ExpireAsync(conn, tx, silenceId, ct))
        {
            throw ApiProblem.NotFound("active silence", silenceId);
        }
        await AuditLog.WriteAsync(conn, tx, http, "silence.expire", silenceId, null, ct);
        await tx.CommitAsync(ct);
        return Results.NoContent();
    }
}
