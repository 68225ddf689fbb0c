using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Confluent.Kafka;
using Npgsql;
using SmartMaintenance.Streams.Kafka;

namespace SmartMaintenance.Streams.Load;

/// <summary>Where the load goes and how to observe the engine under it.</summary>
/// <param name="Kafka">Cluster settings (bootstrap servers, security); the load producer uses its producer config.</param>
/// <param name="Topics">Readings topic to load, alerts topic to watch.</param>
/// <param name="EngineGroup">The engine's consumer group: lag = high watermarks − its committed offsets.</param>
/// <param name="Database">The engine's database (for end-to-end probes); null: no end-to-end latency.</param>
/// <param name="EnginePid">Process whose RSS is sampled (default: this process, which hosts the engine in embedded mode).</param>
public sealed record LoadTarget(KafkaOptions Kafka, TopicNames Topics, string EngineGroup, string? Database, int? EnginePid = null);

/// <summary>A threshold and whether the run met it.</summary>
public sealed record ThresholdResult(string Name, string Limit, string Actual, bool Passed);

/// <summary>Everything a load run measured.</summary>
public sealed record LoadResult
{
    public required LoadOptions Options { get; init; }
    public required IReadOnlyList<LoadSample> Samples { get; init; }
    public required LatencyRecorder Ack { get; init; }
    public required LatencyRecorder EndToEnd { get; init; }
    public required LatencyRecorder Alert { get; init; }
    /// <summary>First part of <see cref="Alert"/>: event time → the engine's publication (the alert's <c>published_at</c>).</summary>
    public LatencyRecorder AlertPublish { get; init; } = new();
    /// <summary>Second part of <see cref="Alert"/>: the engine's publication → the load tool consuming the alert.</summary>
    public LatencyRecorder AlertDelivery { get; init; } = new();
    public long MessagesSent { get; init; }
    public long ReadingsSent { get; init; }
    public long MalformedSent { get; init; }
    public long SpikesSent { get; init; }
    public long ProbesSent { get; init; }
    public long ProbesSeen { get; init; }
    public long DeliveryFailures { get; init; }
    public long AlertsSeen { get; init; }
    /// <summary>Open alerts of window detectors (<c>window/…</c>): their event time is the window's end, so they are not in the alert latency.</summary>
    public long WindowAlertsSeen { get; init; }
    public long FinalLag { get; init; }
    public double MeasuredSeconds { get; init; }
    public long MeasuredReadings { get; init; }
    public double OfferedMeasuredReadings { get; init; }
    public TimeSpan DrainTime { get; init; }
    public bool Drained { get; init; }
    public double PeakRssMb { get; init; }
    public double LoadAverage { get; init; }
    public required IReadOnlyList<ThresholdResult> Thresholds { get; init; }
    public bool Passed => Thresholds.All(t => t.Passed);
    public double ErrorRate => MessagesSent == 0 ? 0 : (double)DeliveryFailures / MessagesSent;
}

/// <summary>Runs one load scenario against a live engine: paced producer, probe poller, alert watcher, one sample a second.</summary>
public sealed class LoadRunner
{
    private readonly LoadOptions _options;
    private readonly LoadTarget _target;
    private readonly Action<LoadSample>? _progress;
    private readonly LatencyRecorder _ack = new();
    private readonly LatencyRecorder _e2e = new();
    private readonly LatencyRecorder _alert = new();
    private readonly LatencyRecorder _alertPublish = new();
    private readonly LatencyRecorder _alertDelivery = new();
    private readonly Stopwatch _clock = new();
    private long _measureStartTicks = long.MaxValue;
    private long _sentReadings, _sentMessages, _acked, _failures, _probesSeen, _alertsSeen, _windowAlertsSeen, _measuredReadings;
    private long _lastProbeSeen;

    public LoadRunner(LoadOptions options, LoadTarget target, Action<LoadSample>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(target);
        options.Validate();
        _options = options;
        _target = target;
        _progress = progress;
    }

    public async Task<LoadResult> RunAsync(CancellationToken ct)
    {
        using var stopObservers = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var factory = new LoadMessageFactory(_options);
        using var producer = new ProducerBuilder<byte[], byte[]>(ProducerConfig(_target.Kafka, _options)).Build();
        using var lagProbe = new LagProbe(_target);

        var alerts = Task.Factory.StartNew(() => WatchAlerts(stopObservers.Token), TaskCreationOptions.LongRunning);
        var probes = _target.Database is { } db ? PollProbesAsync(db, stopObservers.Token) : Task.CompletedTask;

        _clock.Start();
        var measureStart = _options.WarmUp;
        Interlocked.Exchange(ref _measureStartTicks, (long)(measureStart.TotalSeconds * Stopwatch.Frequency));
        var sendDone = false;
        var sender = Task.Factory.StartNew(() =>
        {
            try
            {
                Send(producer, factory, ct);
            }
            finally
            {
                Volatile.Write(ref sendDone, true);
            }
        }, TaskCreationOptions.LongRunning);

        var samples = new List<LoadSample>();
        long prevSent = 0, prevAcked = 0, prevCommitted = lagProbe.Committed();
        var prevAt = TimeSpan.Zero;
        var peakRss = 0.0;
        var drainStarted = TimeSpan.Zero;
        var drained = false;
        long lag = 0;
        using var tick = new PeriodicTimer(TimeSpan.FromSeconds(1));
        while (await tick.WaitForNextTickAsync(CancellationToken.None).ConfigureAwait(false))
        {
            var now = _clock.Elapsed;
            var sent = Interlocked.Read(ref _sentReadings);
            var acked = Interlocked.Read(ref _acked);
            var committed = lagProbe.Committed();
            lag = lagProbe.High() - committed;
            var dt = Math.Max(0.001, (now - prevAt).TotalSeconds);
            var ack = _ack.TakeInterval();
            var e2e = _e2e.TakeInterval();
            var alert = _alert.TakeInterval();
            var rss = RssMb(_target.EnginePid);
            peakRss = Math.Max(peakRss, rss);
            var sample = new LoadSample
            {
                Seconds = Math.Round(now.TotalSeconds, 1),
                Measured = now > measureStart && !Volatile.Read(ref sendDone),
                OfferedReadingsPerSecond = Volatile.Read(ref sendDone) ? 0 : _options.RateAt(now),
                SentReadingsPerSecond = (sent - prevSent) / dt,
                AckedMessagesPerSecond = (acked - prevAcked) / dt,
                ProcessedMessagesPerSecond = Math.Max(0, committed - prevCommitted) / dt,
                LagMessages = lag,
                AckP50Ms = LatencyRecorder.Ms(ack, 50),
                AckP99Ms = LatencyRecorder.Ms(ack, 99),
                E2eP50Ms = LatencyRecorder.Ms(e2e, 50),
                E2eP99Ms = LatencyRecorder.Ms(e2e, 99),
                AlertP99Ms = LatencyRecorder.Ms(alert, 99),
                RssMb = rss,
            };
            samples.Add(sample);
            _progress?.Invoke(sample);
            (prevSent, prevAcked, prevCommitted, prevAt) = (sent, acked, committed, now);
            if (ct.IsCancellationRequested)
            {
                break;
            }
            if (Volatile.Read(ref sendDone))
            {
                if (drainStarted == TimeSpan.Zero)
                {
                    drainStarted = now;
                }
                var probesDone = _target.Database is null || Interlocked.Read(ref _lastProbeSeen) >= factory.Probes;
                if (lag <= 0 && probesDone && Interlocked.Read(ref _acked) + Interlocked.Read(ref _failures) >= Interlocked.Read(ref _sentMessages))
                {
                    drained = true;
                    break;
                }
                if (now - drainStarted > _options.DrainTimeout)
                {
                    break;
                }
            }
        }
        await sender.ConfigureAwait(false);
        // A last moment for alerts and probes already on their way.
        await Task.Delay(500, CancellationToken.None).ConfigureAwait(false);
        await stopObservers.CancelAsync().ConfigureAwait(false);
        await Quietly(alerts).ConfigureAwait(false);
        await Quietly(probes).ConfigureAwait(false);

        var measuredSeconds = _options.Duration.TotalSeconds;
        var partial = new LoadResult
        {
            Options = _options,
            Samples = samples,
            Ack = _ack,
            EndToEnd = _e2e,
            Alert = _alert,
            AlertPublish = _alertPublish,
            AlertDelivery = _alertDelivery,
            MessagesSent = Interlocked.Read(ref _sentMessages),
            ReadingsSent = Interlocked.Read(ref _sentReadings),
            MalformedSent = factory.Malformed,
            SpikesSent = factory.Spikes,
            ProbesSent = factory.Probes,
            ProbesSeen = Interlocked.Read(ref _probesSeen),
            DeliveryFailures = Interlocked.Read(ref _failures),
            AlertsSeen = Interlocked.Read(ref _alertsSeen),
            WindowAlertsSeen = Interlocked.Read(ref _windowAlertsSeen),
            FinalLag = lag,
            MeasuredSeconds = measuredSeconds,
            MeasuredReadings = Interlocked.Read(ref _measuredReadings),
            OfferedMeasuredReadings = _options.OfferedReadings() - (_options.Rate * _options.WarmUp.TotalSeconds),
            DrainTime = drainStarted == TimeSpan.Zero ? TimeSpan.Zero : _clock.Elapsed - drainStarted,
            Drained = drained,
            PeakRssMb = peakRss,
            LoadAverage = LoadAverage(),
            Thresholds = [],
        };
        return partial with { Thresholds = Evaluate(partial) };
    }

    /// <summary>The load producer: the cluster's producer settings with the load tool's own client id and linger.</summary>
    public static ProducerConfig ProducerConfig(KafkaOptions kafka, LoadOptions options)
    {
        ArgumentNullException.ThrowIfNull(kafka);
        ArgumentNullException.ThrowIfNull(options);
        var config = kafka.BuildProducerConfig();
        config.ClientId = "smstream-load";
        config.LingerMs = options.ProducerLingerMs;
        return config;
    }

    /// <summary>Checks the configured thresholds against a result.</summary>
    public static IReadOnlyList<ThresholdResult> Evaluate(LoadResult r)
    {
        ArgumentNullException.ThrowIfNull(r);
        var o = r.Options;
        var list = new List<ThresholdResult>();
        static string Ms(double v) => double.IsNaN(v) ? "no samples" : v.ToString("F1", CultureInfo.InvariantCulture) + " ms";
        void Latency(string name, TimeSpan? limit, LatencyRecorder rec)
        {
            if (limit is { } l)
            {
                var p99 = LatencyRecorder.Ms(rec.Total, 99);
                list.Add(new ThresholdResult(name, "≤ " + Ms(l.TotalMilliseconds), Ms(p99), !double.IsNaN(p99) && p99 <= l.TotalMilliseconds));
            }
        }
        Latency("p99 end-to-end (send → row visible)", o.MaxP99, r.EndToEnd);
        Latency("p99 producer acknowledgement", o.MaxAckP99, r.Ack);
        Latency("p99 event time → alert", o.MaxAlertP99, r.Alert);
        if (o.MaxErrorRate is { } maxErr)
        {
            list.Add(new ThresholdResult("delivery error rate", "≤ " + (maxErr * 100).ToString("G4", CultureInfo.InvariantCulture) + " %",
                (r.ErrorRate * 100).ToString("G4", CultureInfo.InvariantCulture) + " %", r.ErrorRate <= maxErr));
        }
        if (o.MaxLag is { } maxLag)
        {
            list.Add(new ThresholdResult("consumer lag after drain", "≤ " + maxLag.ToString(CultureInfo.InvariantCulture), r.FinalLag.ToString(CultureInfo.InvariantCulture), r.FinalLag <= maxLag));
        }
        var achieved = r.OfferedMeasuredReadings <= 0 ? 1 : r.MeasuredReadings / r.OfferedMeasuredReadings;
        list.Add(new ThresholdResult("achieved / offered send rate", "≥ " + o.MinAchievedFraction.ToString("P0", CultureInfo.InvariantCulture),
            achieved.ToString("P1", CultureInfo.InvariantCulture), achieved >= o.MinAchievedFraction));
        return list;
    }

    private bool IsMeasuring(long ticks) => ticks >= Interlocked.Read(ref _measureStartTicks);

    private void Send(IProducer<byte[], byte[]> producer, LoadMessageFactory factory, CancellationToken ct)
    {
        var topic = _target.Topics.Readings;
        var batch = _options.Batch;
        var end = _options.WarmUp + _options.Duration;
        double owed = 0;
        double probesOwed = 0;
        var last = _clock.Elapsed;
        while (!ct.IsCancellationRequested)
        {
            var now = _clock.Elapsed;
            if (now >= end)
            {
                break;
            }
            var dt = (now - last).TotalSeconds;
            last = now;
            owed += _options.RateAt(now) * dt / batch;
            probesOwed += _options.ProbesPerSecond * dt;
            var wallMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            while (probesOwed >= 1)
            {
                probesOwed--;
                var (k, v) = factory.Probe(wallMs, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1000);
                Produce(producer, topic, k, v, 1, ct);
            }
            // Catch up in slices, re-reading the clock, so a slow producer shows as achieved < offered, not as bursts.
            var slice = 0;
            while (owed >= 1 && slice++ < 1000)
            {
                owed--;
                var (k, v) = factory.Next(wallMs);
                Produce(producer, topic, k, v, batch, ct);
            }
            if (owed < 1)
            {
                Thread.Sleep(1);
            }
        }
        producer.Flush(TimeSpan.FromSeconds(30));
    }

    private void Produce(IProducer<byte[], byte[]> producer, string topic, byte[] key, byte[] value, int readings, CancellationToken ct)
    {
        var started = Stopwatch.GetTimestamp();
        var measured = IsMeasuring(_clock.ElapsedTicks);
        while (true)
        {
            try
            {
                producer.Produce(topic, new Message<byte[], byte[]> { Key = key, Value = value }, r =>
                {
                    if (r.Error.IsError)
                    {
                        Interlocked.Increment(ref _failures);
                        return;
                    }
                    Interlocked.Increment(ref _acked);
                    _ack.Record((long)Stopwatch.GetElapsedTime(started).TotalMicroseconds, measured);
                });
                break;
            }
            catch (ProduceException<byte[], byte[]> ex) when (ex.Error.Code == ErrorCode.Local_QueueFull && !ct.IsCancellationRequested)
            {
                producer.Poll(TimeSpan.FromMilliseconds(5));
            }
        }
        Interlocked.Increment(ref _sentMessages);
        Interlocked.Add(ref _sentReadings, readings);
        if (measured)
        {
            Interlocked.Add(ref _measuredReadings, readings);
        }
    }

    private async Task PollProbesAsync(string connectionString, CancellationToken ct)
    {
        await using var conn = new NpgsqlConnection(connectionString);
        await conn.OpenAsync(ct).ConfigureAwait(false);
        await using var cmd = new NpgsqlCommand(
            "SELECT seq, (attributes->>'" + LoadMessageFactory.SentAttribute + "')::bigint FROM readings WHERE sensor_id = @id AND ts >= @since AND seq > @last ORDER BY seq", conn);
        cmd.Parameters.AddWithValue("id", LoadMessageFactory.ProbeSensorId);
        cmd.Parameters.AddWithValue("since", DateTimeOffset.UtcNow.AddMinutes(-1));
        var lastParam = cmd.Parameters.AddWithValue("last", 0L);
        // Rows of an earlier run on the same database are older than `since`; seq restarts at 1 each run.
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(20));
        while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false))
        {
            lastParam.Value = Interlocked.Read(ref _lastProbeSeen);
            await using var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
            var nowUs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1000;
            var measureFromUs = nowUs - (long)((_clock.Elapsed - _options.WarmUp).TotalMilliseconds * 1000);
            while (await reader.ReadAsync(ct).ConfigureAwait(false))
            {
                var seq = reader.GetInt64(0);
                var sentUs = reader.GetInt64(1);
                _e2e.Record(nowUs - sentUs, sentUs >= measureFromUs);
                Interlocked.Increment(ref _probesSeen);
                Interlocked.Exchange(ref _lastProbeSeen, Math.Max(seq, Interlocked.Read(ref _lastProbeSeen)));
            }
        }
    }

    private void WatchAlerts(CancellationToken ct)
    {
        // The cluster's own consumer settings (security, Kafka:FetchWaitMaxMs: an empty fetch on the embedded broker
        // is held that long), reading only what arrives from now on and committing nothing.
        var config = _target.Kafka.BuildConsumerConfig("smstream-load-alerts-" + Guid.NewGuid().ToString("N")[..8]);
        config.ClientId = "smstream-load-alerts";
        config.EnableAutoCommit = false;
        config.AutoOffsetReset = AutoOffsetReset.Latest;
        using var consumer = new ConsumerBuilder<byte[], byte[]>(config).Build();
        using var admin = new AdminClientBuilder(_target.Kafka.BuildAdminClientConfig()).Build();
        var meta = admin.GetMetadata(_target.Topics.Alerts, TimeSpan.FromSeconds(10));
        consumer.Assign(meta.Topics[0].Partitions.Select(p => new TopicPartitionOffset(_target.Topics.Alerts, p.PartitionId, Offset.End)));
        while (!ct.IsCancellationRequested)
        {
            ConsumeResult<byte[], byte[]>? cr;
            try
            {
                cr = consumer.Consume(TimeSpan.FromMilliseconds(100));
            }
            catch (ConsumeException)
            {
                continue;
            }
            if (cr?.Message?.Value is not { } value)
            {
                continue;
            }
            var now = DateTimeOffset.UtcNow;
            OnAlert(value, now);
        }
        consumer.Close();
    }

    /// <summary>One alert event consumed at <paramref name="now"/>: an `open` alert of a load sensor is timed from its
    /// event time (<c>last_seen</c>), split at the engine's publication (<c>published_at</c>).</summary>
    private void OnAlert(byte[] value, DateTimeOffset now)
    {
        using var doc = JsonDocument.Parse(value);
        var root = doc.RootElement;
        if (!root.TryGetProperty("status", out var status) || status.GetString() != "open"
            || !root.TryGetProperty("sensor_id", out var sensor) || !(sensor.GetString() ?? "").StartsWith("load-", StringComparison.Ordinal)
            || !root.TryGetProperty("last_seen", out var lastSeen) || !lastSeen.TryGetDateTimeOffset(out var eventTime))
        {
            return;
        }
        if (root.TryGetProperty("detector", out var detector) && (detector.GetString() ?? "").StartsWith("window/", StringComparison.Ordinal))
        {
            Interlocked.Increment(ref _windowAlertsSeen);
            return;
        }
        Interlocked.Increment(ref _alertsSeen);
        var measured = IsMeasuring(_clock.ElapsedTicks);
        _alert.Record((long)(now - eventTime).TotalMicroseconds, measured);
        if (root.TryGetProperty("published_at", out var published) && published.TryGetDateTimeOffset(out var publishedAt))
        {
            _alertPublish.Record((long)(publishedAt - eventTime).TotalMicroseconds, measured);
            _alertDelivery.Record((long)(now - publishedAt).TotalMicroseconds, measured);
        }
    }

    private static async Task Quietly(Task t)
    {
        try
        {
            await t.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Resident set size of <paramref name="pid"/> (this process when null), from /proc.</summary>
    public static double RssMb(int? pid)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{(pid is { } p ? p.ToString(CultureInfo.InvariantCulture) : "self")}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    var kb = double.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture);
                    return kb / 1024;
                }
            }
        }
        catch (IOException)
        {
        }
        return Environment.WorkingSet / 1024.0 / 1024.0;
    }

    /// <summary>1-minute load average (the machine is shared; every figure is reported next to it).</summary>
    public static double LoadAverage()
    {
        try
        {
            var text = File.ReadAllText("/proc/loadavg");
            return double.Parse(text.AsSpan(0, text.IndexOf(' ', StringComparison.Ordinal)), CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return double.NaN;
        }
    }

    /// <summary>High watermarks of the readings topic and the engine group's committed offsets.</summary>
    private sealed class LagProbe : IDisposable
    {
        private readonly IConsumer<byte[], byte[]> _consumer;
        private readonly List<TopicPartition> _partitions;

        public LagProbe(LoadTarget target)
        {
            var config = target.Kafka.BuildConsumerConfig(target.EngineGroup);
            config.ClientId = "smstream-load-lag";
            _consumer = new ConsumerBuilder<byte[], byte[]>(config).Build();
            using var admin = new AdminClientBuilder(target.Kafka.BuildAdminClientConfig()).Build();
            var meta = admin.GetMetadata(target.Topics.Readings, TimeSpan.FromSeconds(10));
            _partitions = [.. meta.Topics[0].Partitions.Select(p => new TopicPartition(target.Topics.Readings, p.PartitionId))];
        }

        public long High()
        {
            long sum = 0;
            foreach (var tp in _partitions)
            {
                sum += _consumer.QueryWatermarkOffsets(tp, TimeSpan.FromSeconds(5)).High.Value;
            }
            return sum;
        }

        public long Committed()
        {
            try
            {
                long sum = 0;
                foreach (var tpo in _consumer.Committed(_partitions, TimeSpan.FromSeconds(5)))
                {
                    sum += tpo.Offset.IsSpecial ? _consumer.QueryWatermarkOffsets(tpo.TopicPartition, TimeSpan.FromSeconds(5)).Low.Value : tpo.Offset.Value;
                }
                return sum;
            }
            catch (KafkaException)
            {
                return 0;
            }
        }

        public void Dispose()
        {
            _consumer.Dispose();
        }
    }
}
