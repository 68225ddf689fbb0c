using System.Net.Http.Headers;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using SmartMaintenance.Streams.Api.Http;
using SmartMaintenance.Streams.Api.Security;
using SmartMaintenance.Streams.Contracts;

namespace SmartMaintenance.Streams.Api.State;

/// <summary>GET /api/v1/state/sensors/{id}: a sensor's live state from the memory of the instance owning its partition
/// (Kafka Streams' interactive queries). Another instance forwards the request to the owner; while the partition is
/// being restored, or no instance owns it (a rebalance), the answer is 503 with rebalancing=true and Retry-After.</summary>
public static class StateEndpoints
{
    public const string ForwardedHeader = "X-Smstream-Forwarded";

    /// <summary>The latest reading.</summary>
    public sealed record Reading(DateTimeOffset Ts, double Value, string? AssetId, string? SensorType, string? Unit, double? Quality, long? Seq, long Offset);

    /// <summary>A detector's last firing at this sensor.</summary>
    public sealed record Firing(string Detector, DateTimeOffset Ts, double Value, double Score, double Threshold, int Severity);

    /// <summary>An open alert.</summary>
    public sealed record OpenAlert(string AlertId, string Status, int Revision, int Severity, string Detector, double Score, DateTimeOffset FirstSeen, DateTimeOffset LastSeen);

    /// <summary>The answer.</summary>
    public sealed record SensorState(string SensorId, int Partition, string Instance, Reading? Latest, IReadOnlyList<Firing> LastFirings,
        IReadOnlyList<OpenAlert> OpenAlerts, long ReadingsSeen);

    public static void Map(RouteGroupBuilder api)
    {
        ArgumentNullException.ThrowIfNull(api);
        api.MapGet("/state/sensors/{id}", GetAsync).RequireAuthorization(Roles.Read).WithTags("Live state").WithName("GetSensorState")
            .WithSummary("Latest reading, last firing per detector and open alerts of a sensor, from the owning instance's memory.")
            .Produces<SensorState>();
    }

    private static async Task<IResult> GetAsync(string id, HttpContext http, ApiServices s, InstanceDirectory directory, IHttpClientFactory clients)
    {
        var ct = http.RequestAborted;
        var sensorId = Query.Required(id, "id", s.Validation.MaxIdLength);
        var engine = s.Engine ?? throw new ApiProblem(StatusCodes.Status503ServiceUnavailable, "No engine", "this process runs no engine");
        if (engine.Live.TryGet(sensorId, out var snap))
        {
            if (engine.Live.IsRestoring(snap.Partition))
            {
                throw Rebalancing(snap.Partition, "this instance is restoring the partition's state");
            }
            return Results.Ok(View(snap, engine.InstanceId));
        }
        var count = await directory.KnownPartitionCountAsync(ct);
        if (count == 0)
        {
            throw Rebalancing(null, "no instance has recorded its partitions yet");
        }
        var partition = KeyPartitioner.PartitionOf(sensorId, count);
        var mine = engine.AssignedPartitions();
        if (Array.IndexOf(mine, partition) >= 0)
        {
            if (engine.Live.IsRestoring(partition))
            {
                throw Rebalancing(partition, "this instance is restoring the partition's state");
            }
            throw ApiProblem.NotFound("live state of sensor", sensorId);
        }
        if (http.Request.Headers.ContainsKey(ForwardedHeader))
        {
            // Forwarded here, yet not the owner: the assignment moved since the directory was written.
            throw Rebalancing(partition, "the partition's owner changed");
        }
        var owner = await directory.OwnerAsync(partition, ct);
        if (owner is null || owner.InstanceId == engine.InstanceId)
        {
            throw Rebalancing(partition, "no instance owns the partition right now");
        }
        return await ForwardAsync(http, clients, owner, sensorId, ct);
    }

    private static async Task<IResult> ForwardAsync(HttpContext http, IHttpClientFactory clients, InstanceInfo owner, string sensorId, CancellationToken ct)
    {
        var client = clients.CreateClient(nameof(StateEndpoints));
        using var request = new HttpRequestMessage(HttpMethod.Get, $"{owner.BaseUrl}/api/v1/state/sensors/{Uri.EscapeDataString(sensorId)}");
        request.Headers.TryAddWithoutValidation(ForwardedHeader, "1");
        if (ApiKeyAuthentication.Presented(http.Request) is { } key)
        {
            request.Headers.TryAddWithoutValidation(ApiKeyAuthentication.Header, key);
        }
        else if (AuthenticationHeaderValue.TryParse(http.Request.Headers.Authorization.ToString(), out var auth))
        {
            request.Headers.Authorization = auth;
        }
        using var response = await client.SendAsync(request, ct);
        ApiMetrics.Forwarded.Inc();
        var body = await response.Content.ReadAsByteArrayAsync(ct);
        if (response.Headers.RetryAfter?.Delta is { } retry)
        {
            http.Response.Headers.RetryAfter = ((int)retry.TotalSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        http.Response.StatusCode = (int)response.StatusCode;
        return Results.Bytes(body, response.Content.Headers.ContentType?.ToString() ?? "application/json");
    }

    private static ApiProblem Rebalancing(int? partition, string detail) =>
        new(StatusCodes.Status503ServiceUnavailable, "Rebalancing", detail + "; retry shortly", null,
            new Dictionary<string, object?> { ["rebalancing"] = true, ["partition"] = partition, ["retry_after"] = 2 });

    private static SensorState View(Engine.Stages.SensorLiveSnapshot s, string instance)
    {
        Reading? latest = s.Latest is { } r
            ? new Reading(r.Time, r.Value, r.AssetId, r.SensorType, r.Unit, r.HasQuality ? r.Quality : null, r.HasSeq ? r.Seq : null, r.Position.Offset)
            : null;
        var firings = new List<Firing>(s.LastAnomalies.Count);
        foreach (var a in s.LastAnomalies)
        {
            firings.Add(new Firing(a.Detector, DateTimeOffset.FromUnixTimeMilliseconds(a.Timestamp), a.Value, a.Score, a.Threshold, a.Severity));
        }
        var alerts = new List<OpenAlert>(s.OpenAlerts.Count);
        foreach (AlertEvent a in s.OpenAlerts)
        {
            alerts.Add(new OpenAlert(a.AlertId, a.Status, a.Revision, a.Severity, a.Detector, a.Score, a.FirstSeen, a.LastSeen));
        }
        return new SensorState(s.SensorId, s.Partition, instance, latest, firings, alerts, s.Readings);
    }
}
