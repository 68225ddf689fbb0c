using Microsoft.AspNetCore.OpenApi;

namespace SmartMaintenance.Streams.Api.Http;

/// <summary>The OpenAPI document's fixed parts (title, version, servers left out so it does not depend on the bound port).</summary>
public static class OpenApiDocument
{
    public static void Configure(OpenApiOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.AddDocumentTransformer((document, _, _) =>
        {
            document.Info.Title = "SmartMaintenance.Streams operator API";
            document.Info.Version = "v1";
            document.Info.Description = "Alerts, silences, sensors, live state, ingest, score and models. Authenticate with X-Api-Key or a JWT bearer token; roles viewer, operator, admin. Errors are RFC 7807 problem details naming the field (docs/api.md).";
            document.Servers = [];
            return Task.CompletedTask;
        });
    }
}
