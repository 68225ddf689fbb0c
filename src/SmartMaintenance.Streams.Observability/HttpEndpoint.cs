using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using SmartMaintenance.Streams.Contracts;

namespace SmartMaintenance.Streams.Observability;

/// <summary>How the commands (run, notify) configure and start their HTTP endpoints.</summary>
public static partial class HttpEndpoint
{
    /// <summary>Applies a <c>--http</c> flag: HOST:PORT sets Http:Listen, <c>off</c> sets Http:Enabled=false.</summary>
    public static void AddFlag(string? flag, IDictionary<string, string?> overrides)
    {
        ArgumentNullException.ThrowIfNull(overrides);
        if (string.IsNullOrWhiteSpace(flag))
        {
            return;
        }
        if (string.Equals(flag, "off", StringComparison.OrdinalIgnoreCase))
        {
            overrides["Http:Enabled"] = "false";
        }
        else
        {
            overrides["Http:Listen"] = flag;
        }
    }

    /// <summary>Binds and validates the Http section; <paramref name="defaultListen"/> applies when Http:Listen is not set.</summary>
    public static HttpOptions Load(IConfiguration configuration, string defaultListen)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var options = new HttpOptions { Listen = defaultListen };
        try
        {
            configuration.GetSection("Http").Bind(options, o => o.ErrorOnUnknownConfiguration = true);
        }
        catch (InvalidOperationException ex)
        {
            throw new ConfigurationException("Http", ex.Message);
        }
        options.Validate();
        return options;
    }

    /// <summary>Starts the endpoints unless disabled. A port that cannot be bound is logged and the component runs on
    /// without them (Prometheus then reports the target down, which the SmstreamEngineDown/NotifierDown rules catch).</summary>
    public static async Task<ObservabilityServer?> StartAsync(string component, HttpOptions options, Func<IReadOnlyList<IReadinessCheck>> checks,
        ILogger logger, CancellationToken cancellationToken, IHttpModule? module = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(checks);
        ArgumentNullException.ThrowIfNull(logger);
        if (!options.Enabled)
        {
            return null;
        }
        var list = checks();
        try
        {
            var server = await ObservabilityServer.StartAsync(component, options, list, cancellationToken, module).ConfigureAwait(false);
            LogListening(logger, component, server.BaseAddress);
            return server;
        }
        catch (IOException ex)
        {
            LogBindFailed(logger, component, options.Listen, ex.Message);
            foreach (var c in list)
            {
                (c as IDisposable)?.Dispose();
                if (c is IAsyncDisposable a)
                {
                    await a.DisposeAsync().ConfigureAwait(false);
                }
            }
            return null;
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "{Component}: metrics and health on {Address} (/metrics, /health/live, /health/ready)")]
    private static partial void LogListening(ILogger logger, string component, Uri address);

    [LoggerMessage(Level = LogLevel.Error, Message = "{Component}: cannot serve HTTP on {Listen} ({Reason}); running without /metrics and /health")]
    private static partial void LogBindFailed(ILogger logger, string component, string listen, string reason);
}
