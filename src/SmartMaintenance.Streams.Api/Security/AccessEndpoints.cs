using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using SmartMaintenance.Streams.Api.Http;

namespace SmartMaintenance.Streams.Api.Security;

/// <summary>/api/v1/keys (admin) and /api/v1/audit (admin), and /api/v1/whoami (anyone authenticated).</summary>
public static class AccessEndpoints
{
    /// <summary>Body of a new key.</summary>
    public sealed record KeyRequest(string? Name, string? Role, int? RateLimit);

    /// <summary>Who the caller is, as the API sees it.</summary>
    public sealed record WhoAmI(string Actor, string Role);

    public static void Map(RouteGroupBuilder api)
    {
        ArgumentNullException.ThrowIfNull(api);
        api.MapGet("/whoami", (HttpContext http) => Results.Ok(new WhoAmI(AuditLog.Actor(http.User), AuditLog.Role(http.User))))
            .RequireAuthorization(Roles.Read).WithTags("Access").WithName("WhoAmI").Produces<WhoAmI>();
        var keys = api.MapGroup("/keys").WithTags("Access");
        keys.MapGet("/", async (ApiKeyStore store, CancellationToken ct) => Results.Ok(await store.ListAsync(ct)))
            .RequireAuthorization(Roles.Administer).WithName("ListKeys").Produces<List<ApiKeyInfo>>().WithSummary("API keys (never their secrets).");
        keys.MapPost("/", CreateAsync).RequireAuthorization(Roles.Administer).WithName("CreateKey").Produces<CreatedApiKey>(StatusCodes.Status201Created)
            .WithSummary("Create a key; the answer is the only time its secret is shown.");
        keys.MapDelete("/{id}", RevokeAsync).RequireAuthorization(Roles.Administer).WithName("RevokeKey").Produces(StatusCodes.Status204NoContent);
        api.MapGet("/audit", ListAuditAsync).RequireAuthorization(Roles.Administer).WithTags("Access").WithName("ListAudit").Produces<List<AuditEntry>>()
            .WithSummary("The audit log, newest first: who changed what, when and from where.");
    }

    private static async Task<IResult> CreateAsync(KeyRequest? body, HttpContext http, ApiKeyStore store, ApiServices s)
    {
        var name = Query.Required(body?.Name, "name", 100);
        var role = Query.Required(body?.Role, "role", 20);
        if (!Roles.IsRole(role))
        {
            throw ApiProblem.BadField("role", "must be viewer, operator or admin");
        }
        if (body!.RateLimit is < 1 or > 1_000_000)
        {
            throw ApiProblem.BadField("rate_limit", "must be within 1..1000000 requests/s");
        }
        var created = await store.CreateAsync(name, role, body.RateLimit, http.RequestAborted);
        await using var conn = await s.DataSource.OpenConnectionAsync(http.RequestAborted);
        await AuditLog.WriteAsync(conn, null, http, "key.create", created.Info.KeyId, new { name, role, rate_limit = body.RateLimit }, http.RequestAborted);
        return Results.Created($"/api/v1/keys/{created.Info.KeyId}", created);
    }

    private static async Task<IResult> RevokeAsync(string id, HttpContext http, ApiKeyStore store, ApiServices s)
    {
        var keyId = Query.Required(id, "id", 64);
        if (!await store.RevokeAsync(keyId, http.RequestAborted))
        {
            throw ApiProblem.NotFound("active key", keyId);
        }
        await using var conn = await s.DataSource.OpenConnectionAsync(http.RequestAborted);
        await AuditLog.WriteAsync(conn, null, http, "key.revoke", keyId, null, http.RequestAborted);
        return Results.NoContent();
    }

    private static async Task<IResult> ListAuditAsync(ApiServices s, string? actor, string? action, string? since, int? limit, CancellationToken ct) =>
        Results.Ok(await AuditLog.ListAsync(s.DataSource, Query.Text(actor, "actor"), Query.Text(action, "action"), Query.Time(since, "since"),
            Query.Limit(limit), ct));
}
