using System.Text;
using Confluent.Kafka;
using Microsoft.Extensions.Logging.Abstractions;
using SmartMaintenance.Streams.Alerting.Notifier;
using SmartMaintenance.Streams.Alerting.Tests.Receivers;
using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Testing;
using Xunit;

namespace SmartMaintenance.Streams.Alerting.Tests;

/// <summary>AlertTracker → AlertPublisher → embedded Kafka → NotifierService → real receivers, delivery log in PostgreSQL.</summary>
[Collection(ServicesCollection.Name)]
public sealed class NotifierEndToEndTests(KafkaFixture kafka, PostgresFixture postgres) : IAsyncLifetime
{
    private const string Secret = "e2e-secret";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(40);
    private HttpReceiver _http = null!;
    private TestDatabase _db = null!;
    private string _topic = "";
    private string _dlqTopic = "";

    public async Task InitializeAsync()
    {
        _http = await HttpReceiver.StartAsync();
        _db = await TestDatabase.CreateAsync(postgres);
        _topic = kafka.CreateUniqueTopic("alerts", 3);
        _dlqTopic = kafka.CreateUniqueTopic("alerts-dlq", 1);
    }

    public async Task DisposeAsync()
    {
        await _http.DisposeAsync();
        await _db.DisposeAsync();
    }

    private NotifierOptions Options(string group, Dictionary<string, ChannelOptions>? channels = null, int maxRetries = 3) => new()
    {
        BootstrapServers = kafka.BootstrapServers,
        GroupId = group,
        Topic = _topic,
        DlqTopic = _dlqTopic,
        ConnectionString = "unused: the test passes its data source",
        MaxRetries = maxRetries,
        RetryBaseDelay = TimeSpan.FromMilliseconds(20),
        RetryMaxDelay = TimeSpan.FromMilliseconds(200),
        Kafka = new() { ["auto.commit.interval.ms"] = "200", ["session.timeout.ms"] = "6000", ["heartbeat.interval.ms"] = "1000" },
        Channels = channels ?? new()
        {
            ["hook"] = new ChannelOptions { Type = ChannelTypes.Webhook, Url = _http.Url("/alerts").ToString(), Secret = Secret },
        },
        Routes = [new RouteOptions { Name = "all", Channels = channels is null ? ["hook"] : [.. channels.Keys] }],
    };

    private sealed class RunningNotifier(Task run, CancellationTokenSource cts, KafkaDeadLetterSink dlq, IReadOnlyList<IAlertChannel> channels) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await cts.CancelAsync();
            await run.WaitAsync(TimeSpan.FromSeconds(30));
            dlq.Dispose();
            foreach (var c in channels)
            {
                (c as IDisposable)?.Dispose();
            }
            cts.Dispose();
        }
    }

    private RunningNotifier Start(NotifierOptions options)
    {
        options.Validate();
        var dlq = new KafkaDeadLetterSink(NotifierService.ProducerConfig(options), options.DlqTopic);
        var channels = AlertDispatcher.CreateChannels(options);
        var dispatcher = new AlertDispatcher(options, channels, new PostgresDeliveryLog(_db.DataSource), dlq, NullLogger.Instance);
        var cts = new CancellationTokenSource();
        return new RunningNotifier(new NotifierService(options, dispatcher, NullLogger.Instance).RunAsync(cts.Token), cts, dlq, channels);
    }

    /// <summary>open → updated → resolved of one alert, as the engine's tracker produces them.</summary>
    private static List<AlertEvent> Lifecycle(string sensor = "s-e2e")
    {
        var tracker = new AlertTracker(new AlertOptions { QuietPeriod = TimeSpan.FromMinutes(1) });
        var output = new List<AlertEvent>();
        tracker.OnAnomaly(AlertTrackerTests.Anom(1_750_000_000_000, severity: 3, sensor: sensor), output);
        tracker.OnAnomaly(AlertTrackerTests.Anom(1_750_000_010_000, severity: 5, sensor: sensor), output);
        tracker.OnNormal(sensor, 1_750_000_080_000, output);
        return output;
    }

    private async Task PublishAsync(IEnumerable<AlertEvent> events)
    {
        using var publisher = new AlertPublisher(new ProducerConfig { BootstrapServers = kafka.BootstrapServers }, new AlertOptions { Topic = _topic });
        foreach (var e in events)
        {
            await publisher.PublishAsync(e);
        }
    }

    private static async Task Until(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for {what}");
            await Task.Delay(50);
        }
    }

    [Fact]
    public async Task Open_update_resolve_reach_the_webhook_in_order_with_one_alert_id()
    {
        var events = Lifecycle();
        await PublishAsync(events);
        var latencyBefore = NotifierMetrics.DeliveryLatency.WithLabels("hook").Count;

        await using (Start(Options("g-flow-" + Guid.NewGuid().ToString("N"))))
        {
            await Until(() => _http.Requests.Count >= 3, "three deliveries");
        }

        var bodies = _http.Requests.Select(r => System.Text.Json.JsonDocument.Parse(r.Body).RootElement.GetProperty("alert")).ToList();
        Assert.Equal([AlertStatus.Open, AlertStatus.Updated, AlertStatus.Resolved], bodies.Select(b => b.GetProperty("status").GetString()));
        Assert.Single(bodies.Select(b => b.GetProperty("alert_id").GetString()).Distinct());
        Assert.Equal(events.Select(e => e.EventKey), _http.Requests.Select(r => r.Headers["Idempotency-Key"]));
        Assert.All(_http.Requests, r => Assert.True(WebhookSignature.Verify(Secret, r.Headers["X-Timestamp"], r.Body, r.Headers["X-Signature"], DateTimeOffset.UtcNow, TimeSpan.FromMinutes(5))));
        Assert.Equal(3, await _db.CountAsync("outcome = 'delivered'"));
        Assert.Equal(latencyBefore + 3, NotifierMetrics.DeliveryLatency.WithLabels("hook").Count);
    }

    [Fact]
    public async Task Undeliverable_event_lands_in_the_dlq_with_reason_and_original_record()
    {
        var channels = new Dictionary<string, ChannelOptions>
        {
            ["down"] = new() { Type = ChannelTypes.Webhook, Url = "http://127.0.0.1:9/never", Secret = Secret },
        };
        var alert = Lifecycle()[0];
        await PublishAsync([alert]);

        await using (Start(Options("g-dlq-" + Guid.NewGuid().ToString("N"), channels, maxRetries: 1)))
        {
            await Until(() => _db.OutcomeAsync(alert.EventKey, "down").GetAwaiter().GetResult() == DeliveryOutcomes.DeadLettered, "dead-lettering");
        }

        var dead = Assert.Single(await kafka.ConsumeAllAsync(_dlqTopic));
        Assert.Equal("undeliverable", dead.Header(DlqHeaders.Reason));
        Assert.StartsWith("channel=down retries exhausted after 2 attempt(s): http error", dead.Header(DlqHeaders.Detail), StringComparison.Ordinal);
        Assert.Equal(_topic, dead.Header(DlqHeaders.SourceTopic));
        Assert.NotNull(dead.Header(DlqHeaders.SourceOffset));
        Assert.Equal(alert.EventKey, dead.Header(AlertPublisher.EventKeyHeader));
        Assert.Equal(alert.AssetId, dead.KeyText);
        var original = System.Text.Json.JsonSerializer.Deserialize(dead.Value, ContractsJsonContext.Default.AlertEvent)!;
        Assert.Equal(alert.EventKey, original.EventKey);
    }

    [Fact]
    public async Task Killed_mid_delivery_and_restarted_loses_nothing_and_repeats_only_under_the_same_idempotency_key()
    {
        var events = Lifecycle();
        await PublishAsync(events);
        var held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _http.Script(new ScriptedReply(200, Hold: held));
        var group = "g-kill-" + Guid.NewGuid().ToString("N");

        var first = Start(Options(group));
        await Until(() => _http.Arrivals >= 1, "the first delivery to reach the receiver");
        await first.DisposeAsync(); // killed while the receiver still holds the request
        held.SetResult(); // the receiver acts on it anyway; the notifier never saw the answer
        Assert.Equal(DeliveryOutcomes.Pending, await _db.OutcomeAsync(events[0].EventKey, "hook"));

        await using (Start(Options(group)))
        {
            await Until(() => _http.Effects.Count == 3, "all three events after the restart");
            await Until(() => _db.CountAsync("outcome = 'delivered'").GetAwaiter().GetResult() == 3, "the delivery log");
        }

        // Nothing lost: every event arrived. No duplicate effect: the one resend carried the same key.
        Assert.Equal(events.Select(e => e.EventKey).Order(StringComparer.Ordinal), _http.Effects.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(2, _http.Effects[events[0].EventKey]);
        Assert.Equal(1, _http.Effects[events[1].EventKey]);
        Assert.Equal(1, _http.Effects[events[2].EventKey]);
    }

    [Fact]
    public async Task Redelivered_records_and_republished_events_are_not_delivered_again_after_a_restart()
    {
        var events = Lifecycle();
        await PublishAsync(events);
        await using (Start(Options("g-dedup-a-" + Guid.NewGuid().ToString("N"))))
        {
            await Until(() => _db.CountAsync("outcome = 'delivered'").GetAwaiter().GetResult() == 3, "first delivery");
        }
        var duplicatesBefore = NotifierMetrics.Deliveries.WithLabels("hook", "duplicate").Value;

        // A replay republishes the same events; a new group re-reads everything from the start.
        await PublishAsync(Lifecycle());
        await using (Start(Options("g-dedup-b-" + Guid.NewGuid().ToString("N"))))
        {
            await Until(() => NotifierMetrics.Deliveries.WithLabels("hook", "duplicate").Value >= duplicatesBefore + 6, "six duplicates skipped");
        }

        Assert.Equal(3, _http.Requests.Count);
        Assert.All(_http.Effects.Values, n => Assert.Equal(1, n));
    }
}
