using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Confluent.Kafka;
using Prometheus;
using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Engine.Stages;
using SmartMaintenance.Streams.Storage;

namespace SmartMaintenance.Streams.Engine;

/// <summary>Engine metrics, created once. Names carry their units; labels stay low-cardinality
/// (topic, partition, reason, detector, status, table: never a sensor id). docs/observability.md lists them.</summary>
internal static class EngineMetrics
{
    private static readonly double[] LatencyBuckets = Histogram.ExponentialBuckets(0.005, 2, 22);

    public static readonly Gauge PausedPartitions = Metrics.CreateGauge(
        "smstream_engine_paused_partitions", "Partitions paused because the writer is behind (backpressure).");

    public static readonly Gauge BufferedRecords = Metrics.CreateGauge(
        "smstream_engine_buffered_records", "Records handed to the writer and not yet committed (backpressure).");

    public static readonly Gauge BufferedBatches = Metrics.CreateGauge(
        "smstream_engine_buffered_batches", "Batches handed to the writer and not yet committed (backpressure).");

    public static readonly Histogram BatchSeconds = Metrics.CreateHistogram(
        "smstream_db_batch_duration_seconds", "Time to commit one batch (rows + offsets) to the database, retries included.",
        new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(0.001, 2, 16) });

    public static readonly Histogram BatchRows = Metrics.CreateHistogram(
        "smstream_db_batch_rows", "Rows (all tables) per committed batch.",
        new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(1, 4, 10) });

    public static readonly Histogram BatchBytes = Metrics.CreateHistogram(
        "smstream_db_batch_bytes", "Input bytes (Kafka message values) covered by one committed batch.",
        new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(256, 4, 10) });

    public static readonly Counter Batches = Metrics.CreateCounter(
        "smstream_db_batches_total", "Batches committed to the database (rows and offsets in one transaction).");

    public static readonly Counter StoredRows = Metrics.CreateCounter(
        "smstream_readings_stored_total", "Readings committed to the database.");

    public static readonly Counter RowsWritten = Metrics.CreateCounter(
        "smstream_db_rows_written_total", "Rows committed to the database, per table.",
        new CounterConfiguration { LabelNames = ["table"] });

    public static readonly Counter Consumed = Metrics.CreateCounter(
        "smstream_records_consumed_total", "Kafka records consumed for the first time (replays excluded), per topic and partition.",
        new CounterConfiguration { LabelNames = ["topic", "partition"] });

    public static readonly Counter ConsumedBytes = Metrics.CreateCounter(
        "smstream_records_consumed_bytes_total", "Bytes of Kafka record values consumed (replays excluded), per topic and partition.",
        new CounterConfiguration { LabelNames = ["topic", "partition"] });

    public static readonly Counter Rejected = Metrics.CreateCounter(
        "smstream_records_rejected_total",
        "Readings sent to the DLQ, by reason: decode/validation (malformed_json, missing_field, ...), duplicate (dedup drop), late, processing_error.",
        new CounterConfiguration { LabelNames = ["reason"] });

    public static readonly Counter Replayed = Metrics.CreateCounter(
        "smstream_engine_replayed_records_total", "Records re-read after an assignment to rebuild state (already stored; outputs suppressed).");

    public static readonly Histogram ReplaySeconds = Metrics.CreateHistogram(
        "smstream_engine_replay_duration_seconds", "Time from a partition's assignment until its replay (state restore) reached the stored offset.",
        new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(0.01, 2, 16) });

    public static readonly Gauge ConsumerLag = Metrics.CreateGauge(
        "smstream_consumer_lag_records", "Records between the partition's high watermark and the engine's committed position (librdkafka statistics).",
        new GaugeConfiguration { LabelNames = ["topic", "partition"] });

    public static readonly Gauge Watermark = Metrics.CreateGauge(
        "smstream_watermark_timestamp_seconds", "Engine watermark (Unix seconds): the oldest newest-stored event time over non-idle partitions.");

    public static readonly Gauge WatermarkDelay = Metrics.CreateGauge(
        "smstream_watermark_delay_seconds", "Wall clock minus the engine watermark, at scrape time.");

    public static readonly Counter WindowAggregates = Metrics.CreateCounter(
        "smstream_window_aggregates_emitted_total", "Window aggregates handed to the sink, by state (partial: early/revised, final).",
        new CounterConfiguration { LabelNames = ["state"] });

    public static readonly Counter Anomalies = Metrics.CreateCounter(
        "smstream_anomalies_total", "Anomalies detected (readings and windows), per detector.",
        new CounterConfiguration { LabelNames = ["detector"] });

    public static readonly Histogram AnomalyScore = Metrics.CreateHistogram(
        "smstream_anomaly_score", "Ensemble score of the anomalies detected, per detector (0..1).",
        new HistogramConfiguration { LabelNames = ["detector"], Buckets = Histogram.LinearBuckets(0.1, 0.1, 10) });

    public static readonly Counter AlertEvents = Metrics.CreateCounter(
        "smstream_alert_events_total", "Alert events published to the alerts topic, by status (open, updated, resolved).",
        new CounterConfiguration { LabelNames = ["status"] });

    public static readonly Histogram EventToStored = Metrics.CreateHistogram(
        "smstream_e2e_event_to_stored_seconds", "End-to-end latency: reading event time to its database commit.",
        new HistogramConfiguration { Buckets = LatencyBuckets });

    public static readonly Histogram EventToAlert = Metrics.CreateHistogram(
        "smstream_e2e_event_to_alert_published_seconds", "End-to-end latency: event time of the triggering reading to the alert's publication (open/updated).",
        new HistogramConfiguration { Buckets = LatencyBuckets });

    private static readonly double[] StepBuckets = Histogram.ExponentialBuckets(0.0005, 2, 17);

    public static readonly Histogram ConsumeDelay = Metrics.CreateHistogram(
        "smstream_engine_consume_delay_seconds",
        "Record timestamp (the producer's clock at its Produce call, CreateTime) to the engine's consume loop receiving it: producer linger, broker, fetch wait and the client's local queue. Millisecond resolution.",
        new HistogramConfiguration { Buckets = StepBuckets });

    public static readonly Histogram ProduceAck = Metrics.CreateHistogram(
        "smstream_engine_produce_ack_seconds",
        "Engine's Produce call to the broker's acknowledgement (linger + request round trip), per output (alerts, dlq).",
        new HistogramConfiguration { LabelNames = ["output"], Buckets = StepBuckets });

    public static readonly Histogram.Child AlertAck = ProduceAck.WithLabels("alerts");
    public static readonly Histogram.Child DlqAck = ProduceAck.WithLabels("dlq");

    public static readonly Gauge SensorsActive = Metrics.CreateGauge(
        "smstream_sensors_active", "Sensors with a stored reading within the silence threshold.");

    public static readonly Gauge SensorsSilent = Metrics.CreateGauge(
        "smstream_sensors_silent", "Sensors seen before that have stored nothing for longer than the silence threshold.");

    public static readonly Counter WriteFailures = Metrics.CreateCounter(
        "smstream_engine_write_failures_total", "Batches the engine gave up on (fatal storage or produce error): the engine stops uncommitted.");

    public static readonly Counter DetectorStateBytes = Metrics.CreateCounter(
        "smstream_detector_state_written_bytes_total", "Bytes of per-sensor detector state (and open alerts) committed to the database (Engine:PersistDetectorState).");

    public static readonly Counter DetectorStatesRestored = Metrics.CreateCounter(
        "smstream_detector_states_restored_total", "Sensor detector states restored from the database on partition assignment.");

    public static readonly Counter DetectorStatesRejected = Metrics.CreateCounter(
        "smstream_detector_states_rejected_total", "Stored sensor detector states that could not be restored (another version or detector configuration): the sensor warms up again.");

    private static readonly Counter.Child[] RejectedByReason = CreateRejectedChildren();

    public static readonly Counter.Child ReadingRows = RowsWritten.WithLabels("readings");
    public static readonly Counter.Child AggregateRows = RowsWritten.WithLabels("window_aggregates");
    public static readonly Counter.Child AnomalyRows = RowsWritten.WithLabels("anomalies");
    public static readonly Counter.Child AlertRows = RowsWritten.WithLabels("alerts");
    public static readonly Counter.Child OffsetRows = RowsWritten.WithLabels("stream_offsets");
    public static readonly Counter.Child DetectorStateRows = RowsWritten.WithLabels("detector_state");
    public static readonly Counter.Child PartialAggregates = WindowAggregates.WithLabels("partial");
    public static readonly Counter.Child FinalAggregates = WindowAggregates.WithLabels("final");

    static EngineMetrics()
    {
        // Series that exist from start-up (at 0), so rates and alert rules have something to evaluate.
        foreach (var status in new[] { AlertStatus.Open, AlertStatus.Updated, AlertStatus.Resolved })
        {
            AlertEvents.WithLabels(status);
        }
        Replayed.Inc(0);
        WriteFailures.Inc(0);
        Windowing.WindowingMetrics.Register();
    }

    private static Counter.Child[] CreateRejectedChildren()
    {
        var values = Enum.GetValues<RejectReason>();
        var children = new Counter.Child[values.Length];
        foreach (var reason in values)
        {
            children[(int)reason] = Rejected.WithLabels(reason.ToCode());
        }
        return children;
    }

    public static void OnRejected(RejectReason reason) => RejectedByReason[(int)reason].Inc();
}

/// <summary>
/// One engine instance's metric state and progress signals for health checks. The consume loop, the writer and the
/// librdkafka statistics callback feed it; per-record calls only add to plain fields, flushed to Prometheus per batch.
/// </summary>
public sealed class EngineProbe
{
    /// <summary>How often librdkafka reports statistics (consumer lag) when the configuration does not say.</summary>
    public const int DefaultStatisticsIntervalMs = 5000;

    private static readonly TimeSpan IdlePartition = TimeSpan.FromSeconds(30);

    // Consume-loop only: per-partition pending counts and cached children.
    private long[] _pendingRecords = new long[16];
    private long[] _pendingBytes = new long[16];
    private Counter.Child?[] _recordChildren = new Counter.Child?[16];
    private Counter.Child?[] _byteChildren = new Counter.Child?[16];
    private long _pendingReplayed;
    private long _bufferedRecords;
    private long _bufferedBatches;

    // Writer thread, read under the lock by scrapes.
    private readonly Lock _writerLock = new();
    private readonly Dictionary<int, (long MaxEventMs, long UpdatedTicks)> _partitionEventTime = [];
    private readonly Dictionary<string, long> _sensorLastStored = new(StringComparer.Ordinal);
    private long _watermarkMs = long.MinValue;

    private readonly HashSet<int> _lagPartitions = [];
    private long _lastProgressTicks = Stopwatch.GetTimestamp();
    private long _totalLag = -1;
    private long _lastStatisticsTicks;
    private long _consumed;

    public EngineProbe()
    {
        Metrics.DefaultRegistry.AddBeforeCollectCallback(UpdateScrapeGauges);
    }

    /// <summary>Sensors that stored nothing for this long count as silent (<c>smstream_sensors_silent</c>).</summary>
    public TimeSpan SilentAfter { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Silent sensors are forgotten after this long (decommissioned), so they stop counting.</summary>
    public TimeSpan ForgetAfter { get; set; } = TimeSpan.FromHours(24);

    /// <summary>Time since the last committed batch or the engine's start.</summary>
    public TimeSpan SinceLastProgress => Stopwatch.GetElapsedTime(Interlocked.Read(ref _lastProgressTicks));

    /// <summary>Sum of consumer lag over assigned partitions from the last statistics report; -1 before the first one.</summary>
    public long TotalLag => Interlocked.Read(ref _totalLag);

    /// <summary>Time since librdkafka last reported statistics (null before the first report).</summary>
    public TimeSpan? SinceLastStatistics =>
        Interlocked.Read(ref _lastStatisticsTicks) is var t and > 0 ? Stopwatch.GetElapsedTime(t) : null;

    /// <summary>Records handed to the writer and not committed yet.</summary>
    public long BufferedRecords => Interlocked.Read(ref _bufferedRecords);

    /// <summary>Records consumed for the first time since start.</summary>
    public long Consumed => Interlocked.Read(ref _consumed);

    /// <summary>The engine watermark in Unix milliseconds, or null before any reading was stored.</summary>
    public long? WatermarkMs => Interlocked.Read(ref _watermarkMs) is var w && w != long.MinValue ? w : null;

    /// <summary>Asks librdkafka for statistics (lag) unless the configuration already chose an interval.</summary>
    public static ConsumerConfig WithStatistics(ConsumerConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.StatisticsIntervalMs ??= DefaultStatisticsIntervalMs;
        return config;
    }

    /// <summary>One record consumed for the first time (consume loop; no allocation once the partition is known).</summary>
    public void OnConsumed(string topic, int partition, int bytes)
    {
        if (partition >= _pendingRecords.Length)
        {
            Grow(partition);
        }
        if (_recordChildren[partition] is null)
        {
            var p = partition.ToString(CultureInfo.InvariantCulture);
            _recordChildren[partition] = EngineMetrics.Consumed.WithLabels(topic, p);
            _byteChildren[partition] = EngineMetrics.ConsumedBytes.WithLabels(topic, p);
        }
        _pendingRecords[partition]++;
        _pendingBytes[partition] += bytes;
    }

    /// <summary>One record re-read to rebuild state.</summary>
    public void OnReplayed() => _pendingReplayed++;

    /// <summary>A partition's replay reached its stored offset.</summary>
    public static void OnReplayDone(TimeSpan elapsed) => EngineMetrics.ReplaySeconds.Observe(elapsed.TotalSeconds);

    /// <summary>A record reached the consume loop (not a replay): its age since the producer stamped it.</summary>
    public static void OnConsumeDelay(Timestamp timestamp, long nowMs)
    {
        if (timestamp.Type != TimestampType.NotAvailable)
        {
            EngineMetrics.ConsumeDelay.Observe(Math.Max(0, nowMs - timestamp.UnixTimestampMs) / 1000.0);
        }
    }

    /// <summary>An alert event was handed to the producer (as soon as the tracker emitted it).</summary>
    public static void OnAlertPublished(AlertEvent alert, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(alert);
        EngineMetrics.AlertEvents.WithLabels(alert.Status).Inc();
        if (alert.Status != AlertStatus.Resolved)
        {
            EngineMetrics.EventToAlert.Observe(Math.Max(0, (now - alert.LastSeen).TotalSeconds));
        }
    }

    /// <summary>A record went to the DLQ.</summary>
    public static void OnRejected(RejectReason reason) => EngineMetrics.OnRejected(reason);

    /// <summary>A batch is handed to the writer (consume loop): flushes per-record counts, counts the stage outputs.</summary>
    public void OnHandoff(StageOutputs outputs, long records)
    {
        ArgumentNullException.ThrowIfNull(outputs);
        long consumed = 0;
        for (var p = 0; p < _pendingRecords.Length; p++)
        {
            if (_pendingRecords[p] > 0)
            {
                consumed += _pendingRecords[p];
                _recordChildren[p]!.Inc(_pendingRecords[p]);
                _byteChildren[p]!.Inc(_pendingBytes[p]);
                _pendingRecords[p] = 0;
                _pendingBytes[p] = 0;
            }
        }
        Interlocked.Add(ref _consumed, consumed);
        if (_pendingReplayed > 0)
        {
            EngineMetrics.Replayed.Inc(_pendingReplayed);
            _pendingReplayed = 0;
        }
        CountAggregates(outputs.Aggregates);
        foreach (var anomaly in outputs.Anomalies)
        {
            EngineMetrics.Anomalies.WithLabels(anomaly.Detector).Inc();
            EngineMetrics.AnomalyScore.WithLabels(anomaly.Detector).Observe(anomaly.Score);
        }
        EngineMetrics.BufferedRecords.Set(Interlocked.Add(ref _bufferedRecords, records));
        EngineMetrics.BufferedBatches.Set(Interlocked.Increment(ref _bufferedBatches));
    }

    /// <summary>A batch committed (writer): table rows of all its parts (one per writer connection), latency from event
    /// time, watermark, sensor liveness, progress. Once per batch: <paramref name="records"/> and <paramref name="bytes"/>
    /// are the batch's input records and bytes, as handed off.</summary>
    public void OnCommitted(IReadOnlyList<StorageBatch> parts, long records, long bytes)
    {
        ArgumentNullException.ThrowIfNull(parts);
        var nowMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var ticks = Stopwatch.GetTimestamp();
        long rows = 0;
        EngineMetrics.Batches.Inc();
        for (var i = 0; i < parts.Count; i++)
        {
            var part = parts[i];
            EngineMetrics.ReadingRows.Inc(part.Readings.Count);
            EngineMetrics.AggregateRows.Inc(part.Aggregates.Count);
            EngineMetrics.AnomalyRows.Inc(part.Anomalies.Count);
            EngineMetrics.AlertRows.Inc(part.Alerts.Count);
            EngineMetrics.OffsetRows.Inc(part.Offsets.Count);
            if (part.DetectorStates.Count > 0)
            {
                EngineMetrics.DetectorStateRows.Inc(part.DetectorStates.Count);
                EngineMetrics.DetectorStateBytes.Inc(part.StateData.Length);
            }
            rows += part.Readings.Count + part.Aggregates.Count + part.Anomalies.Count + part.Alerts.Count + part.Offsets.Count + part.DetectorStates.Count;
            lock (_writerLock)
            {
                var readings = part.Readings;
                for (var j = 0; j < readings.Count; j++)
                {
                    var r = readings[j];
                    EngineMetrics.EventToStored.Observe(Math.Max(0, nowMs - r.Timestamp) / 1000.0);
                    _sensorLastStored[r.SensorId] = ticks;
                    var p = r.Position.Partition;
                    if (!_partitionEventTime.TryGetValue(p, out var e) || r.Timestamp > e.MaxEventMs)
                    {
                        _partitionEventTime[p] = (Math.Max(r.Timestamp, e.MaxEventMs), ticks);
                    }
                    else if (e.UpdatedTicks != ticks)
                    {
                        _partitionEventTime[p] = (e.MaxEventMs, ticks);
                    }
                }
            }
        }
        EngineMetrics.BatchRows.Observe(rows);
        EngineMetrics.BatchBytes.Observe(bytes);
        lock (_writerLock)
        {
            UpdateWatermark(ticks);
        }
        EngineMetrics.BufferedRecords.Set(Interlocked.Add(ref _bufferedRecords, -records));
        EngineMetrics.BufferedBatches.Set(Interlocked.Decrement(ref _bufferedBatches));
        Interlocked.Exchange(ref _lastProgressTicks, ticks);
    }

    /// <summary>A slice of aggregates leaves for the writer ahead of its batch (consume loop).</summary>
    public void OnSliceHandoff(ChunkedList<WindowAggregate> aggregates)
    {
        ArgumentNullException.ThrowIfNull(aggregates);
        CountAggregates(aggregates);
        EngineMetrics.BufferedBatches.Set(Interlocked.Increment(ref _bufferedBatches));
    }

    /// <summary>A slice committed (writer): its aggregate rows; it counts as progress, not as a batch.</summary>
    public void OnSliceCommitted(IReadOnlyList<StorageBatch> parts)
    {
        ArgumentNullException.ThrowIfNull(parts);
        for (var i = 0; i < parts.Count; i++)
        {
            EngineMetrics.AggregateRows.Inc(parts[i].Aggregates.Count);
        }
        EngineMetrics.BufferedBatches.Set(Interlocked.Decrement(ref _bufferedBatches));
        Interlocked.Exchange(ref _lastProgressTicks, Stopwatch.GetTimestamp());
    }

    private static void CountAggregates(ChunkedList<WindowAggregate> aggregates)
    {
        long partial = 0;
        foreach (var aggregate in aggregates)
        {
            if (!aggregate.IsFinal)
            {
                partial++;
            }
        }
        EngineMetrics.PartialAggregates.Inc(partial);
        EngineMetrics.FinalAggregates.Inc(aggregates.Count - partial);
    }

    /// <summary>The writer gave up on a batch: the engine stops.</summary>
    public static void OnWriteFailed() => EngineMetrics.WriteFailures.Inc();

    /// <summary>librdkafka statistics JSON (consume loop, every statistics.interval.ms): consumer lag per partition.</summary>
    public void OnStatistics(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        try
        {
            using var doc = JsonDocument.Parse(json);
            if (!doc.RootElement.TryGetProperty("topics", out var topics))
            {
                return;
            }
            var seen = new HashSet<int>();
            long total = 0;
            foreach (var topic in topics.EnumerateObject())
            {
                if (!topic.Value.TryGetProperty("partitions", out var partitions))
                {
                    continue;
                }
                foreach (var entry in partitions.EnumerateObject())
                {
                    var p = entry.Value;
                    var id = p.GetProperty("partition").GetInt32();
                    if (id < 0 || Lag(p) is not { } lag)
                    {
                        continue;
                    }
                    EngineMetrics.ConsumerLag.WithLabels(topic.Name, id.ToString(CultureInfo.InvariantCulture)).Set(lag);
                    seen.Add(id);
                    total += lag;
                }
                foreach (var gone in _lagPartitions)
                {
                    if (!seen.Contains(gone))
                    {
                        EngineMetrics.ConsumerLag.RemoveLabelled(topic.Name, gone.ToString(CultureInfo.InvariantCulture));
                    }
                }
            }
            _lagPartitions.Clear();
            _lagPartitions.UnionWith(seen);
            Interlocked.Exchange(ref _totalLag, total);
            Interlocked.Exchange(ref _lastStatisticsTicks, Stopwatch.GetTimestamp());
        }
        catch (JsonException)
        {
            // A malformed statistics report only costs one lag sample.
        }
    }

    /// <summary>Lag of an assigned partition: against the stored (database-committed) offset, else the committed one,
    /// else the whole retained log (nothing committed yet). Null when the partition is not being fetched.</summary>
    private static long? Lag(JsonElement p)
    {
        if (p.TryGetProperty("fetch_state", out var state) && state.GetString() is "none" or "stopped" or "stopping")
        {
            return null;
        }
        var hi = Long(p, "hi_offset");
        if (hi < 0)
        {
            return null;
        }
        var stored = Long(p, "consumer_lag_stored");
        if (stored >= 0)
        {
            return stored;
        }
        var committed = Long(p, "consumer_lag");
        if (committed >= 0)
        {
            return committed;
        }
        var lo = Long(p, "lo_offset");
        return Math.Max(0, hi - Math.Max(0, lo));
    }

    private static long Long(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt64() : -1;

    private void UpdateWatermark(long nowTicks)
    {
        long min = long.MaxValue;
        long max = long.MinValue;
        foreach (var (_, e) in _partitionEventTime)
        {
            max = Math.Max(max, e.MaxEventMs);
            // Idle partitions (no input) must not hold the watermark back.
            if (Stopwatch.GetElapsedTime(e.UpdatedTicks, nowTicks) < IdlePartition)
            {
                min = Math.Min(min, e.MaxEventMs);
            }
        }
        var watermark = min != long.MaxValue ? min : max;
        if (watermark == long.MinValue)
        {
            return;
        }
        // Never move backwards (a partition coming back with older data does not rewind it).
        if (watermark > Interlocked.Read(ref _watermarkMs))
        {
            Interlocked.Exchange(ref _watermarkMs, watermark);
            EngineMetrics.Watermark.Set(watermark / 1000.0);
        }
    }

    private void UpdateScrapeGauges()
    {
        if (WatermarkMs is { } w)
        {
            EngineMetrics.WatermarkDelay.Set(Math.Max(0, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - w) / 1000.0);
        }
        long active = 0;
        long silent = 0;
        var now = Stopwatch.GetTimestamp();
        lock (_writerLock)
        {
            List<string>? forget = null;
            foreach (var (sensor, last) in _sensorLastStored)
            {
                var quiet = Stopwatch.GetElapsedTime(last, now);
                if (quiet >= ForgetAfter)
                {
                    (forget ??= []).Add(sensor);
                }
                else if (quiet >= SilentAfter)
                {
                    silent++;
                }
                else
                {
                    active++;
                }
            }
            if (forget is not null)
            {
                foreach (var s in forget)
                {
                    _sensorLastStored.Remove(s);
                }
            }
        }
        EngineMetrics.SensorsActive.Set(active);
        EngineMetrics.SensorsSilent.Set(silent);
    }

    private void Grow(int partition)
    {
        var size = Math.Max(partition + 1, _pendingRecords.Length * 2);
        Array.Resize(ref _pendingRecords, size);
        Array.Resize(ref _pendingBytes, size);
        Array.Resize(ref _recordChildren, size);
        Array.Resize(ref _byteChildren, size);
    }
}
