using System.Globalization;
using System.Security.Claims;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.Tokens;
using SmartMaintenance.Streams.Api.Alerts;
using SmartMaintenance.Streams.Api.Http;
using SmartMaintenance.Streams.Api.Ingest;
using SmartMaintenance.Streams.Api.Models;
using SmartMaintenance.Streams.Api.Security;
using SmartMaintenance.Streams.Api.Sensors;
using SmartMaintenance.Streams.Api.State;
using SmartMaintenance.Streams.Observability;

namespace SmartMaintenance.Streams.Api;

/// <summary>Adds /api/v1 to a component's HTTP host: authentication (API keys, JWT bearer), role policies, per-caller rate
/// limits, problem details for every error, the OpenAPI document at /api/v1/openapi.json and the endpoints.</summary>
public sealed class ApiModule(ApiServices services) : IHttpModule
{
    public const string Prefix = "/api/v1";
    private const string SelectScheme = "smstream";

    public void ConfigureServices(WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = services.Options;
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = options.MaxBodyBytes);
        var s = builder.Services;
        s.AddSingleton(services);
        s.AddSingleton(new ApiKeyStore(services.DataSource, options.KeyCacheTime));
        s.AddSingleton(new BodyDecoder(services.Validation, services.Overrides));
        s.AddSingleton<InstanceDirectory>();
        s.AddHostedService(p => p.GetRequiredService<InstanceDirectory>());
        s.AddHostedService<RegistryRefresher>();
        s.AddHttpClient(nameof(StateEndpoints), c => c.Timeout = TimeSpan.FromSeconds(10));
        s.ConfigureHttpJsonOptions(o => ApiJson.Configure(o.SerializerOptions));
        s.Configure<Microsoft.AspNetCore.Routing.RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);

        var auth = s.AddAuthentication(SelectScheme)
            .AddPolicyScheme(SelectScheme, "API key or bearer token", o => o.ForwardDefaultSelector = context =>
                options.JwtIssuer.Length > 0 && context.Request.Headers.Authorization.ToString().StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)
                    ? JwtBearerDefaults.AuthenticationScheme
                    : ApiKeyAuthentication.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthentication>(ApiKeyAuthentication.SchemeName, null);
        if (options.JwtIssuer.Length > 0)
        {
            auth.AddJwtBearer(o =>
            {
                o.MapInboundClaims = false;
                o.TokenValidationParameters = new TokenValidationParameters
                {
                    ValidIssuer = options.JwtIssuer,
                    ValidAudience = options.JwtAudience,
                    IssuerSigningKeys = [.. options.JwtSigningKeys.Select(k => new SymmetricSecurityKey(Convert.FromBase64String(k)))],
                    ValidAlgorithms = [SecurityAlgorithms.HmacSha256],
                    RoleClaimType = options.JwtRoleClaim,
                    NameClaimType = "sub",
                    ClockSkew = TimeSpan.FromSeconds(30),
                };
            });
        }
        s.AddAuthorizationBuilder()
            .AddPolicy(Roles.Read, p => p.RequireRole(Roles.For(Roles.Read)))
            .AddPolicy(Roles.Operate, p => p.RequireRole(Roles.For(Roles.Operate)))
            .AddPolicy(Roles.Administer, p => p.RequireRole(Roles.For(Roles.Administer)));

        s.AddRateLimiter(o =>
        {
            o.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(context => Partition(context, options));
            o.OnRejected = OnRejectedAsync;
        });
        s.AddOpenApi("v1", o => OpenApiDocument.Configure(o));
    }

    public void Configure(WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var max = services.Options.MaxBodyBytes;
        app.UseWhen(c => c.Request.Path.StartsWithSegments("/api", StringComparison.Ordinal), b => b.UseMiddleware<ErrorMiddleware>(max));
        app.UseAuthentication();
        app.UseRateLimiter();
        app.UseAuthorization();
        app.MapOpenApi(Prefix + "/openapi.json").WithGroupName("v1");
        var api = app.MapGroup(Prefix);
        AccessEndpoints.Map(api);
        AlertEndpoints.Map(api);
        SensorEndpoints.Map(api);
        IngestEndpoints.Map(api);
        ScoreEndpoints.Map(api);
        StateEndpoints.Map(api);
        ModelEndpoints.Map(api);
    }

    private static RateLimitPartition<string> Partition(HttpContext context, ApiOptions options)
    {
        if (!context.Request.Path.StartsWithSegments("/api", StringComparison.Ordinal))
        {
            return RateLimitPartition.GetNoLimiter("");
        }
        var caller = context.User.FindFirstValue(ClaimTypes.NameIdentifier) ?? context.User.FindFirstValue("sub");
        var perSecond = options.RateLimitPerSecond;
        var burst = options.RateLimitBurst;
        if (context.User.FindFirstValue(ApiKeyAuthentication.RateLimitClaim) is { } own && int.TryParse(own, CultureInfo.InvariantCulture, out var limit))
        {
            perSecond = limit;
            burst = Math.Max(limit, 1);
        }
        var key = (caller is null ? "ip:" + context.Connection.RemoteIpAddress : "id:" + caller) + ":" + perSecond.ToString(CultureInfo.InvariantCulture);
        return RateLimitPartition.GetTokenBucketLimiter(key, _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = burst,
            TokensPerPeriod = perSecond,
            ReplenishmentPeriod = TimeSpan.FromSeconds(1),
            QueueLimit = 0,
            AutoReplenishment = true,
        });
    }

    private static async ValueTask OnRejectedAsync(OnRejectedContext context, CancellationToken ct)
    {
        var retry = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var after) ? Math.Max(1, (int)Math.Ceiling(after.TotalSeconds)) : 1;
        context.HttpContext.Response.Headers.RetryAfter = retry.ToString(CultureInfo.InvariantCulture);
        await ProblemWriter.WriteAsync(context.HttpContext, ProblemWriter.Create(context.HttpContext, StatusCodes.Status429TooManyRequests,
            "Too many requests", $"rate limit of this caller exceeded; retry after {retry} s"));
    }
}
