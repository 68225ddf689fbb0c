using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace SmartMaintenance.Streams.Api.Http;

/// <summary>The OpenAPI document's fixed parts: title, the two security schemes, each operation's least role
/// (x-smstream-role) and its problem responses. Servers are left out so the document does not depend on the bound port.</summary>
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
            document.Components ??= new OpenApiComponents();
            document.Components.SecuritySchemes = new Dictionary<string, IOpenApiSecurityScheme>(StringComparer.Ordinal)
            {
                ["ApiKey"] = new OpenApiSecurityScheme { Type = SecuritySchemeType.ApiKey, In = ParameterLocation.Header, Name = "X-Api-Key", Description = "smk_<id>_<secret>, from `smstream apikey create`." },
                ["Bearer"] = new OpenApiSecurityScheme { Type = SecuritySchemeType.Http, Scheme = "bearer", BearerFormat = "JWT", Description = "HS256 token with the configured issuer and audience; role in the Api:JwtRoleClaim claim." },
            };
            return Task.CompletedTask;
        });
        options.AddOperationTransformer((operation, context, _) =>
        {
            var policy = context.Description.ActionDescriptor.EndpointMetadata.OfType<IAuthorizeData>().Select(a => a.Policy).FirstOrDefault(p => p is not null);
            if (policy is null)
            {
                return Task.CompletedTask;
            }
            var document = context.Document;
            operation.Security =
            [
                new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference("ApiKey", document)] = [] },
                new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference("Bearer", document)] = [] },
            ];
            operation.Extensions ??= new Dictionary<string, IOpenApiExtension>(StringComparer.Ordinal);
            operation.Extensions["x-smstream-role"] = new JsonNodeExtension(System.Text.Json.Nodes.JsonValue.Create(policy switch
            {
                Security.Roles.Read => Security.Roles.Viewer,
                Security.Roles.Operate => Security.Roles.Operator,
                _ => Security.Roles.Admin,
            }));
            operation.Responses ??= [];
            foreach (var (code, text) in new[] { ("400", "Invalid input: problem details naming the field"), ("401", "No or invalid credentials"),
                         ("403", "The caller's role may not do this"), ("429", "Rate limit exceeded; see Retry-After") })
            {
                if (!operation.Responses.ContainsKey(code))
                {
                    operation.Responses[code] = new OpenApiResponse
                    {
                        Description = text,
                        Content = new Dictionary<string, OpenApiMediaType>(StringComparer.Ordinal) { [ProblemWriter.ContentType] = new() },
                    };
                }
            }
            return Task.CompletedTask;
        });
    }
}
