using System.Buffers;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using SmartMaintenance.Streams.Contracts;

namespace SmartMaintenance.Streams.Alerting.Notifier;

/// <summary>POSTs JSON and classifies the response: 2xx delivered; 408, 429, 5xx, timeouts and connection errors
/// transient (Retry-After kept); other statuses permanent.</summary>
public abstract class HttpChannel : IAlertChannel, IDisposable
{
    private static readonly MediaTypeHeaderValue Json = new("application/json") { CharSet = "utf-8" };
    private readonly HttpClient _http;
    private readonly Uri _url;

    protected HttpChannel(string name, ChannelOptions options, TimeSpan attemptTimeout, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        Name = name;
        Time = time;
        _url = new Uri(options.Url, UriKind.Absolute);
        // Redirects are not followed: a POST that is redirected is a configuration error, not a delivery.
        _http = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false, PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
        {
            Timeout = attemptTimeout,
        };
    }

    public string Name { get; }

    protected TimeProvider Time { get; }

    public abstract ValueTask<DeliveryOutcome> DeliverAsync(AlertEvent alert, string idempotencyKey, CancellationToken cancellationToken);

    public abstract ValueTask<DeliveryOutcome> DeliverDigestAsync(AlertDigest digest, CancellationToken cancellationToken);

    /// <summary>Adds channel-specific headers (signature) before sending.</summary>
    protected virtual void Decorate(HttpRequestMessage request, byte[] body)
    {
    }

    protected async ValueTask<DeliveryOutcome> PostAsync(byte[] body, string idempotencyKey, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, _url);
        request.Content = new ByteArrayContent(body);
        request.Content.Headers.ContentType = Json;
        request.Headers.TryAddWithoutValidation(WebhookSignature.IdempotencyKeyHeader, idempotencyKey);
        Decorate(request, body);
        try
        {
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            var code = (int)response.StatusCode;
            if (response.IsSuccessStatusCode)
            {
                return DeliveryOutcome.Ok($"status {code}");
            }
            if (code is 408 or 429 || code >= 500)
            {
                return DeliveryOutcome.Transient($"status {code}", RetryAfter(response));
            }
            return DeliveryOutcome.Permanent($"status {code}");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return DeliveryOutcome.Transient("timeout");
        }
        catch (HttpRequestException ex)
        {
            // Connection refused/reset, DNS, TLS: the receiver may come back.
            return DeliveryOutcome.Transient(ex.HttpRequestError == HttpRequestError.Unknown ? "http error: " + ex.Message : "http error: " + ex.HttpRequestError);
        }
    }

    private TimeSpan? RetryAfter(HttpResponseMessage response)
    {
        var h = response.Headers.RetryAfter;
        if (h?.Delta is { } delta)
        {
            return delta < TimeSpan.Zero ? TimeSpan.Zero : delta;
        }
        if (h?.Date is { } date)
        {
            var wait = date - Time.GetUtcNow();
            return wait < TimeSpan.Zero ? TimeSpan.Zero : wait;
        }
        return null;
    }

    protected static byte[] WriteJson<T>(T state, Action<Utf8JsonWriter, T> write)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var w = new Utf8JsonWriter(buffer))
        {
            write(w, state);
        }
        return buffer.WrittenSpan.ToArray();
    }

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
        if (disposing)
        {
            _http.Dispose();
        }
    }
}

/// <summary>Generic webhook: the alert event as JSON, signed with HMAC-SHA256 (<see cref="WebhookSignature"/>).</summary>
public sealed class WebhookChannel : HttpChannel
{
    public const string DefaultTemplate = "[{severity_name}] alert {status}: sensor {sensor_id} value {value} ({detector} score {score}) at {last_seen}";
    private readonly string _secret;
    private readonly AlertTemplate _template;

    public WebhookChannel(string name, ChannelOptions options, TimeSpan attemptTimeout, TimeProvider? time = null)
        : base(name, options, attemptTimeout, time ?? TimeProvider.System)
    {
        _secret = options.Secret;
        _template = AlertTemplate.ParseOrDefault(options.Template, DefaultTemplate, $"Notifier:Channels:{name}:Template");
    }

    public override ValueTask<DeliveryOutcome> DeliverAsync(AlertEvent alert, string idempotencyKey, CancellationToken cancellationToken)
    {
        var body = WriteJson((alert, this), static (w, s) =>
        {
            w.WriteStartObject();
            w.WriteString("type", "alert");
            w.WriteString("event_key", s.alert.EventKey);
            w.WriteString("message", s.Item2._template.Render(s.alert));
            w.WritePropertyName("alert");
            JsonSerializer.Serialize(w, s.alert, ContractsJsonContext.Default.AlertEvent);
            w.WriteEndObject();
        });
        return PostAsync(body, idempotencyKey, cancellationToken);
    }

    public override ValueTask<DeliveryOutcome> DeliverDigestAsync(AlertDigest digest, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(digest);
        var body = digest.ToJson(digest.RenderText(_template));
        return PostAsync(body, digest.IdempotencyKey, cancellationToken);
    }

    protected override void Decorate(HttpRequestMessage request, byte[] body)
    {
        // Signed per attempt: a retry carries a fresh timestamp so receivers' replay windows stay tight.
        var ts = Time.GetUtcNow().ToUnixTimeSeconds();
        request.Headers.TryAddWithoutValidation(WebhookSignature.TimestampHeader, ts.ToString(System.Globalization.CultureInfo.InvariantCulture));
        request.Headers.TryAddWithoutValidation(WebhookSignature.SignatureHeader, WebhookSignature.Compute(_secret, ts, body));
    }
}

/// <summary>Slack incoming webhook: <c>{"text": ...}</c> in mrkdwn, values escaped as Slack requires.</summary>
public sealed class SlackChannel : HttpChannel
{
    public const string DefaultTemplate = "*[{severity_name}]* alert {status}: sensor `{sensor_id}` (asset {asset_id}) value {value}, {detector} score {score} (threshold {threshold}) at {last_seen} · {alert_id} rev {revision}";
    private readonly AlertTemplate _template;

    public SlackChannel(string name, ChannelOptions options, TimeSpan attemptTimeout, TimeProvider? time = null)
        : base(name, options, attemptTimeout, time ?? TimeProvider.System)
    {
        _template = AlertTemplate.ParseOrDefault(options.Template, DefaultTemplate, $"Notifier:Channels:{name}:Template");
    }

    /// <summary>Slack's mrkdwn escaping: only &amp;, &lt; and &gt; are control characters.</summary>
    public static string Escape(string s)
    {
        ArgumentNullException.ThrowIfNull(s);
        return s.Replace("&", "&amp;", StringComparison.Ordinal).Replace("<", "&lt;", StringComparison.Ordinal).Replace(">", "&gt;", StringComparison.Ordinal);
    }

    public override ValueTask<DeliveryOutcome> DeliverAsync(AlertEvent alert, string idempotencyKey, CancellationToken cancellationToken) =>
        PostAsync(Text(_template.Render(alert, Escape)), idempotencyKey, cancellationToken);

    public override ValueTask<DeliveryOutcome> DeliverDigestAsync(AlertDigest digest, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(digest);
        return PostAsync(Text(digest.RenderText(_template, Escape)), digest.IdempotencyKey, cancellationToken);
    }

    private static byte[] Text(string text) => WriteJson(text, static (w, t) =>
    {
        w.WriteStartObject();
        w.WriteString("text", t);
        w.WriteBoolean("unfurl_links", false);
        w.WriteEndObject();
    });
}

/// <summary>One readable line per event on a text writer (standard output by default).</summary>
public sealed class ConsoleChannel : IAlertChannel
{
    public const string DefaultTemplate = "{last_seen} {severity_name} sev={severity} {status} sensor={sensor_id} value={value} detector={detector} score={score} alert={alert_id} rev={revision}";
    private readonly AlertTemplate _template;
    private readonly TextWriter _out;

    public ConsoleChannel(string name, ChannelOptions options, TextWriter? output = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        Name = name;
        _template = AlertTemplate.ParseOrDefault(options.Template, DefaultTemplate, $"Notifier:Channels:{name}:Template");
        _out = output ?? Console.Out;
    }

    public string Name { get; }

    public async ValueTask<DeliveryOutcome> DeliverAsync(AlertEvent alert, string idempotencyKey, CancellationToken cancellationToken)
    {
        await _out.WriteLineAsync(_template.Render(alert, OneLine).AsMemory(), cancellationToken).ConfigureAwait(false);
        await _out.FlushAsync(cancellationToken).ConfigureAwait(false);
        return DeliveryOutcome.Ok("written");
    }

    public async ValueTask<DeliveryOutcome> DeliverDigestAsync(AlertDigest digest, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(digest);
        await _out.WriteLineAsync(digest.RenderText(_template, OneLine).AsMemory(), cancellationToken).ConfigureAwait(false);
        await _out.FlushAsync(cancellationToken).ConfigureAwait(false);
        return DeliveryOutcome.Ok("written");
    }

    // A value with a line break would split one alert over two lines.
    private static string OneLine(string s) => s.ReplaceLineEndings(" ");
}
