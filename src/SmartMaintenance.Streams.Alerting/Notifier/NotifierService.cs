using Confluent.Kafka;
using Microsoft.Extensions.Logging;

namespace SmartMaintenance.Streams.Alerting.Notifier;

/// <summary>
/// The notifier's consume loop: reads <c>maintenance-alerts</c> as group <c>smstream-notifier</c>, hands each record
/// to <see cref="AlertDispatcher"/> and stores its offset only when the dispatcher is done with it (delivered, held
/// for a digest or dead-lettered). While a delivery is in flight (retries can take minutes) the partitions are paused
/// and the loop keeps polling, so the consumer never exceeds max.poll.interval.ms.
/// </summary>
public sealed class NotifierService
{
    private static readonly TimeSpan PollTimeout = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan MaxProcessingBackoff = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan FlushBackoff = TimeSpan.FromSeconds(5);

    /// <summary>The consumer's session.timeout.ms unless Notifier:Kafka sets one.</summary>
    public const int DefaultSessionTimeoutMs = 10_000;

    private readonly NotifierOptions _options;
    private readonly AlertDispatcher _dispatcher;
    private readonly ILogger _logger;
    private volatile string? _fatal;
    private DateTime _nextFlush;

    public NotifierService(NotifierOptions options, AlertDispatcher dispatcher, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(dispatcher);
        ArgumentNullException.ThrowIfNull(logger);
        _options = options;
        _dispatcher = dispatcher;
        _logger = logger;
    }

    /// <summary>Consumer settings: manual offset store, auto-commit of stored offsets, earliest reset.</summary>
    public static ConsumerConfig ConsumerConfig(NotifierOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var cfg = new ConsumerConfig(new Dictionary<string, string>(options.Kafka))
        {
            BootstrapServers = options.BootstrapServers,
            GroupId = options.GroupId,
            EnableAutoCommit = true,
            EnableAutoOffsetStore = false,
            AutoOffsetReset = AutoOffsetReset.Earliest,
        };
        // Alerts are few and latency matters: an empty fetch should not hold a new alert back for librdkafka's
        // default 500 ms (the embedded broker holds empty fetches for the full wait). An explicit setting wins.
        if (!options.Kafka.ContainsKey("fetch.wait.max.ms"))
        {
            cfg.FetchWaitMaxMs = 10;
        }
        // A member that died without leaving holds its partitions until its session times out: with librdkafka's 45 s
        // a restarted notifier (or the survivor of two) delivered nothing for 45-90 s. Explicit settings win.
        if (!options.Kafka.ContainsKey("session.timeout.ms"))
        {
            cfg.SessionTimeoutMs = DefaultSessionTimeoutMs;
        }
        if (!options.Kafka.ContainsKey("heartbeat.interval.ms"))
        {
            cfg.HeartbeatIntervalMs = DefaultSessionTimeoutMs / 3;
        }
        return cfg;
    }

    /// <summary>Producer settings of the DLQ producer.</summary>
    public static ProducerConfig ProducerConfig(NotifierOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new ProducerConfig(new Dictionary<string, string>(options.Kafka)) { BootstrapServers = options.BootstrapServers };
    }

    /// <summary>Runs until <paramref name="cancellationToken"/> is cancelled; then closes the consumer (committing
    /// stored offsets). A record whose delivery was cut short is not stored and is processed again next time.
    /// Fails with <see cref="KafkaException"/> on a fatal consumer error.</summary>
    public Task RunAsync(CancellationToken cancellationToken) =>
        Task.Factory.StartNew(() => Run(cancellationToken), cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private void Run(CancellationToken ct)
    {
        var consumer = new ConsumerBuilder<byte[]?, byte[]>(ConsumerConfig(_options))
            .SetErrorHandler((_, e) => OnError(e))
            .Build();
        consumer.Subscribe(_options.Topic);
        NotifierLog.Started(_logger, _options.Topic, _options.GroupId, _options.Channels.Count);
        var backlog = new Queue<ConsumeResult<byte[]?, byte[]>>();
        try
        {
            while (!ct.IsCancellationRequested)
            {
                if (_fatal is { } reason)
                {
                    throw new KafkaException(new Error(ErrorCode.Local_Fatal, reason, isFatal: true));
                }
                ConsumeResult<byte[]?, byte[]>? cr;
                try
                {
                    cr = backlog.Count > 0 ? backlog.Dequeue() : consumer.Consume(PollTimeout);
                }
                catch (ConsumeException ex) when (!ex.Error.IsFatal)
                {
                    // E.g. the alerts topic does not exist yet: keep polling; librdkafka refreshes metadata by itself.
                    NotifierLog.ConsumerError(_logger, ex.Error.Reason);
                    continue;
                }
                if (cr is null || cr.IsPartitionEOF)
                {
                    FlushDigests(consumer, backlog, ct);
                    continue;
                }
                Handle(consumer, cr, backlog, ct);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // Shutdown: whatever was in flight stays unstored and is redelivered (same idempotency key) next run.
        }
        finally
        {
            // Leaves the group (so a restarted notifier gets the partitions at once), but never waits past
            // CloseTimeout: with the brokers gone the close would block for minutes.
            if (BoundedClose.Run(consumer, _options.CloseTimeout, _logger))
            {
                consumer.Dispose();
            }
        }
    }

    private void FlushDigests(IConsumer<byte[]?, byte[]> consumer, Queue<ConsumeResult<byte[]?, byte[]>> backlog, CancellationToken ct)
    {
        if (DateTime.UtcNow < _nextFlush)
        {
            return;
        }
        try
        {
            Await(consumer, _dispatcher.FlushDigestsAsync(force: false, ct), backlog, ct);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Held rows stay held in the database; the digest is only late, so keep consuming and try again later.
            NotifierLog.DigestFailed(_logger, ex, FlushBackoff);
            _nextFlush = DateTime.UtcNow + FlushBackoff;
        }
    }

    private void OnError(Error e)
    {
        // Connection failures repeat every reconnect backoff; only "all brokers down" is worth a warning.
        if (e.IsFatal)
        {
            // The consumer is unusable; RunAsync fails and the process supervisor restarts us.
            NotifierLog.ConsumerFatalError(_logger, e.Reason);
            _fatal = e.Reason;
        }
        else if (e.Code == ErrorCode.Local_AllBrokersDown)
        {
            NotifierLog.ConsumerError(_logger, e.Reason);
        }
        else
        {
            NotifierLog.ConsumerTransientError(_logger, e.Reason);
        }
    }

    private void Handle(IConsumer<byte[]?, byte[]> consumer, ConsumeResult<byte[]?, byte[]> cr, Queue<ConsumeResult<byte[]?, byte[]>> backlog, CancellationToken ct)
    {
        var record = ToRecord(cr);
        var backoff = TimeSpan.FromSeconds(1);
        while (true)
        {
            try
            {
                Await(consumer, _dispatcher.ProcessAsync(record, ct), backlog, ct);
                break;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // Delivery log or DLQ unreachable: nothing about this record is final, so retry it rather than skip it.
                NotifierLog.ProcessingFailed(_logger, ex, record.Topic, record.Partition, record.Offset, backoff);
                Await(consumer, Task.Delay(backoff, ct), backlog, ct);
                backoff = TimeSpan.FromTicks(Math.Min(MaxProcessingBackoff.Ticks, backoff.Ticks * 2));
            }
        }
        try
        {
            consumer.StoreOffset(cr);
        }
        catch (KafkaException ex)
        {
            // Revoked while delivering: the new owner re-reads it and the delivery log turns it into a no-op.
            NotifierLog.StoreFailed(_logger, cr.Topic, cr.Partition.Value, cr.Offset.Value, ex.Error.Reason);
        }
    }

    /// <summary>Waits for <paramref name="task"/> while keeping the consumer alive: partitions paused, polling on.</summary>
    private static void Await(IConsumer<byte[]?, byte[]> consumer, Task task, Queue<ConsumeResult<byte[]?, byte[]>> backlog, CancellationToken ct)
    {
        if (!task.IsCompleted)
        {
            List<TopicPartition>? paused = null;
            try
            {
                while (!((IAsyncResult)task).AsyncWaitHandle.WaitOne(50))
                {
                    if (paused is null)
                    {
                        paused = [.. consumer.Assignment];
                        consumer.Pause(paused);
                    }
                    // Serves rebalance callbacks and resets the poll interval; a message fetched before the pause
                    // took effect is kept, in order, for after the current one.
                    var extra = consumer.Consume(TimeSpan.Zero);
                    if (extra is not null && !extra.IsPartitionEOF)
                    {
                        backlog.Enqueue(extra);
                    }
                }
            }
            finally
            {
                if (paused is not null)
                {
                    var still = consumer.Assignment;
                    consumer.Resume(paused.FindAll(still.Contains));
                }
            }
        }
        ct.ThrowIfCancellationRequested();
        task.GetAwaiter().GetResult();
    }

    private static AlertRecord ToRecord(ConsumeResult<byte[]?, byte[]> cr)
    {
        var headers = new List<KeyValuePair<string, byte[]>>(cr.Message.Headers?.Count ?? 0);
        if (cr.Message.Headers is { } hs)
        {
            foreach (var h in hs)
            {
                headers.Add(new(h.Key, h.GetValueBytes()));
            }
        }
        return new AlertRecord(cr.Topic, cr.Partition.Value, cr.Offset.Value, cr.Message.Key, cr.Message.Value ?? [], headers);
    }
}
