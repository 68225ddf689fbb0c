using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using SmartMaintenance.Streams.Alerting.Notifier;
using SmartMaintenance.Streams.Alerting.Tests.Receivers;
using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Testing;
using Xunit;
using static SmartMaintenance.Streams.Alerting.Tests.NotifierTestKit;

namespace SmartMaintenance.Streams.Alerting.Tests;

/// <summary>The delivery pipeline against real receivers (Kestrel for webhook/Slack, a loopback SMTP server for
/// e-mail) with the delivery log in a real PostgreSQL database.</summary>
[Collection(ServicesCollection.Name)]
public sealed class DeliveryTests(PostgresFixture postgres) : IAsyncLifetime
{
    private const string Secret = "s3cr3t-shared";
    private HttpReceiver _http = null!;
    private TestDatabase _db = null!;
    private PostgresDeliveryLog _log = null!;
    private readonly RecordingDeadLetters _dlq = new();

    public async Task InitializeAsync()
    {
        _http = await HttpReceiver.StartAsync();
        _db = await TestDatabase.CreateAsync(postgres);
        _log = new PostgresDeliveryLog(_db.DataSource);
    }

    public async Task DisposeAsync()
    {
        await _http.DisposeAsync();
        await _db.DisposeAsync();
    }

    private Dictionary<string, ChannelOptions> Webhook(string name = "hook") => new()
    {
        [name] = new ChannelOptions { Type = ChannelTypes.Webhook, Url = _http.Url("/hook").ToString(), Secret = Secret },
    };

    /// <summary>What a receiver does, written from the docs' description rather than with WebhookSignature.</summary>
    private static bool VerifiesLikeAReceiver(ReceivedRequest r)
    {
        var ts = r.Headers["X-Timestamp"];
        var mac = HMACSHA256.HashData(Encoding.UTF8.GetBytes(Secret), Encoding.UTF8.GetBytes(ts + "." + Encoding.UTF8.GetString(r.Body)));
        return r.Headers["X-Signature"] == "sha256=" + Convert.ToHexString(mac).ToLowerInvariant()
            && Math.Abs(DateTimeOffset.UtcNow.ToUnixTimeSeconds() - long.Parse(ts, System.Globalization.CultureInfo.InvariantCulture)) <= 300;
    }

    [Fact]
    public async Task Webhook_failing_with_500_twice_then_recovering_is_delivered_exactly_once()
    {
        _http.Script(new ScriptedReply(500), new ScriptedReply(500));
        var dispatcher = Dispatcher(Options(Webhook()), _log, _dlq);
        var alert = Alert();

        await dispatcher.ProcessAsync(Record(alert), CancellationToken.None);
        await dispatcher.ProcessAsync(Record(alert, offset: 1), CancellationToken.None); // replayed record

        var requests = _http.Requests.ToArray();
        Assert.Equal([500, 500, 200], requests.Select(r => r.Status));
        Assert.All(requests, r => Assert.True(VerifiesLikeAReceiver(r), "signature must verify"));
        Assert.All(requests, r => Assert.Equal(alert.EventKey, r.Headers["Idempotency-Key"]));
        Assert.Equal(1, _http.Effects[alert.EventKey]);
        Assert.Equal(DeliveryOutcomes.Delivered, await _db.OutcomeAsync(alert.EventKey, "hook"));
        Assert.Empty(_dlq.Letters);

        using var body = JsonDocument.Parse(requests[^1].Body);
        Assert.Equal("alert", body.RootElement.GetProperty("type").GetString());
        Assert.Equal(alert.AlertId, body.RootElement.GetProperty("alert").GetProperty("alert_id").GetString());
        Assert.Contains("s-1", body.RootElement.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Too_many_requests_waits_for_retry_after_before_the_next_attempt()
    {
        _http.Script(new ScriptedReply(429, RetryAfter: "1"));
        var dispatcher = Dispatcher(Options(Webhook()), _log, _dlq);

        await dispatcher.ProcessAsync(Record(Alert()), CancellationToken.None);

        var requests = _http.Requests.ToArray();
        Assert.Equal([429, 200], requests.Select(r => r.Status));
        // Backoff alone would retry after ~20 ms; only Retry-After explains a one-second gap.
        Assert.True(requests[1].At - requests[0].At >= TimeSpan.FromMilliseconds(900), $"gap was {requests[1].At - requests[0].At}");
        Assert.Empty(_dlq.Letters);
    }

    [Fact]
    public async Task Retry_delays_start_at_the_base_and_double_per_retry()
    {
        _http.Script(new ScriptedReply(503), new ScriptedReply(503), new ScriptedReply(503), new ScriptedReply(503), new ScriptedReply(503));
        var options = Options(Webhook(), maxRetries: 5);
        options.RetryBaseDelay = TimeSpan.FromMilliseconds(60);
        options.RetryMaxDelay = TimeSpan.FromSeconds(10);
        var dispatcher = Dispatcher(options, _log, _dlq);

        await dispatcher.ProcessAsync(Record(Alert()), CancellationToken.None);

        var at = _http.Requests.Select(r => r.At).ToArray();
        Assert.Equal(6, at.Length);
        var gaps = new TimeSpan[5];
        for (var i = 0; i < gaps.Length; i++)
        {
            gaps[i] = at[i + 1] - at[i];
        }
        var shown = string.Join(", ", gaps.Select(g => $"{g.TotalMilliseconds:F0} ms"));
        for (var i = 0; i < gaps.Length; i++)
        {
            // At least base·2^i (a timer never fires early; 5 ms of clock granularity allowed).
            Assert.True(gaps[i] >= TimeSpan.FromMilliseconds(60 * (1 << i) - 5), $"retry {i} came too early: {shown}");
            Assert.True(i == 0 || gaps[i] > gaps[i - 1], $"retry {i} was not later than the one before: {shown}");
        }
    }

    [Fact]
    public void Backoff_doubles_and_jitter_never_reorders_delays()
    {
        var low = new RetryBackoff(TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(1), () => 0);
        var high = new RetryBackoff(TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(1), () => 0.999999);
        Assert.Equal([1, 2, 4, 8, 16, 32, 60, 60], Enumerable.Range(0, 8).Select(i => low.Delay(i).TotalSeconds));
        for (var i = 0; i < 5; i++)
        {
            Assert.InRange(high.Delay(i).TotalSeconds, (1 << i) * 1.2499, (1 << i) * 1.25);
            Assert.True(low.Delay(i + 1) > high.Delay(i), $"retry {i + 1} at its shortest must still follow retry {i} at its longest");
        }
    }

    [Fact]
    public async Task Attempt_that_times_out_is_retried()
    {
        var stuck = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _http.Script(new ScriptedReply(200, Hold: stuck));
        var options = Options(Webhook());
        options.AttemptTimeout = TimeSpan.FromMilliseconds(300);
        var dispatcher = Dispatcher(options, _log, _dlq);
        var alert = Alert();

        await dispatcher.ProcessAsync(Record(alert), CancellationToken.None);
        stuck.SetResult();

        Assert.Equal(2, _http.Arrivals);
        Assert.Equal(DeliveryOutcomes.Delivered, await _db.OutcomeAsync(alert.EventKey, "hook"));
        Assert.Empty(_dlq.Letters);
    }

    [Fact]
    public async Task Receiver_down_for_good_dead_letters_the_original_record_with_the_reason()
    {
        var closedPort = FreePort();
        var channels = new Dictionary<string, ChannelOptions>
        {
            ["hook"] = new() { Type = ChannelTypes.Webhook, Url = $"http://127.0.0.1:{closedPort}/hook", Secret = Secret },
        };
        var dispatcher = Dispatcher(Options(channels, maxRetries: 2), _log, _dlq);
        var alert = Alert();
        var record = Record(alert, offset: 42);

        await dispatcher.ProcessAsync(record, CancellationToken.None);

        var letter = Assert.Single(_dlq.Letters);
        Assert.Equal(RejectReason.Undeliverable, letter.Reason);
        Assert.StartsWith("channel=hook retries exhausted after 3 attempt(s): http error", letter.Detail, StringComparison.Ordinal);
        Assert.Same(record, letter.Source);
        Assert.Equal(DeliveryOutcomes.DeadLettered, await _db.OutcomeAsync(alert.EventKey, "hook"));
    }

    [Fact]
    public async Task Client_error_is_permanent_and_dead_lettered_without_retrying()
    {
        _http.Script(new ScriptedReply(410));
        var dispatcher = Dispatcher(Options(Webhook()), _log, _dlq);

        await dispatcher.ProcessAsync(Record(Alert()), CancellationToken.None);

        Assert.Single(_http.Requests);
        Assert.Equal("channel=hook permanent failure: status 410", Assert.Single(_dlq.Letters).Detail);
    }

    [Fact]
    public async Task Slack_receives_incoming_webhook_text_with_escaped_values_and_an_idempotency_key()
    {
        var channels = new Dictionary<string, ChannelOptions>
        {
            ["slack"] = new() { Type = ChannelTypes.Slack, Url = _http.Url("/services/T0/B0/x").ToString() },
        };
        var dispatcher = Dispatcher(Options(channels), _log, _dlq);
        var alert = Alert(sensor: "s<1>&");

        await dispatcher.ProcessAsync(Record(alert), CancellationToken.None);

        var request = Assert.Single(_http.Requests);
        using var body = JsonDocument.Parse(request.Body);
        var text = body.RootElement.GetProperty("text").GetString()!;
        Assert.Contains("`s&lt;1&gt;&amp;`", text, StringComparison.Ordinal);
        Assert.Contains("*[high]*", text, StringComparison.Ordinal);
        Assert.Equal(alert.EventKey, request.Headers["Idempotency-Key"]);
    }

    [Fact]
    public async Task Email_goes_over_smtp_with_text_and_html_and_a_message_id_from_the_event_key()
    {
        using var smtp = new SmtpReceiver();
        smtp.FailData(451);
        var channels = new Dictionary<string, ChannelOptions>
        {
            ["mail"] = new()
            {
                Type = ChannelTypes.Email, Host = "127.0.0.1", Port = smtp.Port, Security = "None",
                From = "alerts@plant.example", To = ["ops@plant.example", "oncall@plant.example"],
            },
        };
        var dispatcher = Dispatcher(Options(channels), _log, _dlq);
        var alert = Alert(sensor: "s<b>");

        await dispatcher.ProcessAsync(Record(alert), CancellationToken.None);

        var (from, to, message) = Assert.Single(smtp.Messages);
        Assert.Equal("alerts@plant.example", from);
        Assert.Equal(["ops@plant.example", "oncall@plant.example"], to);
        Assert.Equal(alert.EventKey.Replace(':', '.') + "@plant.example", message.MessageId);
        Assert.Equal("[high] alert open: s<b> (zscore)", message.Subject);
        Assert.Contains("Sensor: s<b>", message.TextBody, StringComparison.Ordinal);
        Assert.Contains("s&lt;b&gt;", message.HtmlBody, StringComparison.Ordinal);
        Assert.Equal(DeliveryOutcomes.Delivered, await _db.OutcomeAsync(alert.EventKey, "mail"));
    }

    [Fact]
    public async Task Console_writes_one_readable_line_with_severity_sensor_value_detector_and_time()
    {
        var console = new StringWriter();
        var dispatcher = Dispatcher(Options(new() { ["console"] = new ChannelOptions() }), _log, _dlq, console);

        await dispatcher.ProcessAsync(Record(Alert()), CancellationToken.None);

        var line = Assert.Single(console.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal("2025-06-15T15:07:10.000Z high sev=4 open sensor=s-1 value=17.25 detector=zscore score=0.93 alert=" + Alert().AlertId + " rev=0", line.TrimEnd('\r'));
    }

    [Fact]
    public async Task Routes_pick_channels_by_severity_status_sensor_type_and_asset()
    {
        var console = new StringWriter();
        var options = Options(new()
        {
            ["hook"] = Webhook()["hook"],
            ["console"] = new ChannelOptions { Template = "{severity} {status} {sensor_id}" },
        });
        options.Routes =
        [
            new RouteOptions { Name = "critical", MinSeverity = 5, Channels = ["hook"] },
            new RouteOptions { Name = "pumps", Assets = ["pump-*"], SensorTypes = ["vibration"], Statuses = ["open"], Channels = ["console"] },
        ];
        var dispatcher = Dispatcher(options, _log, _dlq, console);

        await dispatcher.ProcessAsync(Record(Alert(severity: 5, asset: "fan-1")), CancellationToken.None);
        await dispatcher.ProcessAsync(Record(Alert(severity: 3, sensor: "s-2")), CancellationToken.None);
        await dispatcher.ProcessAsync(Record(Alert(AlertStatus.Resolved, 1, severity: 3, sensor: "s-3")), CancellationToken.None);
        await dispatcher.ProcessAsync(Record(Alert(severity: 3, sensor: "s-4", sensorType: "temperature")), CancellationToken.None);

        Assert.Single(_http.Requests);
        Assert.Equal("3 open s-2", console.ToString().Trim());
    }

    [Fact]
    public async Task Rate_limit_holds_back_excess_and_sends_one_digest_when_the_window_ends()
    {
        var channels = Webhook();
        channels["hook"].RateLimit = 1;
        channels["hook"].RateLimitWindow = TimeSpan.FromMilliseconds(300);
        var dispatcher = Dispatcher(Options(channels), _log, _dlq);
        var alerts = new[] { Alert(sensor: "a"), Alert(sensor: "b"), Alert(sensor: "c") };

        foreach (var a in alerts)
        {
            await dispatcher.ProcessAsync(Record(a), CancellationToken.None);
        }
        await dispatcher.FlushDigestsAsync(force: false, CancellationToken.None);
        Assert.Single(_http.Requests);
        Assert.Equal(DeliveryOutcomes.Held, await _db.OutcomeAsync(alerts[1].EventKey, "hook"));

        await Task.Delay(350);
        await dispatcher.FlushDigestsAsync(force: false, CancellationToken.None);

        var digest = _http.Requests.ToArray()[1];
        using var body = JsonDocument.Parse(digest.Body);
        Assert.Equal("digest", body.RootElement.GetProperty("type").GetString());
        Assert.Equal([alerts[1].EventKey, alerts[2].EventKey], body.RootElement.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("event_key").GetString()));
        Assert.StartsWith("digest:hook:", digest.Headers["Idempotency-Key"], StringComparison.Ordinal);
        Assert.True(VerifiesLikeAReceiver(digest));
        Assert.Equal(DeliveryOutcomes.Digested, await _db.OutcomeAsync(alerts[2].EventKey, "hook"));

        await dispatcher.FlushDigestsAsync(force: true, CancellationToken.None);
        Assert.Equal(2, _http.Requests.Count);
    }

    [Fact]
    public async Task Digest_owed_by_a_previous_process_is_sent_by_the_next_one_listing_event_keys()
    {
        foreach (var key in new[] { "al_x:open:0", "al_y:resolved:2" })
        {
            await _log.ClaimAsync(key, "hook", CancellationToken.None);
            await _log.MarkAsync(key, "hook", DeliveryOutcomes.Held, CancellationToken.None);
        }
        var channels = Webhook();
        channels["hook"].RateLimit = 5;
        channels["hook"].RateLimitWindow = TimeSpan.FromMilliseconds(200);
        var dispatcher = Dispatcher(Options(channels), _log, _dlq);

        await dispatcher.FlushDigestsAsync(force: false, CancellationToken.None);
        Assert.Empty(_http.Requests);
        await Task.Delay(250);
        await dispatcher.FlushDigestsAsync(force: false, CancellationToken.None);

        using var body = JsonDocument.Parse(Assert.Single(_http.Requests).Body);
        Assert.Equal(2, body.RootElement.GetProperty("count").GetInt32());
        Assert.Contains("- al_y:resolved:2", body.RootElement.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(DeliveryOutcomes.Digested, await _db.OutcomeAsync("al_x:open:0", "hook"));
    }

    [Fact]
    public async Task Undeliverable_digest_is_dead_lettered_with_its_held_events()
    {
        var channels = Webhook();
        channels["hook"].RateLimit = 1;
        channels["hook"].RateLimitWindow = TimeSpan.FromMilliseconds(100);
        var dispatcher = Dispatcher(Options(channels), _log, _dlq);
        var held = Alert(sensor: "b");
        await dispatcher.ProcessAsync(Record(Alert(sensor: "a")), CancellationToken.None);
        await dispatcher.ProcessAsync(Record(held), CancellationToken.None);
        _http.Script(new ScriptedReply(403));

        await Task.Delay(150);
        await dispatcher.FlushDigestsAsync(force: false, CancellationToken.None);

        var letter = Assert.Single(_dlq.Letters);
        Assert.Equal("channel=hook permanent failure: status 403 (digest of 1)", letter.Detail);
        Assert.Equal("hook", Encoding.UTF8.GetString(letter.Source.Key!));
        using var value = JsonDocument.Parse(letter.Source.Value);
        Assert.Equal(held.EventKey, value.RootElement.GetProperty("events")[0].GetProperty("event_key").GetString());
        Assert.Equal(DeliveryOutcomes.DeadLettered, await _db.OutcomeAsync(held.EventKey, "hook"));
    }

    [Fact]
    public async Task Malformed_alert_record_is_dead_lettered_as_malformed_json()
    {
        var dispatcher = Dispatcher(Options(Webhook()), _log, _dlq);
        var record = new AlertRecord(Topics.Alerts, 0, 7, null, "{\"alert_id\":"u8.ToArray(), []);

        await dispatcher.ProcessAsync(record, CancellationToken.None);

        Assert.Equal(RejectReason.MalformedJson, Assert.Single(_dlq.Letters).Reason);
        Assert.Empty(_http.Requests);
    }

    [Fact]
    public async Task Interrupted_delivery_is_redelivered_with_the_same_idempotency_key()
    {
        var alert = Alert();
        await _log.ClaimAsync(alert.EventKey, "hook", CancellationToken.None); // a previous process died after claiming
        var dispatcher = Dispatcher(Options(Webhook()), _log, _dlq);

        await dispatcher.ProcessAsync(Record(alert), CancellationToken.None);

        Assert.Equal(alert.EventKey, Assert.Single(_http.Requests).Headers["Idempotency-Key"]);
        Assert.Equal(DeliveryOutcomes.Delivered, await _db.OutcomeAsync(alert.EventKey, "hook"));
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }
}
