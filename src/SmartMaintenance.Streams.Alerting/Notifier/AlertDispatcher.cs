using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.Retry;
using SmartMaintenance.Streams.Contracts;

namespace SmartMaintenance.Streams.Alerting.Notifier;

/// <summary>
/// The delivery pipeline the Kafka loop calls per record: decode, route, and per channel claim in the delivery log,
/// rate-limit, deliver with retries, then record the outcome (or dead-letter). When <see cref="ProcessAsync"/>
/// completes, every channel of the record is delivered, held for a digest or dead-lettered, so the caller may store
/// the record's offset. Calls must not overlap (one consume loop).
/// </summary>
public sealed class AlertDispatcher
{
    private static readonly ResiliencePropertyKey<string> EventKeyProperty = new("smstream.event_key");

    private readonly NotifierOptions _options;
    private readonly Dictionary<string, ChannelState> _channels = new(StringComparer.Ordinal);
    private readonly AlertRouter _router;
    private readonly IDeliveryLog _log;
    private readonly IDeadLetterSink _deadLetters;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly List<string> _routed = [];

    /// <summary>Active silences (operator API); matching events are consumed without being delivered. Null: none.</summary>
    public ISilenceSource? Silences { get; init; }

    public AlertDispatcher(NotifierOptions options, IEnumerable<IAlertChannel> channels, IDeliveryLog log, IDeadLetterSink deadLetters, ILogger logger, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(channels);
        ArgumentNullException.ThrowIfNull(log);
        ArgumentNullException.ThrowIfNull(deadLetters);
        ArgumentNullException.ThrowIfNull(logger);
        _options = options;
        _router = new AlertRouter(options.Routes);
        _log = log;
        _deadLetters = deadLetters;
        _logger = logger;
        _time = time ?? TimeProvider.System;
        foreach (var channel in channels)
        {
            var cfg = options.Channels.TryGetValue(channel.Name, out var c) ? c : null;
            _channels.Add(channel.Name, new ChannelState(channel, cfg, BuildPipeline(channel.Name), _time));
        }
        foreach (var route in options.Routes)
        {
            foreach (var name in route.Channels)
            {
                if (!_channels.ContainsKey(name))
                {
                    throw new ConfigurationException("Notifier:Routes", $"channel '{name}' has no implementation");
                }
            }
        }
    }

    /// <summary>Builds the configured channels. Disposable ones (HTTP) are owned by the caller.</summary>
    public static IReadOnlyList<IAlertChannel> CreateChannels(NotifierOptions options, TextWriter? console = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var list = new List<IAlertChannel>();
        foreach (var (name, c) in options.Channels)
        {
            list.Add(c.Type switch
            {
                ChannelTypes.Console => new ConsoleChannel(name, c, console),
                ChannelTypes.Webhook => new WebhookChannel(name, c, options.AttemptTimeout, time),
                ChannelTypes.Slack => new SlackChannel(name, c, options.AttemptTimeout, time),
                ChannelTypes.Email => new EmailChannel(name, c, options.AttemptTimeout),
                _ => throw new ConfigurationException($"Notifier:Channels:{name}:Type", $"'{c.Type}' is not one of console, webhook, slack, email"),
            });
        }
        return list;
    }

    /// <summary>Delivers one consumed record to every routed channel (or dead-letters it). Throws only on
    /// cancellation or when the delivery log / DLQ is unreachable; then nothing about the record is final and it
    /// must be processed again.</summary>
    public async Task ProcessAsync(AlertRecord record, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(record);
        var alert = Decode(record, out var error);
        if (alert is null)
        {
            NotifierMetrics.Records.WithLabels("malformed").Inc();
            NotifierLog.Malformed(_logger, record.Topic, record.Partition, record.Offset, error);
            await _deadLetters.SendAsync(new DeadLetter(record, RejectReason.MalformedJson, error), cancellationToken).ConfigureAwait(false);
            return;
        }
        if (Silences?.Find(alert, _time.GetUtcNow()) is not null)
        {
            NotifierMetrics.Records.WithLabels("silenced").Inc();
            return;
        }
        _routed.Clear();
        _router.Match(alert, _routed);
        if (_routed.Count == 0)
        {
            NotifierMetrics.Records.WithLabels("unrouted").Inc();
            return;
        }
        NotifierMetrics.Records.WithLabels("routed").Inc();
        if (_routed.Count == 1)
        {
            await DeliverAsync(_channels[_routed[0]], alert, record, cancellationToken).ConfigureAwait(false);
            return;
        }
        // Channels are independent: a slow e-mail server must not delay the webhook.
        var tasks = new Task[_routed.Count];
        for (var i = 0; i < tasks.Length; i++)
        {
            tasks[i] = DeliverAsync(_channels[_routed[i]], alert, record, cancellationToken);
        }
        await Task.WhenAll(tasks).ConfigureAwait(false);
    }

    /// <summary>Sends the digest of every rate-limited channel whose window has ended (all of them when
    /// <paramref name="force"/>). Cheap when nothing is held; the consume loop calls it between records.</summary>
    public async Task FlushDigestsAsync(bool force, CancellationToken cancellationToken)
    {
        foreach (var state in _channels.Values)
        {
            var now = _time.GetUtcNow();
            if (state.CheckStoredHeld)
            {
                // Rows held by a previous process (even if its rate limit has since been removed): their digest is owed.
                state.CheckStoredHeld = false;
                var stored = await _log.ListHeldAsync(state.Channel.Name, cancellationToken).ConfigureAwait(false);
                if (stored.Count > 0)
                {
                    state.HeldSince ??= state.Bucket is null ? now - state.Window : now;
                }
            }
            if (state.HeldSince is not { } since || (!force && now < since + state.Window))
            {
                continue;
            }
            await SendDigestAsync(state, since, now, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task DeliverAsync(ChannelState state, AlertEvent alert, AlertRecord record, CancellationToken cancellationToken)
    {
        var name = state.Channel.Name;
        var key = alert.EventKey;
        var claim = await _log.ClaimAsync(key, name, cancellationToken).ConfigureAwait(false);
        if (claim == ClaimState.Done)
        {
            NotifierMetrics.Deliveries.WithLabels(name, "duplicate").Inc();
            return;
        }
        if (claim == ClaimState.Interrupted)
        {
            NotifierLog.Redelivering(_logger, key, name);
        }
        var now = _time.GetUtcNow();
        if (state.Bucket is { } bucket && !bucket.TryTake(now))
        {
            await _log.MarkAsync(key, name, DeliveryOutcomes.Held, cancellationToken).ConfigureAwait(false);
            state.Held[key] = alert;
            state.HeldSince ??= now;
            NotifierMetrics.Deliveries.WithLabels(name, "held").Inc();
            return;
        }

        var outcome = await ExecuteAsync(state, key, static (ch, s, ct) => ch.DeliverAsync(s.Alert, s.Key, ct), (Alert: alert, Key: key), cancellationToken)
            .ConfigureAwait(false);
        if (outcome.Status == DeliveryStatus.Delivered)
        {
            await _log.MarkAsync(key, name, DeliveryOutcomes.Delivered, cancellationToken).ConfigureAwait(false);
            NotifierMetrics.Deliveries.WithLabels(name, "delivered").Inc();
            if (alert.PublishedAt > DateTimeOffset.UnixEpoch)
            {
                NotifierMetrics.DeliveryLatency.WithLabels(name).Observe(Math.Max(0, (_time.GetUtcNow() - alert.PublishedAt).TotalSeconds));
            }
            return;
        }
        var detail = Detail(name, outcome);
        NotifierLog.DeadLettered(_logger, key, name, detail);
        await _deadLetters.SendAsync(new DeadLetter(record, RejectReason.Undeliverable, detail), cancellationToken).ConfigureAwait(false);
        await _log.MarkAsync(key, name, DeliveryOutcomes.DeadLettered, cancellationToken).ConfigureAwait(false);
        NotifierMetrics.Deliveries.WithLabels(name, "dead_lettered").Inc();
    }

    private async Task SendDigestAsync(ChannelState state, DateTimeOffset since, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var name = state.Channel.Name;
        var keys = await _log.ListHeldAsync(name, cancellationToken).ConfigureAwait(false);
        if (keys.Count > 0)
        {
            var items = new HeldAlert[keys.Count];
            for (var i = 0; i < items.Length; i++)
            {
                items[i] = new HeldAlert(keys[i], state.Held.GetValueOrDefault(keys[i]));
            }
            var digest = new AlertDigest(name, DigestKey(name, keys), since, now, items);
            var outcome = await ExecuteAsync(state, digest.IdempotencyKey, static (ch, d, ct) => ch.DeliverDigestAsync(d, ct), digest, cancellationToken)
                .ConfigureAwait(false);
            if (outcome.Status == DeliveryStatus.Delivered)
            {
                await _log.MarkHeldAsync(keys, name, DeliveryOutcomes.Digested, cancellationToken).ConfigureAwait(false);
                NotifierMetrics.Deliveries.WithLabels(name, "digested").Inc(keys.Count);
                NotifierLog.DigestSent(_logger, keys.Count, name);
            }
            else
            {
                var detail = Detail(name, outcome) + $" (digest of {keys.Count})";
                NotifierLog.DeadLettered(_logger, digest.IdempotencyKey, name, detail);
                var source = new AlertRecord(_options.Topic, -1, -1, Encoding.UTF8.GetBytes(name), digest.ToJson(message: null), []);
                await _deadLetters.SendAsync(new DeadLetter(source, RejectReason.Undeliverable, detail), cancellationToken).ConfigureAwait(false);
                await _log.MarkHeldAsync(keys, name, DeliveryOutcomes.DeadLettered, cancellationToken).ConfigureAwait(false);
                NotifierMetrics.Deliveries.WithLabels(name, "dead_lettered").Inc(keys.Count);
            }
            foreach (var k in keys)
            {
                state.Held.Remove(k);
            }
        }
        state.HeldSince = state.Held.Count > 0 ? now : null;
    }

    private async ValueTask<DeliveryOutcome> ExecuteAsync<TState>(
        ChannelState state, string key, Func<IAlertChannel, TState, CancellationToken, ValueTask<DeliveryOutcome>> send, TState arg, CancellationToken cancellationToken)
    {
        var context = ResilienceContextPool.Shared.Get(cancellationToken);
        try
        {
            context.Properties.Set(EventKeyProperty, key);
            return await state.Pipeline.ExecuteAsync(
                static (ctx, s) => s.send(s.Channel, s.arg, ctx.CancellationToken),
                context,
                (send, state.Channel, arg)).ConfigureAwait(false);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    private ResiliencePipeline<DeliveryOutcome> BuildPipeline(string channel)
    {
        var retryAfterMax = _options.RetryAfterMax;
        var backoff = new RetryBackoff(_options.RetryBaseDelay, _options.RetryMaxDelay);
        var options = new RetryStrategyOptions<DeliveryOutcome>
        {
            ShouldHandle = static args => ValueTask.FromResult(args.Outcome.Result.IsTransient),
            MaxRetryAttempts = Math.Max(1, _options.MaxRetries),
            // A receiver's Retry-After wins over backoff (capped so a hostile value cannot park the notifier).
            DelayGenerator = args => ValueTask.FromResult<TimeSpan?>(
                args.Outcome.Result.RetryAfter is { } ra ? (ra > retryAfterMax ? retryAfterMax : ra) : backoff.Delay(args.AttemptNumber)),
            OnRetry = args =>
            {
                NotifierMetrics.Retries.WithLabels(channel).Inc();
                var key = args.Context.Properties.GetValue(EventKeyProperty, "");
                NotifierLog.Retrying(_logger, key, channel, args.Outcome.Result.Detail, args.AttemptNumber + 1, args.RetryDelay);
                return ValueTask.CompletedTask;
            },
        };
        var builder = new ResiliencePipelineBuilder<DeliveryOutcome> { TimeProvider = _time };
        if (_options.MaxRetries > 0)
        {
            builder.AddRetry(options);
        }
        return builder.Build();
    }

    private string Detail(string channel, DeliveryOutcome outcome) => outcome.IsTransient
        ? $"channel={channel} retries exhausted after {_options.MaxRetries + 1} attempt(s): {outcome.Detail}"
        : $"channel={channel} permanent failure: {outcome.Detail}";

    private static AlertEvent? Decode(AlertRecord record, out string error)
    {
        try
        {
            var alert = JsonSerializer.Deserialize(record.Value, ContractsJsonContext.Default.AlertEvent);
            if (alert is null)
            {
                error = "value is JSON null";
                return null;
            }
            if (alert.AlertId.Length == 0 || alert.SensorId.Length == 0 ||
                alert.Status is not (AlertStatus.Open or AlertStatus.Updated or AlertStatus.Resolved or AlertStatus.Acknowledged))
            {
                error = "alert_id, sensor_id or status invalid";
                return null;
            }
            error = "";
            return alert;
        }
        catch (JsonException ex)
        {
            error = ex.Message;
            return null;
        }
    }

    private static string DigestKey(string channel, IReadOnlyList<string> keys)
    {
        // Same held set → same key, so a digest resent after a crash is recognisable by the receiver.
        var sorted = keys.ToArray();
        Array.Sort(sorted, StringComparer.Ordinal);
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(string.Join('\n', sorted)));
        return $"digest:{channel}:{Convert.ToHexStringLower(hash.AsSpan(0, 16))}";
    }

    private sealed class ChannelState(IAlertChannel channel, ChannelOptions? options, ResiliencePipeline<DeliveryOutcome> pipeline, TimeProvider time)
    {
        public IAlertChannel Channel { get; } = channel;
        public ResiliencePipeline<DeliveryOutcome> Pipeline { get; } = pipeline;
        public TokenBucket? Bucket { get; } = options is { RateLimit: > 0 } o ? new TokenBucket(o.RateLimit, o.RateLimitWindow, time.GetUtcNow()) : null;
        public TimeSpan Window { get; } = options?.RateLimitWindow ?? TimeSpan.FromMinutes(1);
        public Dictionary<string, AlertEvent> Held { get; } = new(StringComparer.Ordinal);
        public DateTimeOffset? HeldSince { get; set; }
        public bool CheckStoredHeld { get; set; } = true;
    }
}
