using SmartMaintenance.Streams.Api.Security;
using Xunit;

namespace SmartMaintenance.Streams.Api.Tests;

/// <summary>Every endpoint × every kind of caller: 401 without valid credentials, 403 for a role below the endpoint's,
/// and the endpoint's own answer for every role at or above it (API keys and JWT bearer tokens alike).</summary>
[Collection(ApiCollection.Name)]
public sealed class AuthorizationMatrixTests(ApiFixture fx)
{
    private static string Reading(string sensor) =>
        $$"""{"sensor_id":"{{sensor}}","ts":{{DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()}},"value":20.5,"sensor_type":"temperature"}""";

    private static readonly string Silence =
        $$"""{"sensor_id":"matrix-*","ends_at":"{{DateTimeOffset.UtcNow.AddHours(1):O}}","reason":"matrix"}""";

    /// <summary>(method, path, body, least role, status for an allowed caller).</summary>
    public static TheoryData<string, string, string?, string, int> Endpoints() => new()
    {
        { "GET", "/api/v1/whoami", null, Roles.Viewer, 200 },
        { "GET", "/api/v1/alerts?status=open", null, Roles.Viewer, 200 },
        { "GET", "/api/v1/alerts/al_nosuch", null, Roles.Viewer, 404 },
        { "POST", "/api/v1/alerts/al_nosuch/acknowledge", """{"note":"x"}""", Roles.Operator, 404 },
        { "POST", "/api/v1/alerts/al_nosuch/resolve", "{}", Roles.Operator, 404 },
        { "GET", "/api/v1/silences", null, Roles.Viewer, 200 },
        { "GET", "/api/v1/silences/sil_nosuch", null, Roles.Viewer, 404 },
        { "POST", "/api/v1/silences", Silence, Roles.Operator, 201 },
        { "DELETE", "/api/v1/silences/sil_nosuch", null, Roles.Operator, 404 },
        { "GET", "/api/v1/sensors?limit=5", null, Roles.Viewer, 200 },
        { "GET", "/api/v1/sensors/matrix-nosuch", null, Roles.Viewer, 404 },
        { "PUT", "/api/v1/sensors/matrix-registered", """{"asset_id":"pump-1","sensor_type":"temperature","unit":"C"}""", Roles.Admin, 200 },
        { "DELETE", "/api/v1/sensors/matrix-nosuch", null, Roles.Admin, 404 },
        { "POST", "/api/v1/readings", Reading("matrix-s1"), Roles.Operator, 202 },
        { "POST", "/api/v1/score", Reading("matrix-s2"), Roles.Operator, 200 },
        { "GET", "/api/v1/models", null, Roles.Viewer, 200 },
        { "GET", "/api/v1/keys", null, Roles.Admin, 200 },
        { "POST", "/api/v1/keys", """{"name":"matrix","role":"viewer"}""", Roles.Admin, 201 },
        { "DELETE", "/api/v1/keys/nosuch", null, Roles.Admin, 404 },
        { "GET", "/api/v1/audit?limit=5", null, Roles.Admin, 200 },
    };

    [Theory]
    [MemberData(nameof(Endpoints))]
    public async Task Each_endpoint_answers_each_caller_by_role(string method, string path, string? body, string least, int allowed)
    {
        var rank = Rank(least);
        string[] callers = ["none", "bad", "revoked", Roles.Viewer, Roles.Operator, Roles.Admin, "jwt:viewer", "jwt:operator", "jwt:admin"];
        foreach (var who in callers)
        {
            var (status, problem, response) = await fx.SendAsync(new HttpMethod(method), path, who, body);
            var role = who.StartsWith("jwt:", StringComparison.Ordinal) ? who[4..] : who;
            var expected = role is "none" or "bad" or "revoked" ? 401 : Rank(role) >= rank ? allowed : 403;
            Assert.True(expected == status, $"{method} {path} as {who}: expected {expected}, got {status} {problem?.ToJsonString()}");
            if (status >= 400)
            {
                Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
                Assert.Equal(status, (int?)problem?["status"]);
            }
        }
    }

    [Fact]
    public async Task A_token_signed_with_another_key_or_issuer_is_refused()
    {
        var otherKey = Convert.ToBase64String(new byte[40]);
        foreach (var token in new[] { ApiFixture.Token("admin", key: otherKey), ApiFixture.Token("admin", issuer: "https://elsewhere"),
                     ApiFixture.Token("admin", expires: DateTime.UtcNow.AddMinutes(-5)) })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/whoami");
            request.Headers.Authorization = new("Bearer", token);
            using var response = await fx.Http.SendAsync(request);
            Assert.Equal(401, (int)response.StatusCode);
        }
    }

    [Fact]
    public async Task A_token_with_an_unknown_role_is_forbidden()
    {
        var (status, _, _) = await fx.SendAsync(HttpMethod.Get, "/api/v1/alerts", "jwt:superuser");
        Assert.Equal(403, status);
    }

    [Fact]
    public async Task Metrics_and_health_stay_open_without_credentials()
    {
        Assert.Equal(200, (int)(await fx.Http.GetAsync("/metrics")).StatusCode);
        Assert.Equal(200, (int)(await fx.Http.GetAsync("/health/live")).StatusCode);
    }

    private static int Rank(string role) => role switch
    {
        Roles.Viewer => 1,
        Roles.Operator => 2,
        Roles.Admin => 3,
        _ => 0,
    };
}
