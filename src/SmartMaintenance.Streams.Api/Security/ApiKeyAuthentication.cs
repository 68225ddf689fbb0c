using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace SmartMaintenance.Streams.Api.Security;

/// <summary>Authenticates <c>X-Api-Key: smk_…</c> (or <c>Authorization: ApiKey smk_…</c>) against <see cref="ApiKeyStore"/>.</summary>
public sealed class ApiKeyAuthentication(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, ApiKeyStore keys)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";
    public const string Header = "X-Api-Key";
    public const string RateLimitClaim = "smstream:rate_limit";

    /// <summary>The key a request presents, or null.</summary>
    public static string? Presented(Microsoft.AspNetCore.Http.HttpRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Headers.TryGetValue(Header, out var values) && values.Count > 0)
        {
            return values[0];
        }
        var auth = request.Headers.Authorization.ToString();
        return auth.StartsWith(SchemeName + " ", StringComparison.OrdinalIgnoreCase) ? auth[(SchemeName.Length + 1)..].Trim() : null;
    }

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var presented = Presented(Request);
        if (string.IsNullOrEmpty(presented))
        {
            return AuthenticateResult.NoResult();
        }
        var caller = await keys.VerifyAsync(presented, Context.RequestAborted);
        if (caller is null)
        {
            return AuthenticateResult.Fail("unknown or revoked API key");
        }
        List<Claim> claims =
        [
            new(ClaimTypes.NameIdentifier, "key:" + caller.KeyId),
            new(ClaimTypes.Name, caller.Name),
            new(ClaimTypes.Role, caller.Role),
        ];
        if (caller.RateLimit is { } limit)
        {
            claims.Add(new Claim(RateLimitClaim, limit.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        }
        var principal = new ClaimsPrincipal(new ClaimsIdentity(claims, SchemeName, ClaimTypes.Name, ClaimTypes.Role));
        return AuthenticateResult.Success(new AuthenticationTicket(principal, SchemeName));
    }
}
