using SmartMaintenance.Streams.Contracts;

namespace SmartMaintenance.Streams.Api;

/// <summary>The operator API (/api/v1) on the engine's HTTP host (Http:Listen; loopback by default, HTTPS with
/// Http:CertificatePath).</summary>
[SettingsSection("Api")]
public sealed class ApiOptions
{
    [Setting("Serve /api/v1 beside /metrics and /health (needs Storage:ConnectionString for keys, audit and alerts).")]
    public bool Enabled { get; set; } = true;

    [Setting("Largest request body accepted; larger is 413.", Unit = "bytes", Min = 1024, Max = 64 * 1024 * 1024)]
    public int MaxBodyBytes { get; set; } = 1024 * 1024;

    [Setting("Requests per second one caller (API key or token subject) may make; more are 429 with Retry-After. A key's own limit wins.", Unit = "requests/s", Min = 1, Max = 1_000_000)]
    public int RateLimitPerSecond { get; set; } = 200;

    [Setting("Requests a caller may make at once above the steady rate (token bucket size).", Unit = "requests", Min = 1, Max = 1_000_000)]
    public int RateLimitBurst { get; set; } = 400;

    [Setting("How long a verified API key is trusted without asking the database again (a revocation takes effect within this).", Unit = "ms", Min = 0, Max = 600_000)]
    public TimeSpan KeyCacheTime { get; set; } = TimeSpan.FromSeconds(10);

    [Setting("Issuer (iss) JWT bearer tokens must carry; empty disables bearer tokens.")]
    public string JwtIssuer { get; set; } = "";

    [Setting("Audience (aud) JWT bearer tokens must carry.")]
    public string JwtAudience { get; set; } = "smstream";

    [Setting("HMAC-SHA256 signing keys (base64, ≥ 32 bytes) tokens may be signed with; several allow rotation.", Secret = true)]
    public List<string> JwtSigningKeys { get; set; } = [];

    [Setting("Claim carrying the caller's role (viewer, operator, admin).")]
    public string JwtRoleClaim { get; set; } = "role";

    [Setting("Base URL other instances forward live-state queries to (default: the bound address).")]
    public string AdvertisedUrl { get; set; } = "";

    [Setting("How often an instance records its partitions for live-state routing.", Unit = "ms", Min = 100, Max = 600_000)]
    public TimeSpan InstanceHeartbeat { get; set; } = TimeSpan.FromSeconds(2);

    [Setting("How often the sensor registry is re-read for validation (changes made through this instance apply at once).", Unit = "ms", Min = 100, Max = 3_600_000)]
    public TimeSpan RegistryRefresh { get; set; } = TimeSpan.FromSeconds(5);

    public void Validate(string section = "Api")
    {
        SettingsValidator.Validate(this, section);
        if (JwtIssuer.Length > 0)
        {
            if (JwtSigningKeys.Count == 0)
            {
                throw new ConfigurationException($"{section}:JwtSigningKeys", "at least one key is needed when Api:JwtIssuer is set");
            }
            for (var i = 0; i < JwtSigningKeys.Count; i++)
            {
                if (!IsKey(JwtSigningKeys[i]))
                {
                    throw new ConfigurationException($"{section}:JwtSigningKeys:{i}", "must be base64 of at least 32 bytes");
                }
            }
        }
        if (AdvertisedUrl.Length > 0 && !Uri.TryCreate(AdvertisedUrl, UriKind.Absolute, out _))
        {
            throw new ConfigurationException($"{section}:AdvertisedUrl", $"'{AdvertisedUrl}' is not an absolute URL");
        }
    }

    private static bool IsKey(string text)
    {
        var buffer = new byte[text.Length];
        return Convert.TryFromBase64String(text, buffer, out var n) && n >= 32;
    }
}
