using System.Globalization;
using System.Net;
using SmartMaintenance.Streams.Contracts;

namespace SmartMaintenance.Streams.Observability;

/// <summary>Where the engine or the notifier serves /metrics, /health/live and /health/ready.</summary>
[SettingsSection("Http")]
public sealed class HttpOptions
{
    public const string EngineDefault = "127.0.0.1:9464";
    public const string NotifierDefault = "127.0.0.1:9465";

    [Setting("Serve the HTTP endpoints at all.")]
    public bool Enabled { get; set; } = true;

    [Setting("Bind address and port, HOST:PORT (IPv4, [IPv6], localhost or * for all interfaces). Loopback by default; port 0 picks a free port.")]
    public string Listen { get; set; } = EngineDefault;

    [Setting("Time each readiness check (Kafka metadata, database round trip) may take before it counts as failed.", Unit = "ms", Min = 100, Max = 60_000)]
    public TimeSpan CheckTimeout { get; set; } = TimeSpan.FromSeconds(2);

    [Setting("The engine is not ready (stuck) when input is waiting (consumer lag or buffered records) and nothing was committed for this long.", Unit = "ms", Min = 1000)]
    public TimeSpan StuckAfter { get; set; } = TimeSpan.FromSeconds(60);

    [Setting("Sensors that stored nothing for this long count as silent (smstream_sensors_silent).", Unit = "ms", Min = 1000)]
    public TimeSpan SensorSilentAfter { get; set; } = TimeSpan.FromMinutes(5);

    [Setting("PKCS#12 (.pfx) certificate file: when set, the endpoints (and the operator API) are served over HTTPS only. Empty: plain HTTP.")]
    public string CertificatePath { get; set; } = "";

    [Setting("Password of the certificate file (environment variable SMSTREAM_HTTP__CERTIFICATEPASSWORD).", Secret = true)]
    public string? CertificatePassword { get; set; }

    public void Validate(string section = "Http")
    {
        SettingsValidator.Validate(this, section);
        if (CertificatePath.Length > 0 && !File.Exists(CertificatePath))
        {
            throw new ConfigurationException($"{section}:CertificatePath", $"'{CertificatePath}' does not exist");
        }
        _ = ParseListen(Listen, $"{section}:Listen");
    }

    /// <summary>The endpoint <see cref="Listen"/> names.</summary>
    public IPEndPoint Endpoint => ParseListen(Listen, "Http:Listen");

    public static IPEndPoint ParseListen(string? listen, string setting)
    {
        if (string.IsNullOrWhiteSpace(listen))
        {
            throw new ConfigurationException(setting, "must be HOST:PORT, e.g. 127.0.0.1:9464");
        }
        var colon = listen.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(listen.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port > 65535)
        {
            throw new ConfigurationException(setting, $"'{listen}' is not HOST:PORT (port 0-65535)");
        }
        var host = listen[..colon].Trim('[', ']');
        IPAddress? address = host switch
        {
            "*" or "+" => IPAddress.Any,
            "localhost" => IPAddress.Loopback,
            _ => IPAddress.TryParse(host, out var ip) ? ip : null,
        };
        return address is null
            ? throw new ConfigurationException(setting, $"'{host}' is not an IP address, localhost or *")
            : new IPEndPoint(address, port);
    }
}
