using System.Text.Json.Nodes;
using SmartMaintenance.Streams.Testing;
using Xunit;

namespace SmartMaintenance.Streams.Api.Tests;

/// <summary>The OpenAPI document the running server serves is the one checked in (docs/openapi.json). After changing an
/// endpoint, regenerate it with <c>SMSTREAM_WRITE_OPENAPI=1 dotnet test tests/SmartMaintenance.Streams.Api.Tests --filter OpenApi</c>.</summary>
[Collection(ApiCollection.Name)]
public sealed class OpenApiDocumentTests(ApiFixture fx)
{
    public static string CheckedIn => Path.Combine(RepositoryPaths.Root(), "docs", "openapi.json");

    [Fact]
    public async Task The_served_document_equals_the_checked_in_one()
    {
        var response = await fx.Http.GetAsync("/api/v1/openapi.json");
        Assert.Equal(200, (int)response.StatusCode);
        var served = JsonNode.Parse(await response.Content.ReadAsStringAsync())!.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }) + "\n";
        if (Environment.GetEnvironmentVariable("SMSTREAM_WRITE_OPENAPI") == "1")
        {
            await File.WriteAllTextAsync(CheckedIn, served);
        }
        var expected = await File.ReadAllTextAsync(CheckedIn);
        Assert.True(expected == served, "docs/openapi.json differs from the served document; regenerate it (see this test's summary)");
    }

    [Fact]
    public async Task The_document_lists_every_endpoint_with_its_security()
    {
        var doc = JsonNode.Parse(await File.ReadAllTextAsync(CheckedIn))!;
        var paths = doc["paths"]!.AsObject().Select(p => p.Key).ToHashSet();
        foreach (var p in new[] { "/api/v1/alerts", "/api/v1/alerts/{id}/acknowledge", "/api/v1/silences", "/api/v1/sensors/{id}", "/api/v1/readings",
                     "/api/v1/score", "/api/v1/state/sensors/{id}", "/api/v1/models", "/api/v1/keys", "/api/v1/audit" })
        {
            Assert.Contains(p, paths);
        }
        Assert.NotNull(doc["components"]?["securitySchemes"]?["ApiKey"]);
        Assert.NotNull(doc["components"]?["securitySchemes"]?["Bearer"]);
    }
}
