// Over 500 lines because the consume loop, batch assembly, the writer task and the partition lifecycle still share
// this class's state; the replay rules themselves are in Lifecycle/ReplayRules.cs. Splitting it is the open redesign.
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using SmartMaintenance.Streams.Alerting;
using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Engine.Lifecycle;
using SmartMaintenance.Streams.Engine.Stages;
using SmartMaintenance.Streams.Ingest;
using SmartMaintenance.Streams.Kafka;
using SmartMaintenance.Streams.Storage;

namespace SmartMaintenance.Streams.Engine;

/// <summary>
/// One engine instance: a consume loop (decode → validate → window → score → alert) on its own thread and a
/// writer task that commits each batch's rows together with the offsets they cover.
/// </summary>
/// <remarks>
/// Exactly-once effects: the database's stream_offsets are the offsets of record. On assignment the engine seeks to
/// the stored replay point; messages below the stored next offset only rebuild state (their rows, DLQ records and
/// alerts were already made durable before that offset was committed). Kafka's committed offsets follow the
/// database's, for lag monitoring only.
/// Backpressure: batches queue for the writer in a bounded channel; when it is full the consumer pauses its
/// partitions and keeps polling (so it stays in the group) until the writer drains.
/// </remarks>
public sealed partial class StreamEngine
{
    private readonly EngineOptions _options;
    private readonly StorageOptions _storageOptions;
    private readonly KafkaOptions _kafka;
    private readonly TopicNames _topics;
    private readonly IStorageSink[] _sinks;
    private readonly Dictionary<string, int> _sensorPartition = new(StringComparer.Ordinal);
    private readonly IProcessingStages _stages;
    /// <summary>The stages' persistent side when Engine:PersistDetectorState is on, else null.</summary>
    private readonly IPersistentStages? _persistent;
    private readonly List<Scoring.ChangedSensor> _taken = [];
    private readonly long _stateIntervalMs;
    private long _lastStateCheckpoint;
    private readonly ReadingDecoder _decoder;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    /// <summary>The engine's clock is the wall clock (not a test's), so one reading serves validation and the consume delay.</summary>
    private readonly bool _systemClock;

    private readonly Channel<PendingBatch> _queue;
    private readonly ConcurrentQueue<PendingBatch> _committed = new();
    private readonly ConcurrentBag<PendingBatch> _pool = [];
    private readonly Queue<PendingBatch> _overflow = new();
    private readonly Dictionary<int, PartitionState> _partitions = [];
    private readonly StageOutputs _outputs = new();
    private readonly List<SensorReading> _decoded = [];
    private readonly List<Rejection> _rejects = [];

    private IConsumer<ReusedBytes, ReusedBytes>? _consumer;
    private bool _closeAbandoned;
    private CancellationToken _stopping;
    private IProducer<byte[], byte[]>? _producer;
    private IProducer<byte[], byte[]>? _alertProducer;
    private PendingBatch _batch;
    private int _inFlight;
    private int _alertsPublished;
    private readonly TimeSpan _flushTimeout;
    private bool _paused;
    private long _lastBacklogCheck;
    // Set by the writer whenever it takes a batch off the queue (a slot frees): the consume loop waits on it instead of polling.
    private readonly ManualResetEventSlim _slotFreed = new(false);
    private volatile Exception? _fatal;
    private volatile Exception? _produceError;

    public StreamEngine(EngineOptions options, StorageOptions storageOptions, KafkaOptions kafka, TopicNames topics, ValidationOptions validation,
        IStorageSink sink, IProcessingStages stages, ILoggerFactory? loggerFactory = null, TimeProvider? time = null)
        : this(options, storageOptions, kafka, topics, validation, [sink], stages, loggerFactory, time)
    {
    }

    /// <summary>An engine writing through several connections: partition p always goes to <c>sinks[p % sinks.Count]</c>,
    /// so each partition's offsets stay ordered while the connections commit in parallel.</summary>
    public StreamEngine(EngineOptions options, StorageOptions storageOptions, KafkaOptions kafka, TopicNames topics, ValidationOptions validation,
        IReadOnlyList<IStorageSink> sinks, IProcessingStages stages, ILoggerFactory? loggerFactory = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(storageOptions);
        ArgumentNullException.ThrowIfNull(kafka);
        ArgumentNullException.ThrowIfNull(topics);
        ArgumentNullException.ThrowIfNull(validation);
        ArgumentNullException.ThrowIfNull(sinks);
        ArgumentNullException.ThrowIfNull(stages);
        if (sinks.Count == 0)
        {
            throw new ArgumentException("At least one sink is required.", nameof(sinks));
        }
        options.Validate();
        _options = options;
        _storageOptions = storageOptions;
        _kafka = kafka;
        _topics = topics;
        _flushTimeout = TimeSpan.FromMilliseconds(kafka.MessageTimeoutMs) + TimeSpan.FromSeconds(30);
        _sinks = [.. sinks];
        _time = time ?? TimeProvider.System;
        _systemClock = ReferenceEquals(_time, TimeProvider.System);
        _stages = stages;
        _decoder = new ReadingDecoder(validation, _time);
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("SmartMaintenance.Streams.Engine");
        _queue = Channel.CreateBounded<PendingBatch>(new BoundedChannelOptions(options.MaxQueuedBatches)
        {
            SingleReader = true,
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        _batch = new PendingBatch(_sinks.Length);
        if (options.PersistDetectorState && stages is IPersistentStages persistent)
        {
            _persistent = persistent;
            persistent.EnablePersistence();
        }
        _stateIntervalMs = (long)options.DetectorStateInterval.TotalMilliseconds;
        _lastStateCheckpoint = Environment.TickCount64;
        if (options.AggregateSliceSize > 0)
        {
            _outputs.SliceAggregates = options.AggregateSliceSize;
            _outputs.SliceReady = HandSlice;
        }
    }

    public EngineCounters Counters { get; } = new();

    /// <summary>The sensor registry validation applies (operator API); set before <see cref="RunAsync"/>.</summary>
    public SensorOverrides? SensorOverrides { get => _decoder.Overrides; set => _decoder.Overrides = value; }

    /// <summary>Metric state and progress signals (health checks).</summary>
    public EngineProbe Probe { get; } = new();

    /// <summary>Partitions currently assigned to this instance (for health checks and tests).</summary>
    public int[] AssignedPartitions
    {
        get
        {
            lock (_partitions)
            {
                return [.. _partitions.Keys];
            }
        }
    }

    /// <summary>Runs until <paramref name="ct"/> is cancelled (graceful: flush, commit, leave the group) or a fatal error.</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        EngineLog.Starting(_logger, _options.ConsumerGroup, _topics.Readings);
        _stopping = ct;
        if (!await VerifyStoredOffsetsAsync(ct).ConfigureAwait(false))
        {
            return;
        }
        // The producers outlive both the consume loop and the writer (which flushes them before each commit), so neither
        // can see the other's producer disposed while it still works.
        using var producer = new ProducerBuilder<byte[], byte[]>(_kafka.BuildProducerConfig()).SetErrorHandler(OnProducerError).Build();
        // Alerts get their own producer (Kafka:AlertLingerMs, 0 by default): they leave at once instead of lingering for
        // a DLQ batch, and a flood of DLQ records cannot queue ahead of them.
        using var alertProducer = new ProducerBuilder<byte[], byte[]>(_kafka.BuildAlertProducerConfig()).SetErrorHandler(OnProducerError).Build();
        _producer = producer;
        _alertProducer = alertProducer;
        using var stopWriter = new CancellationTokenSource();
        var writer = Task.Run(() => WriterAsync(stopWriter.Token), CancellationToken.None);
        var loopDone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                ConsumeLoop(ct);
                loopDone.SetResult();
            }
            catch (Exception ex)
            {
                loopDone.SetException(ex);
            }
        })
        {
            IsBackground = true,
            Name = "smstream-consume",
        };
        thread.Start();
        try
        {
            await loopDone.Task.ConfigureAwait(false);
        }
        finally
        {
            _queue.Writer.TryComplete();
            // The loop already waited for the writer to drain; if it gave up, stop writing now.
            await stopWriter.CancelAsync().ConfigureAwait(false);
            try
            {
                await writer.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
            // Every committed batch's DLQ records and alerts were acknowledged before its commit; what may be left belongs
            // to batches a restart replays anyway, so a short bound suffices (it only matters when the brokers are gone).
            alertProducer.Flush(TimeSpan.FromSeconds(5));
            producer.Flush(TimeSpan.FromSeconds(5));
            EngineLog.Stopped(_logger, Counters.Messages, Counters.Stored, Counters.RejectedTotal);
        }
        if (_fatal is { } fatal)
        {
            throw new EngineFatalException(fatal.Message, fatal);
        }
    }

    /// <summary>Refuses stored offsets that cannot belong to the topic (<see cref="StoredOffsetCheck"/>). A database that is
    /// unreachable at start-up is waited for, as the assignment waits for it, never a reason to exit.</summary>
    /// <returns>False when a stop was requested before the check could run.</returns>
    private async Task<bool> VerifyStoredOffsetsAsync(CancellationToken ct)
    {
        var delay = TimeSpan.FromMilliseconds(200);
        while (true)
        {
            try
            {
                await StoredOffsetCheck.VerifyAsync(_storageOptions.ConnectionString, _options.ConsumerGroup, _topics.Readings, _kafka, ct).ConfigureAwait(false);
                return true;
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return false;
            }
            catch (Npgsql.NpgsqlException ex) when (ex.IsTransient)
            {
                EngineLog.DatabaseUnavailable(_logger, "checking the stored offsets", ex.Message);
                try
                {
                    await Task.Delay(delay, ct).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return false;
                }
                delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 5000));
            }
        }
    }

    private void OnProducerError(IProducer<byte[], byte[]> producer, Error e)
    {
        EngineLog.KafkaError(_logger, e.Reason);
        // A fatal producer error (e.g. the idempotent producer lost its sequence) never delivers again:
        // stop instead of waiting for a flush that cannot finish.
        if (e.IsFatal)
        {
            _fatal ??= new KafkaException(e);
        }
    }

    private void ConsumeLoop(CancellationToken ct)
    {
        var consumer = new ConsumerBuilder<ReusedBytes, ReusedBytes>(EngineProbe.WithStatistics(_kafka.BuildEngineConsumerConfig(_options.ConsumerGroup)))
            .SetKeyDeserializer(new ReusedBytes())
            .SetValueDeserializer(new ReusedBytes())
            .SetStatisticsHandler((_, json) => Probe.OnStatistics(json))
            .SetErrorHandler((_, e) =>
            {
                EngineLog.KafkaError(_logger, e.Reason);
                if (e.IsFatal)
                {
                    _fatal ??= new KafkaException(e);
                }
            })
            .SetPartitionsAssignedHandler(OnAssigned)
            .SetPartitionsRevokedHandler(OnRevoked)
            .SetPartitionsLostHandler(OnLost)
            .Build();
        _consumer = consumer;
        consumer.Subscribe(_topics.Readings);
        var maxDelayMs = (long)_storageOptions.BatchMaxDelay.TotalMilliseconds;
        try
        {
            while (!ct.IsCancellationRequested && _fatal is null)
            {
                StoreCommittedOffsets();
                TryDrainOverflow();
                MarkBackloggedPartitions(consumer);
                ConsumeResult<ReusedBytes, ReusedBytes>? cr;
                try
                {
                    // Paused: nothing can arrive, so wake on the writer taking a batch (then resume at once) rather than
                    // sleeping a full poll interval; the zero-timeout poll still serves rebalance callbacks.
                    if (_paused && _overflow.Count > 0)
                    {
                        _slotFreed.Wait(50);
                        TryDrainOverflow();
                    }
                    cr = consumer.Consume(_paused ? TimeSpan.Zero : TimeSpan.FromMilliseconds(50));
                }
                catch (ConsumeException ex)
                {
                    EngineLog.KafkaError(_logger, ex.Error.Reason);
                    if (ex.Error.IsFatal)
                    {
                        _fatal ??= ex;
                    }
                    continue;
                }
                if (cr is null || cr.IsPartitionEOF)
                {
                    // Nothing to consume: processing-time work (idle partitions, early firings) runs here, on this thread.
                    _stages.OnTick(_outputs);
                    if ((!_outputs.IsEmpty || StateCheckpointDue()) && !_batch.HasWork)
                    {
                        _batch.HasWork = true;
                        _batch.StartedTicks = Environment.TickCount64;
                    }
                }
                else
                {
                    Process(cr);
                    if (_batch.Rows >= _storageOptions.BatchMaxRows || _batch.Bytes >= _storageOptions.BatchMaxBytes)
                    {
                        Handoff();
                    }
                }
                if (_batch.HasWork && Environment.TickCount64 - _batch.StartedTicks >= maxDelayMs)
                {
                    Handoff();
                }
            }
            if (_fatal is null)
            {
                // Graceful stop: commit what was consumed and every changed detector state, then leave the group.
                if (_batch.HasWork || _persistent is { HasChanges: true })
                {
                    Handoff(allState: true);
                }
                WaitForWriter(_options.ShutdownTimeout);
                StoreCommittedOffsets();
            }
        }
        finally
        {
            if (CloseConsumer(consumer))
            {
                consumer.Dispose();
            }
            _consumer = null;
        }
    }

    /// <summary>Leaves the group within <see cref="EngineOptions.CloseTimeout"/>; false when the close was given up.</summary>
    /// <remarks>librdkafka's close waits for the group coordinator (final commit, LeaveGroup) and, with every broker
    /// unreachable, can block far beyond any shutdown deadline. Nothing of record depends on it (offsets of record are in
    /// the database), so past the timeout the close is left to a background thread and the engine stops anyway; the
    /// group then drops this member after session.timeout.ms.</remarks>
    private bool CloseConsumer(IConsumer<ReusedBytes, ReusedBytes> consumer)
    {
        using var closed = new ManualResetEventSlim();
        var closing = new Thread(() =>
        {
            try
            {
                consumer.Close();
            }
            catch (KafkaException ex)
            {
                EngineLog.KafkaError(_logger, ex.Error.Reason);
            }
            catch (ObjectDisposedException)
            {
            }
            finally
            {
                // The waiter may have given up and disposed the event already.
                try
                {
                    closed.Set();
                }
                catch (ObjectDisposedException)
                {
                }
            }
        })
        {
            IsBackground = true,
            Name = "smstream-consumer-close",
        };
        closing.Start();
        if (closed.Wait(_options.CloseTimeout))
        {
            return true;
        }
        // Rebalance callbacks still to come from the abandoned close must not touch the stopped loop's state.
        Volatile.Write(ref _closeAbandoned, true);
        EngineLog.CloseTimedOut(_logger, _options.CloseTimeout);
        return false;
    }

    private void Process(ConsumeResult<ReusedBytes, ReusedBytes> cr)
    {
        var partition = cr.Partition.Value;
        var offset = cr.Offset.Value;
        if (!_partitions.TryGetValue(partition, out var ps))
        {
            return;
        }
        var replaying = ReplayRules.IsReplay(offset, ps.StoredNext);
        ps.Position = offset + 1;
        var buffer = cr.Message.Value;
        var value = buffer.Span;
        _decoded.Clear();
        _rejects.Clear();
        var nowMs = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var carried = _decoder.Decode(value, new SourcePosition(partition, offset, 0), nowMs, _decoded, _rejects);

        if (!replaying)
        {
            Counters.AddMessage();
            // The engine consumes one topic, and the consumer does not marshal each message's topic name (Kafka:ConsumeResultFields).
            Probe.OnConsumed(_topics.Readings, partition, value.Length);
            // Against the wall clock, like the producer's timestamp: the decoder's clock reading when the engine runs on the
            // system clock (a clock read costs 30-60 ns on this VM, twice per message was 1-2 % of the consume thread).
            EngineProbe.OnConsumeDelay(cr.Message.Timestamp, _systemClock ? nowMs : DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
            // A message rejected whole counts as one record; an envelope counts its readings.
            Counters.AddReadings(carried == 0 ? 1 : carried);
            for (var i = 0; i < _rejects.Count; i++)
            {
                var rj = _rejects[i];
                var bytes = rj.IsWholeMessage ? buffer.ToArray() : value.Slice(rj.Start, rj.Length).ToArray();
                DeadLetter(cr, bytes, rj.Reason, rj.Detail, rj.Index);
            }
        }
        else
        {
            Counters.AddReplayed(1);
            Probe.OnReplayed();
        }

        for (var i = 0; i < _decoded.Count; i++)
        {
            var reading = _decoded[i];
            RejectReason reason;
            string? detail;
            try
            {
                reason = _stages.OnReading(reading, replaying, _outputs, out detail);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                // A failing stage costs one reading (to the DLQ with the error), never the consume loop.
                reason = RejectReason.ProcessingError;
                detail = ex.GetType().Name + ": " + ex.Message;
            }
            if (replaying)
            {
                continue;
            }
            if (reason == RejectReason.Late && _options.StoreLateDlqReplays && IsDlqReplay(cr))
            {
                // A repaired record put back by `smstream dlq replay` is usually older than the watermark: keep its raw
                // row rather than cycle it back into the DLQ. Windows already final are not corrected (docs/operations.md).
                reason = RejectReason.None;
            }
            if (reason == RejectReason.None)
            {
                _batch.Part(partition).Readings.Add(reading);
                if (_sinks.Length > 1)
                {
                    // Outputs (aggregates, anomalies, alerts) follow their sensor's partition to the same connection.
                    _sensorPartition.TryAdd(reading.SensorId, partition);
                }
            }
            else if (reason == RejectReason.Duplicate && !_options.DeadLetterDuplicates)
            {
                Counters.AddRejected(reason);
            }
            else
            {
                var bytes = _decoder.LastWasEnvelope ? SerializeReading(reading) : buffer.ToArray();
                DeadLetter(cr, bytes, reason, detail ?? "", _decoder.LastWasEnvelope ? reading.Position.Index : -1);
            }
        }

        if (!replaying)
        {
            if (_outputs.Alerts.Count > _alertsPublished)
            {
                PublishNewAlerts();
            }
            _batch.Bytes += value.Length;
            _batch.Rows += Math.Max(1, _decoded.Count);
            _batch.NextOffsets[partition] = offset + 1;
            ps.NextOffset = offset + 1;
            if (!_batch.HasWork)
            {
                _batch.StartedTicks = Environment.TickCount64;
            }
            _batch.HasWork = true;
        }
        else if (offset + 1 >= ps.StoredNext)
        {
            _persistent?.ReplayFinished(partition);
            EngineLog.ReplayDone(_logger, partition, ps.ReplayFrom, ps.StoredNext, Stopwatch.GetElapsedTime(ps.AssignedAt));
            EngineProbe.OnReplayDone(Stopwatch.GetElapsedTime(ps.AssignedAt));
        }
    }

    private static bool IsDlqReplay(ConsumeResult<ReusedBytes, ReusedBytes> cr) =>
        cr.Message.Headers is { } headers && headers.TryGetLastBytes(DlqHeaders.ReplayedFrom, out _);

    private static void Produce(IProducer<byte[], byte[]> producer, string topic, Message<byte[], byte[]> message, Action<DeliveryReport<byte[], byte[]>> onDelivered)
    {
        while (true)
        {
            try
            {
                producer.Produce(topic, message, onDelivered);
                return;
            }
            catch (ProduceException<byte[], byte[]> ex) when (ex.Error.Code == ErrorCode.Local_QueueFull)
            {
                // The local queue is full: let librdkafka deliver some, then retry. Nothing is dropped.
                producer.Poll(TimeSpan.FromMilliseconds(10));
            }
        }
    }

    private void OnDelivered(DeliveryReport<byte[], byte[]> report, Prometheus.Histogram.Child ack, long started)
    {
        if (report.Error.IsError)
        {
            // The idempotent producer already retried for message.timeout.ms; failing the batch keeps the offsets
            // uncommitted, so the records are produced again after restart.
            _produceError ??= new KafkaException(report.Error);
            return;
        }
        // Timed from our own stamp: the report's timestamp may be the broker's log-append time (the embedded broker sends a constant).
        ack.Observe(Stopwatch.GetElapsedTime(started).TotalSeconds);
    }

    private static byte[] SerializeReading(in SensorReading r)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("sensor_id", r.SensorId);
            w.WriteString("ts", r.Time);
            w.WriteNumber("value", r.Value);
            if (r.AssetId is not null)
            {
                w.WriteString("asset_id", r.AssetId);
            }
            if (r.SensorType is not null)
            {
                w.WriteString("sensor_type", r.SensorType);
            }
            if (r.Unit is not null)
            {
                w.WriteString("unit", r.Unit);
            }
            if (r.HasQuality)
            {
                w.WriteNumber("quality", r.Quality);
            }
            if (r.HasSeq)
            {
                w.WriteNumber("seq", r.Seq);
            }
            if (r.Attributes is not null)
            {
                w.WritePropertyName("attributes");
                w.WriteRawValue(r.Attributes);
            }
            w.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Closes the current batch: window revisions, offsets of record, alerts published, queued for the writer.</summary>
    private void Handoff(bool allState = false)
    {
        _stages.OnBatchBoundary(_outputs);
        if (_persistent is not null)
        {
            // Before the replay points below: a full take moves the lowest offset detector state still needs.
            CaptureState(allState || StateCheckpointDue(), allState ? int.MaxValue : _options.DetectorStateMaxPerBatch);
        }
        // Counts the stage outputs, so before MoveAggregates empties the aggregate list into the batch's parts.
        Probe.OnHandoff(_outputs, _batch.Rows);
        MoveAggregates();
        foreach (var retraction in _outputs.Retractions)
        {
            PartFor(retraction.SensorId).Retractions.Add(retraction);
        }
        foreach (var anomaly in _outputs.Anomalies)
        {
            PartFor(anomaly.SensorId).Anomalies.Add(anomaly);
        }
        foreach (var alert in _outputs.Alerts)
        {
            PartFor(alert.SensorId).Alerts.Add(alert);
        }
        foreach (var (partition, next) in _batch.NextOffsets)
        {
            var watermark = _stages.CommittedWatermarkOf(partition);
            var replayFrom = ReplayRules.ReplayFrom(next, _stages.LowestNeededOffset(partition), _persistent?.LowestUntakenOffset(partition));
            _batch.Part(partition).Offsets.Add(new OffsetMark(_options.ConsumerGroup, _topics.Readings, partition, next, replayFrom, watermark));
            if (_partitions.TryGetValue(partition, out var handed))
            {
                handed.HandedOff = next;
            }
        }
        PublishNewAlerts();
        _outputs.Clear();
        _alertsPublished = 0;

        Interlocked.Increment(ref _inFlight);
        if (_overflow.Count > 0 || !WriteOrWait(_batch))
        {
            _overflow.Enqueue(_batch);
            PauseAll();
        }
        _batch = _pool.TryTake(out var next1) ? next1 : new PendingBatch(_sinks.Length);
    }

    private bool StateCheckpointDue() =>
        _persistent is { HasChanges: true } && Environment.TickCount64 - _lastStateCheckpoint >= _stateIntervalMs;

    /// <summary>
    /// Serializes the state of the sensors to persist with this batch, each into the part of its partition, stamped with
    /// the partition's consume position: the state holds exactly the sensor's readings below it, so it matches the
    /// offsets committed in the same transaction (or, for a partition still replaying, the point the replay reached).
    /// </summary>
    private void CaptureState(bool all, int max)
    {
        _taken.Clear();
        _persistent!.TakeChanged(all, _taken, max);
        if (all)
        {
            _lastStateCheckpoint = Environment.TickCount64;
        }
        if (_taken.Count == 0)
        {
            return;
        }
        var writers = new BinaryWriter?[_batch.Parts.Length];
        try
        {
            foreach (var changed in _taken)
            {
                if (!_partitions.TryGetValue(changed.Partition, out var ps))
                {
                    // No longer ours: the partition's new owner has (or rebuilds) the newer state.
                    continue;
                }
                var partIndex = changed.Partition % _batch.Parts.Length;
                var part = _batch.Parts[partIndex];
                var w = writers[partIndex] ??= new BinaryWriter(part.StateData, Encoding.UTF8, leaveOpen: true);
                var start = (int)part.StateData.Length;
                _persistent.WriteState(changed.SensorId, w);
                w.Flush();
                var position = ReplayRules.StatePosition(ps.Position, changed.MinPosition);
                part.DetectorStates.Add(new DetectorStateRow(_options.ConsumerGroup, _topics.Readings, changed.Partition, changed.SensorId, position,
                    start, (int)part.StateData.Length - start));
            }
        }
        finally
        {
            foreach (var w in writers)
            {
                w?.Dispose();
            }
        }
    }

    /// <summary>Publishes alert events as soon as they arise (not at the batch boundary), so alert latency is not
    /// bounded below by Storage:BatchMaxDelay. They are durable before the batch's offsets commit (the writer flushes).</summary>
    private void PublishNewAlerts()
    {
        var alerts = _outputs.Alerts;
        for (; _alertsPublished < alerts.Count; _alertsPublished++)
        {
            var alert = alerts[_alertsPublished];
            var now = _time.GetUtcNow();
            var payload = JsonSerializer.SerializeToUtf8Bytes(alert with { PublishedAt = now }, ContractsJsonContext.Default.AlertEvent);
            var started = Stopwatch.GetTimestamp();
            Produce(_alertProducer!, _topics.Alerts, new Message<byte[], byte[]>
            {
                Key = Encoding.UTF8.GetBytes(AlertPublisher.KeyFor(alert)),
                Value = payload,
                Headers = new Headers { { AlertPublisher.EventKeyHeader, Encoding.UTF8.GetBytes(alert.EventKey) } },
            }, report => OnDelivered(report, EngineMetrics.AlertAck, started));
            EngineProbe.OnAlertPublished(alert, now);
        }
    }

    /// <summary>
    /// Hands the aggregates of the batch to its parts without holding them twice: when a minute ends at a million sensors
    /// they are two million (≈ 290 MB). With one part its list is swapped in; otherwise each aggregate moves to its
    /// sensor's part and every chunk of the stages' list goes back to the pool as soon as it is emptied.
    /// </summary>
    private void MoveAggregates()
    {
        var all = _outputs.Aggregates;
        if (all.Count == 0)
        {
            return;
        }
        if (_batch.Parts.Length == 1)
        {
            _outputs.ExchangeAggregates(_batch.Parts[0].ExchangeAggregates(all));
            return;
        }
        all.MoveTo(static (aggregate, engine) => engine.PartFor(aggregate.SensorId).Aggregates, this);
    }

    private StorageBatch PartFor(string sensorId) => _batch.Part(PartitionOf(sensorId));

    /// <summary>
    /// Hands the aggregates the stages hold (already judged by the window detectors) to the writer as a slice: a transaction
    /// of their own ahead of the batch that will commit the offsets behind them (docs/design.md, "Minute-end bursts in
    /// slices"). Called from inside the window operator's emission when Engine:AggregateSliceSize are held, so a minute end
    /// at a million sensors never holds its two million aggregates at once. Each partition of a part is fenced with the
    /// next offset this instance has handed off for it. Blocks until the writer's queue takes the slice: that is the bound.
    /// </summary>
    private void HandSlice(StageOutputs outputs)
    {
        var all = outputs.Aggregates;
        if (all.Count == 0)
        {
            return;
        }
        var slice = _pool.TryTake(out var pooled) ? pooled : new PendingBatch(_sinks.Length);
        slice.IsSlice = true;
        Probe.OnSliceHandoff(all);
        if (slice.Parts.Length == 1)
        {
            outputs.ExchangeAggregates(slice.Parts[0].ExchangeAggregates(all));
        }
        else
        {
            all.MoveTo(static (aggregate, state) => state.Slice.Part(state.Engine.PartitionOf(aggregate.SensorId)).Aggregates, (Slice: slice, Engine: this));
            outputs.JudgedAggregates = 0;
        }
        foreach (var (partition, ps) in _partitions)
        {
            slice.Part(partition).Fences.Add(Fence(partition, ps));
        }
        foreach (var part in slice.Parts)
        {
            if (part.Fences.Count == 0 && part.Aggregates.Count > 0)
            {
                // Aggregates of sensors only replayed so far go to the first connection, which may own no partition: fenced
                // by all of them, so a part never goes out unfenced (it would be written as an ordinary batch).
                foreach (var (partition, ps) in _partitions)
                {
                    part.Fences.Add(Fence(partition, ps));
                }
            }
        }
        QueueBlocking(slice);
    }

    private int PartitionOf(string sensorId) => _sinks.Length > 1 && _sensorPartition.TryGetValue(sensorId, out var p) ? p : 0;

    /// <summary>A slice's fence for <paramref name="partition"/>: the next offset stored once everything handed off has committed.</summary>
    private OffsetMark Fence(int partition, PartitionState ps) =>
        new(_options.ConsumerGroup, _topics.Readings, partition, ps.HandedOff, ps.HandedOff);

    /// <summary>
    /// Queues a slice behind everything queued before it, waiting for as long as the writer needs: the loop is inside the
    /// window operator's emission and cannot poll (it cannot take a rebalance callback there), so it neither pauses nor
    /// returns until the slice is queued. A minute-end burst blocks the loop about as long as the writer takes to store all
    /// but the last few slices, far below max.poll.interval.ms (heartbeats run on librdkafka's thread). After a fatal error
    /// nothing commits any more; the slice then waits in the overflow like the batches.
    /// </summary>
    private void QueueBlocking(PendingBatch slice)
    {
        Interlocked.Increment(ref _inFlight);
        while (true)
        {
            // Committed slices back to the pool (and Kafka told of committed batches): no poll, no callback.
            StoreCommittedOffsets();
            // Reset before trying, so a slot freed between a failed try and the wait is not missed.
            _slotFreed.Reset();
            TryDrainOverflow();
            if (_overflow.Count == 0 && _queue.Writer.TryWrite(slice))
            {
                return;
            }
            if (_fatal is not null)
            {
                _overflow.Enqueue(slice);
                return;
            }
            _slotFreed.Wait(100);
        }
    }

    /// <summary>
    /// Queues the batch for the writer, waiting up to Engine:PauseAfter for a free slot. A short stall (the writer busy
    /// with the batches ahead, the usual case when catching up) is waited out here because pausing makes librdkafka drop
    /// the messages it has prefetched and fetch them again on resume, and the loop then polls in 50 ms steps: at 20,000-row
    /// batches that cost up to a third of the throughput. Only a longer stall (database down) pauses the partitions,
    /// so the loop keeps polling and stays in the group. The wait blocks callbacks for at most PauseAfter, far below
    /// max.poll.interval.ms; heartbeats run on librdkafka's own thread.
    /// </summary>
    private bool WriteOrWait(PendingBatch batch)
    {
        var deadline = Environment.TickCount64 + (long)_options.PauseAfter.TotalMilliseconds;
        while (true)
        {
            // Reset before trying, so a slot freed between a failed try and the wait is not missed.
            _slotFreed.Reset();
            if (_queue.Writer.TryWrite(batch))
            {
                return true;
            }
            var remaining = deadline - Environment.TickCount64;
            if (remaining <= 0 || _fatal is not null || _stopping.IsCancellationRequested)
            {
                return false;
            }
            _slotFreed.Wait((int)Math.Min(remaining, 100));
        }
    }

    private void TryDrainOverflow()
    {
        while (_overflow.Count > 0 && _queue.Writer.TryWrite(_overflow.Peek()))
        {
            _overflow.Dequeue();
        }
        if (_overflow.Count == 0 && _paused)
        {
            ResumeAll();
        }
    }

    /// <summary>
    /// Once a second, tells the stages which partitions still have records to read (paused, or the position is below
    /// the high watermark of the last fetch): only a caught-up partition may turn idle and stop holding the watermark.
    /// </summary>
    private void MarkBackloggedPartitions(IConsumer<ReusedBytes, ReusedBytes> consumer)
    {
        var now = Environment.TickCount64;
        if (now - _lastBacklogCheck < 1000)
        {
            return;
        }
        _lastBacklogCheck = now;
        foreach (var tp in consumer.Assignment)
        {
            if (!_partitions.TryGetValue(tp.Partition.Value, out var ps))
            {
                continue;
            }
            if (!_paused && IsCaughtUp(consumer, tp, ps))
            {
                continue;
            }
            _stages.OnPartitionBacklogged(tp.Partition.Value);
        }
    }

    /// <summary>
    /// Whether everything the broker last reported for the partition was handed to the loop. Both watermark offsets and
    /// the position are local (cached from fetches): no broker round trip. A partition not fetched yet is not caught up,
    /// and neither is one whose first message has not reached the loop (its position is unset until then: its start
    /// is where the assignment seeked).
    /// </summary>
    private static bool IsCaughtUp(IConsumer<ReusedBytes, ReusedBytes> consumer, TopicPartition tp, PartitionState ps)
    {
        var offsets = consumer.GetWatermarkOffsets(tp);
        if (offsets.High == Offset.Unset)
        {
            return false;
        }
        var position = consumer.Position(tp);
        var next = position != Offset.Unset
            ? position.Value
            : Math.Max(ps.ReplayFrom, offsets.Low == Offset.Unset ? 0 : offsets.Low.Value);
        return next >= offsets.High.Value;
    }

    private void PauseAll()
    {
        if (_paused || _consumer is null)
        {
            return;
        }
        var assignment = _consumer.Assignment;
        _consumer.Pause(assignment);
        _paused = true;
        EngineMetrics.PausedPartitions.Set(assignment.Count);
        EngineLog.Paused(_logger, _overflow.Count + _queue.Reader.Count, assignment.Count);
    }

    private void ResumeAll()
    {
        if (_consumer is null)
        {
            return;
        }
        var assignment = _consumer.Assignment;
        _consumer.Resume(assignment);
        _paused = false;
        EngineMetrics.PausedPartitions.Set(0);
        EngineLog.Resumed(_logger, assignment.Count);
    }

    private async Task WriterAsync(CancellationToken ct)
    {
        // A committed batch whose per-reading bookkeeping (Probe.OnCommitted: ≈ 0.1 µs per reading, 2 ms per 20,000-row
        // batch) is still to do: it runs once the next batch's first statements are on their way, not between two
        // transactions, where the one writer backend would sit idle (perf/e2e round 4). Done at once when no batch waits.
        PendingBatch? unsettled = null;
        try
        {
            await foreach (var batch in _queue.Reader.ReadAllAsync(ct).ConfigureAwait(false))
            {
                _slotFreed.Set();
                try
                {
                    // DLQ records and alerts of this batch must be durable in Kafka before its offsets are in the database.
                    var flushStarted = Stopwatch.GetTimestamp();
                    while ((_alertProducer is { } a && a.Flush(TimeSpan.FromSeconds(1)) > 0) || (_producer is { } p && p.Flush(TimeSpan.FromSeconds(1)) > 0) || DeadLettersUnsettled())
                    {
                        ct.ThrowIfCancellationRequested();
                        if (_fatal is { } fatal)
                        {
                            throw fatal;
                        }
                        // librdkafka gives up on a message after message.timeout.ms and reports it; past that (plus slack)
                        // the flush is stuck, and stopping uncommitted is the safe outcome (a restart replays the batch).
                        if (Stopwatch.GetElapsedTime(flushStarted) > _flushTimeout)
                        {
                            throw new TimeoutException($"Kafka did not acknowledge the batch's DLQ records and alerts within {_flushTimeout} (Kafka:MessageTimeoutMs + 30 s)");
                        }
                    }
                    if (_produceError is { } produceError)
                    {
                        throw produceError;
                    }
                    var started = Stopwatch.GetTimestamp();
                    var write = WriteAllAsync(batch, ct);
                    if (unsettled is not null)
                    {
                        Settle(unsettled);
                        unsettled = null;
                    }
                    await write.ConfigureAwait(false);
                    EngineMetrics.BatchSeconds.Observe(Stopwatch.GetElapsedTime(started).TotalSeconds);
                    if (batch.IsSlice)
                    {
                        foreach (var part in batch.Parts)
                        {
                            Counters.AddSliceCommitted(part.Aggregates.Count);
                        }
                        Probe.OnSliceCommitted(batch.Parts);
                        // Its chunks go back to the pool now: the consume loop, blocked in the burst that made this slice,
                        // recycles batches only when it returns, and until then every committed slice would hold its aggregates.
                        foreach (var part in batch.Parts)
                        {
                            part.Clear();
                        }
                        _committed.Enqueue(batch);
                        continue;
                    }
                    foreach (var part in batch.Parts)
                    {
                        EngineMetrics.StoredRows.Inc(part.Readings.Count);
                        Counters.AddCommitted(part.Readings.Count, part.Aggregates.Count, part.Anomalies.Count, part.Alerts.Count);
                    }
                    // A queued batch holds an _inFlight count, so WaitForWriter cannot see the writer drained before this one
                    // is settled (and its offsets are in _committed).
                    if (_queue.Reader.TryPeek(out _))
                    {
                        unsettled = batch;
                    }
                    else
                    {
                        Settle(batch);
                    }
                }
                catch (OperationCanceledException) when (ct.IsCancellationRequested)
                {
                    throw;
                }
                catch (Exception ex)
                {
                    // Transient errors were already retried by the sink; what reaches here stops the engine, uncommitted.
                    EngineLog.Fatal(_logger, ex, ex.Message);
                    EngineProbe.OnWriteFailed();
                    _fatal ??= ex;
                    return;
                }
                finally
                {
                    Interlocked.Decrement(ref _inFlight);
                }
            }
        }
        finally
        {
            if (unsettled is not null)
            {
                Settle(unsettled);
            }
        }
    }

    /// <summary>A committed batch's metrics and progress signals, then back to the consume loop (offsets to Kafka, pool).</summary>
    private void Settle(PendingBatch batch)
    {
        Probe.OnCommitted(batch.Parts, batch.Rows, batch.Bytes);
        _committed.Enqueue(batch);
    }

    /// <summary>Each part on its own connection, in parallel; each part is one transaction (rows + its partitions' offsets).</summary>
    private Task WriteAllAsync(PendingBatch batch, CancellationToken ct)
    {
        if (_sinks.Length == 1)
        {
            return _sinks[0].WriteAsync(batch.Parts[0], ct);
        }
        var writes = new Task[_sinks.Length];
        for (var i = 0; i < writes.Length; i++)
        {
            writes[i] = batch.Parts[i].IsEmpty ? Task.CompletedTask : _sinks[i].WriteAsync(batch.Parts[i], ct);
        }
        return Task.WhenAll(writes);
    }

    /// <summary>Tells Kafka about offsets the database has committed (lag monitoring only), recycling the batches.</summary>
    private void StoreCommittedOffsets()
    {
        while (_committed.TryDequeue(out var batch))
        {
            if (_consumer is { } consumer)
            {
                foreach (var mark in batch.Parts.SelectMany(static part => part.Offsets))
                {
                    if (_partitions.ContainsKey(mark.Partition))
                    {
                        try
                        {
                            consumer.StoreOffset(new TopicPartitionOffset(_topics.Readings, mark.Partition, mark.NextOffset));
                        }
                        catch (KafkaException ex)
                        {
                            // Expected while a rebalance is under way (ENVIRONMENT.md); the database holds the truth.
                            EngineLog.KafkaError(_logger, ex.Error.Reason);
                        }
                    }
                }
            }
            batch.Reset();
            _pool.Add(batch);
        }
    }

    private bool WaitForWriter(TimeSpan timeout)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (Volatile.Read(ref _inFlight) > 0 && _fatal is null)
        {
            TryDrainOverflow();
            if (Stopwatch.GetTimestamp() > deadline)
            {
                return false;
            }
            Thread.Sleep(5);
        }
        return _fatal is null;
    }

    private IEnumerable<TopicPartitionOffset> OnAssigned(IConsumer<ReusedBytes, ReusedBytes> consumer, List<TopicPartition> assigned)
    {
        if (LoadOffsetsWithRetry() is not { } stored)
        {
            // Stopping while the database is unreachable: the partitions stay unregistered, so nothing of theirs is
            // processed or written; the next owner starts from the database's offsets.
            return assigned.Select(tp => new TopicPartitionOffset(tp, Offset.End));
        }
        var result = new List<TopicPartitionOffset>(assigned.Count);
        var floors = new Dictionary<int, long?>(assigned.Count);
        var described = new StringBuilder();
        lock (_partitions)
        {
            foreach (var tp in assigned)
            {
                var ps = new PartitionState { AssignedAt = Stopwatch.GetTimestamp() };
                Offset start;
                if (stored.TryGetValue(tp.Partition.Value, out var mark))
                {
                    ps.StoredNext = mark.NextOffset;
                    ps.NextOffset = mark.NextOffset;
                    ps.HandedOff = mark.NextOffset;
                    ps.ReplayFrom = ReplayRules.ResumeAt(mark);
                    start = new Offset(ps.ReplayFrom);
                    floors[tp.Partition.Value] = ReplayRules.Floor(mark);
                }
                else
                {
                    start = Offset.Beginning;
                    floors[tp.Partition.Value] = null;
                }
                ps.Position = start.IsSpecial ? 0 : start.Value;
                _partitions[tp.Partition.Value] = ps;
                result.Add(new TopicPartitionOffset(tp, start));
                described.Append(tp.Partition.Value).Append('→').Append(start.IsSpecial ? "beginning" : start.Value.ToString(CultureInfo.InvariantCulture)).Append(' ');
            }
        }
        if (_persistent is not null)
        {
            RestoreStateWithRetry(assigned);
            foreach (var tp in assigned)
            {
                if (_partitions.TryGetValue(tp.Partition.Value, out var ps) && ps.ReplayFrom >= ps.StoredNext)
                {
                    _persistent.ReplayFinished(tp.Partition.Value);
                }
            }
        }
        _stages.OnPartitionsAssigned(floors, _outputs);
        EngineLog.Assigned(_logger, string.Join(',', assigned.Select(a => a.Partition.Value)), described.ToString().TrimEnd());
        if (_paused)
        {
            // New partitions join paused when the writer is behind.
            consumer.Pause(assigned);
        }
        return result;
    }

    /// <returns>The stored offsets, or null when a shutdown was requested while the database was unreachable.</returns>
    private IReadOnlyDictionary<int, OffsetMark>? LoadOffsetsWithRetry()
    {
        var delay = TimeSpan.FromMilliseconds(200);
        while (true)
        {
            try
            {
                // The stop token: a retrying sink otherwise retries an unreachable database here for ever.
                return _sinks[0].LoadOffsetsAsync(_options.ConsumerGroup, _topics.Readings, _stopping).GetAwaiter().GetResult();
            }
            catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
            {
                return null;
            }
            catch (StorageException ex) when (ex.IsTransient && _fatal is null)
            {
                EngineLog.DatabaseUnavailable(_logger, "loading offsets", ex.Message);
                // The rebalance callback runs on the consume thread: without this, SIGTERM could never stop it.
                if (_stopping.WaitHandle.WaitOne(delay))
                {
                    return null;
                }
                delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 5000));
            }
        }
    }

    /// <summary>Loads the detector state stored for newly assigned partitions (before any of their records is replayed).</summary>
    private void RestoreStateWithRetry(List<TopicPartition> assigned)
    {
        var partitions = new List<int>(assigned.Count);
        foreach (var tp in assigned)
        {
            partitions.Add(tp.Partition.Value);
        }
        var started = Stopwatch.GetTimestamp();
        var restored = 0;
        var rejected = 0;
        var delay = TimeSpan.FromMilliseconds(200);
        while (true)
        {
            restored = rejected = 0;
            try
            {
                _sinks[0].LoadDetectorStateAsync(_options.ConsumerGroup, _topics.Readings, partitions, (partition, sensor, offset, state) =>
                {
                    try
                    {
                        _persistent!.RestoreState(sensor, partition, offset, state);
                        restored++;
                    }
                    catch (InvalidDataException ex)
                    {
                        // The sensor warms up again from the replay, as without persistence.
                        if (rejected++ == 0)
                        {
                            EngineLog.StateRejected(_logger, sensor, ex.Message);
                        }
                    }
                }, _stopping).GetAwaiter().GetResult();
                break;
            }
            catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
            {
                return;
            }
            catch (StorageException ex) when (ex.IsTransient && _fatal is null)
            {
                EngineLog.DatabaseUnavailable(_logger, "loading detector state", ex.Message);
                if (_stopping.WaitHandle.WaitOne(delay))
                {
                    return;
                }
                delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 5000));
            }
        }
        EngineMetrics.DetectorStatesRestored.Inc(restored);
        EngineMetrics.DetectorStatesRejected.Inc(rejected);
        EngineLog.StateRestored(_logger, restored, string.Join(',', partitions), rejected, Stopwatch.GetElapsedTime(started));
    }

    private void OnRevoked(IConsumer<ReusedBytes, ReusedBytes> consumer, List<TopicPartitionOffset> revoked)
    {
        if (Volatile.Read(ref _closeAbandoned))
        {
            return;
        }
        EngineLog.Revoked(_logger, string.Join(',', revoked.Select(r => r.Partition.Value)));
        // Commit what was consumed from these partitions, and their sensors' detector state, before another instance
        // takes them over: it then continues from this state without replaying past the committed offsets.
        // Window outputs count too: a replay-only partition fires windows without consuming anything new, and they must be
        // stored before the partition moves, not in a later batch over the new owner's rows.
        if (_batch.HasWork || !_outputs.IsEmpty || _persistent is { HasChanges: true })
        {
            Handoff(allState: true);
        }
        if (!WaitForWriter(_options.RevokeDrainTimeout))
        {
            EngineLog.RevokeTimeout(_logger, Volatile.Read(ref _inFlight), _options.RevokeDrainTimeout);
        }
        StoreCommittedOffsets();
        Forget(revoked);
    }

    private void OnLost(IConsumer<ReusedBytes, ReusedBytes> consumer, List<TopicPartitionOffset> lost)
    {
        EngineLog.Lost(_logger, string.Join(',', lost.Select(r => r.Partition.Value)));
        // Nothing of a lost partition may be committed from here: its new owner reads it again from the stored offsets.
        // Left in the open batch, its readings would be stored by this instance as well, or twice if it came back here.
        foreach (var tp in lost)
        {
            var partition = tp.Partition.Value;
            if (_batch.NextOffsets.Remove(partition))
            {
                _batch.Rows -= _batch.Part(partition).DropReadings(partition);
            }
        }
        Forget(lost);
    }

    private void Forget(List<TopicPartitionOffset> partitions)
    {
        var ids = new List<int>(partitions.Count);
        lock (_partitions)
        {
            foreach (var tp in partitions)
            {
                _partitions.Remove(tp.Partition.Value);
                ids.Add(tp.Partition.Value);
            }
        }
        _stages.DropPartitions(ids, _outputs);
    }

    private sealed class PartitionState
    {
        /// <summary>First offset not yet stored in the database when the partition was assigned: below it, replay only.</summary>
        public long StoredNext;
        public long ReplayFrom;
        public long NextOffset;
        public long AssignedAt;
        /// <summary>Offset after the last message the loop processed (replayed or not): what a detector state taken now covers.</summary>
        public long Position;
        /// <summary>The next offset stored once every batch handed off so far has committed (-1: none stored): what a slice
        /// expects to find in the database, unless another owner has moved the partition on.</summary>
        public long HandedOff = -1;
    }

    private sealed class PendingBatch(int parts)
    {
        /// <summary>One storage batch per writer connection.</summary>
        public StorageBatch[] Parts { get; } = [.. Enumerable.Range(0, parts).Select(static _ => new StorageBatch())];
        public Dictionary<int, long> NextOffsets { get; } = [];
        public long Rows;
        public long Bytes;
        public long StartedTicks;
        public bool HasWork;
        /// <summary>Aggregates only, written ahead of the batch that commits their offsets (<see cref="StorageBatch.Fences"/>).</summary>
        public bool IsSlice;

        public StorageBatch Part(int partition) => Parts[partition % Parts.Length];

        public void Reset()
        {
            foreach (var part in Parts)
            {
                part.Clear();
            }
            NextOffsets.Clear();
            Rows = 0;
            Bytes = 0;
            HasWork = false;
            IsSlice = false;
        }
    }
}

/// <summary>The engine stopped on an error that retrying cannot fix; nothing after the last commit was committed.</summary>
public sealed class EngineFatalException(string message, Exception inner) : Exception(message, inner);
