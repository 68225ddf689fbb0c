using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace SmartMaintenance.Streams.Alerting.Tests.Receivers;

/// <summary>A request as the receiver saw it.</summary>
internal sealed record ReceivedRequest(string Path, IReadOnlyDictionary<string, string> Headers, byte[] Body, DateTimeOffset At, int Status);

/// <summary>A scripted reply; <see cref="Hold"/> makes the receiver wait (e.g. to be killed mid-delivery).</summary>
internal sealed record ScriptedReply(int Status, string? RetryAfter = null, TaskCompletionSource? Hold = null);

/// <summary>A real HTTP server (Kestrel on 127.0.0.1, free port) that records requests and answers from a script
/// (200 once the script is used up). Dedups on Idempotency-Key like a well-behaved receiver, counting effects.</summary>
internal sealed class HttpReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<ScriptedReply> _script = new();
    private readonly ConcurrentDictionary<string, int> _effects = new(StringComparer.Ordinal);

    private HttpReceiver(WebApplication app) => _app = app;

    public ConcurrentQueue<ReceivedRequest> Requests { get; } = new();

    private int _arrivals;

    /// <summary>Requests that reached the handler, including ones still held.</summary>
    public int Arrivals => Volatile.Read(ref _arrivals);

    public Uri BaseUrl { get; private set; } = null!;

    /// <summary>Idempotency keys that produced an effect (first successful receipt), with the count of receipts.</summary>
    public IReadOnlyDictionary<string, int> Effects => _effects;

    public static async Task<HttpReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var receiver = new HttpReceiver(app);
        app.Run(receiver.HandleAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        receiver.BaseUrl = new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal));
        return receiver;
    }

    public Uri Url(string path) => new(BaseUrl, path);

    public void Script(params ScriptedReply[] replies)
    {
        foreach (var r in replies)
        {
            _script.Enqueue(r);
        }
    }

    private async Task HandleAsync(HttpContext ctx)
    {
        Interlocked.Increment(ref _arrivals);
        using var ms = new MemoryStream();
        await ctx.Request.Body.CopyToAsync(ms);
        var headers = ctx.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
        var reply = _script.TryDequeue(out var r) ? r : new ScriptedReply(200);
        if (reply.Hold is { } hold)
        {
            await hold.Task;
        }
        Requests.Enqueue(new ReceivedRequest(ctx.Request.Path, headers, ms.ToArray(), DateTimeOffset.UtcNow, reply.Status));
        if (reply.Status is >= 200 and < 300 && headers.TryGetValue("Idempotency-Key", out var key))
        {
            _effects.AddOrUpdate(key, 1, (_, n) => n + 1);
        }
        ctx.Response.StatusCode = reply.Status;
        if (reply.RetryAfter is { } ra)
        {
            ctx.Response.Headers.RetryAfter = ra;
        }
        await ctx.Response.WriteAsync(reply.Status == 200 ? "ok" : "no");
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
