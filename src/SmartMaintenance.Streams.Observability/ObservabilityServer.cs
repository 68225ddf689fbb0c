using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Prometheus;

namespace SmartMaintenance.Streams.Observability;

/// <summary>
/// The HTTP endpoints of one component (engine or notifier): <c>/metrics</c> (Prometheus text format, the default
/// registry: smstream_*, process_* and dotnet_* metrics), <c>/health/live</c> (200 while the process serves
/// requests) and <c>/health/ready</c> (200 when every readiness check passes, otherwise 503; JSON body either way).
/// </summary>
public sealed class ObservabilityServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly IReadOnlyList<IReadinessCheck> _checks;
    private readonly TimeSpan _checkTimeout;
    private readonly string _component;

    // Readiness is also evaluated at each scrape, so smstream_ready follows it without anyone calling /health/ready.
    private static readonly List<ObservabilityServer> s_live = [];
    private static bool s_callbackRegistered;

    private ObservabilityServer(WebApplication app, string component, IReadOnlyList<IReadinessCheck> checks, TimeSpan checkTimeout, Uri baseAddress)
    {
        _app = app;
        _component = component;
        _checks = checks;
        _checkTimeout = checkTimeout;
        BaseAddress = baseAddress;
    }

    /// <summary>http://HOST:PORT/ actually bound (port 0 resolved).</summary>
    public Uri BaseAddress { get; }

    /// <summary>Binds and starts serving; throws <see cref="IOException"/> when the address cannot be bound.</summary>
    public static async Task<ObservabilityServer> StartAsync(string component, HttpOptions options, IReadOnlyList<IReadinessCheck> checks,
        CancellationToken cancellationToken = default, IHttpModule? module = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(component);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(checks);
        options.Validate();
        var endpoint = options.Endpoint;

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ApplicationName = "smstream-" + component });
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(endpoint, listen =>
        {
            if (options.CertificatePath.Length > 0)
            {
                listen.UseHttps(options.CertificatePath, options.CertificatePassword);
            }
        }));
        builder.WebHost.UseSetting(WebHostDefaults.PreferHostingUrlsKey, "false");
        module?.ConfigureServices(builder);
        var app = builder.Build();
        module?.Configure(app);

        ObservabilityMetrics.BuildInfo.WithLabels(component, ObservabilityMetrics.Version).Set(1);
        foreach (var check in checks)
        {
            ObservabilityMetrics.Ready.WithLabels(component, check.Name);
        }

        ObservabilityServer? server = null;
        app.MapMetrics("/metrics");
        app.MapGet("/health/live", static async context =>
        {
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync("""{"status":"live"}""", context.RequestAborted).ConfigureAwait(false);
        });
        app.MapGet("/health/ready", context => server!.WriteReadinessAsync(context));

        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException)
        {
            await app.DisposeAsync().ConfigureAwait(false);
            throw new IOException($"cannot serve HTTP on {options.Listen}: {ex.Message}", ex);
        }
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault()
            ?? $"http://{options.Listen}";
        // A wildcard bind is reachable on loopback; tests and log lines need a concrete address.
        address = address.Replace("0.0.0.0", "127.0.0.1", StringComparison.Ordinal).Replace("[::]", "[::1]", StringComparison.Ordinal);
        server = new ObservabilityServer(app, component, checks, options.CheckTimeout, new Uri(address + "/"));
        lock (s_live)
        {
            s_live.Add(server);
            if (!s_callbackRegistered)
            {
                Metrics.DefaultRegistry.AddBeforeCollectCallback(EvaluateLiveServersAsync);
                s_callbackRegistered = true;
            }
        }
        return server;
    }

    private static async Task EvaluateLiveServersAsync(CancellationToken cancellationToken)
    {
        ObservabilityServer[] servers;
        lock (s_live)
        {
            servers = [.. s_live];
        }
        foreach (var server in servers)
        {
            await server.EvaluateAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Runs every readiness check (concurrently, each bounded by the check timeout).</summary>
    public async Task<ReadinessReport> EvaluateAsync(CancellationToken cancellationToken = default)
    {
        var tasks = new Task<CheckResult>[_checks.Count];
        for (var i = 0; i < _checks.Count; i++)
        {
            tasks[i] = RunCheckAsync(_checks[i], cancellationToken);
        }
        var results = await Task.WhenAll(tasks).ConfigureAwait(false);
        var entries = new List<ReadinessEntry>(results.Length);
        var ready = true;
        for (var i = 0; i < results.Length; i++)
        {
            entries.Add(new ReadinessEntry(_checks[i].Name, results[i].Ok, results[i].Detail));
            ObservabilityMetrics.Ready.WithLabels(_component, _checks[i].Name).Set(results[i].Ok ? 1 : 0);
            ready &= results[i].Ok;
        }
        return new ReadinessReport(ready, entries);
    }

    private async Task<CheckResult> RunCheckAsync(IReadinessCheck check, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_checkTimeout);
        try
        {
            var task = check.CheckAsync(timeout.Token);
            return await task.WaitAsync(_checkTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            return CheckResult.Fail($"no answer within {_checkTimeout.TotalMilliseconds:0} ms");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return CheckResult.Fail($"no answer within {_checkTimeout.TotalMilliseconds:0} ms");
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            return CheckResult.Fail(ex.GetType().Name + ": " + ex.Message);
        }
    }

    private async Task WriteReadinessAsync(HttpContext context)
    {
        var report = await EvaluateAsync(context.RequestAborted).ConfigureAwait(false);
        context.Response.StatusCode = report.Ready ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable;
        context.Response.ContentType = "application/json";
        await using var json = new Utf8JsonWriter(context.Response.Body);
        json.WriteStartObject();
        json.WriteString("status", report.Ready ? "ready" : "not_ready");
        json.WriteString("component", _component);
        json.WriteStartArray("checks");
        foreach (var e in report.Checks)
        {
            json.WriteStartObject();
            json.WriteString("name", e.Name);
            json.WriteBoolean("ok", e.Ok);
            json.WriteString("detail", e.Detail);
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteEndObject();
        await json.FlushAsync(context.RequestAborted).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        lock (s_live)
        {
            s_live.Remove(this);
        }
        await _app.StopAsync(CancellationToken.None).ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
        foreach (var check in _checks)
        {
            switch (check)
            {
                case IAsyncDisposable a:
                    await a.DisposeAsync().ConfigureAwait(false);
                    break;
                case IDisposable d:
                    d.Dispose();
                    break;
            }
        }
    }
}

/// <summary>Result of /health/ready.</summary>
public sealed record ReadinessReport(bool Ready, IReadOnlyList<ReadinessEntry> Checks);

/// <summary>One check's outcome in a <see cref="ReadinessReport"/>.</summary>
public sealed record ReadinessEntry(string Name, bool Ok, string Detail);
