// Over 500 lines because one transaction's statements (COPY, staging upserts, fences, offsets, states) and their SQL
// live together: the exactly-once rules of a commit are read in one file (fence decisions: OffsetFence.cs).
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using NpgsqlTypes;
using SmartMaintenance.Streams.Contracts;

namespace SmartMaintenance.Streams.Storage;

/// <summary>One writer connection: each <see cref="WriteAsync"/> is one transaction holding the batch's readings
/// (binary COPY), aggregate/anomaly/alert upserts (binary COPY into a staging table, then INSERT … ON CONFLICT)
/// and its offset marks.</summary>
/// <remarks>Calls are serialized. For several writer connections create several sinks over one
/// <see cref="NpgsqlDataSource"/> and route each Kafka partition to always the same sink, so its offsets stay ordered.
/// Stored offsets only move forward (next_offset = greatest(stored, new)), and the rows of the locked offset marks
/// fence two writers of one partition from interleaving.</remarks>
public sealed class PostgresSink : IStorageSink
{
    private const int CancellationCheckInterval = 4096;
    private const string AggregateStage = "smstream_stage_aggregates";
    private const string AnomalyStage = "smstream_stage_anomalies";
    private const string AlertStage = "smstream_stage_alerts";
    private const string StateStage = "smstream_stage_detector_state";

    public const string CopyReadingsSql =
        "COPY readings (sensor_id, ts, value, asset_id, sensor_type, unit, quality, seq, attributes, kafka_partition, kafka_offset, kafka_index) FROM STDIN (FORMAT BINARY)";

    // Temp staging tables live as long as the connection; ON COMMIT DELETE ROWS empties them after every batch.
    private const string CreateStagesSql = $"""
        CREATE TEMP TABLE IF NOT EXISTS {AggregateStage} (LIKE window_aggregates INCLUDING DEFAULTS, stage_seq int NOT NULL) ON COMMIT DELETE ROWS;
        CREATE TEMP TABLE IF NOT EXISTS {AnomalyStage} (LIKE anomalies INCLUDING DEFAULTS, stage_seq int NOT NULL) ON COMMIT DELETE ROWS;
        CREATE TEMP TABLE IF NOT EXISTS {AlertStage} (LIKE alerts INCLUDING DEFAULTS, stage_seq int NOT NULL) ON COMMIT DELETE ROWS;
        """;

    private const string CopyAggregatesSql =
        $"COPY {AggregateStage} (sensor_id, window_kind, window_start, window_end, count, sum, min, max, mean, stddev, first, last, p50, p95, p99, revision, is_final, asset_id, sensor_type, stage_seq) FROM STDIN (FORMAT BINARY)";

    // DISTINCT ON: one row per key, because ON CONFLICT cannot touch a row twice in one statement; the newest revision wins.
    // Across batches the last write wins: a partition's batches commit in order on one connection, revisions restart
    // after a resume (so they cannot order batches), and a stale batch is refused whole (see WriteAsync).
    public const string UpsertAggregatesSql = $"""
        INSERT INTO window_aggregates AS w (sensor_id, window_kind, window_start, window_end, count, sum, min, max, mean, stddev,
                                            first, last, p50, p95, p99, revision, is_final, asset_id, sensor_type, updated_at)
        SELECT DISTINCT ON (sensor_id, window_kind, window_start)
               sensor_id, window_kind, window_start, window_end, count, sum, min, max, mean, stddev,
               first, last, p50, p95, p99, revision, is_final, asset_id, sensor_type, now()
        FROM {AggregateStage}
        ORDER BY sensor_id, window_kind, window_start, revision DESC, stage_seq DESC
        ON CONFLICT (sensor_id, window_kind, window_start) DO UPDATE SET
            window_end = excluded.window_end, count = excluded.count, sum = excluded.sum, min = excluded.min,
            max = excluded.max, mean = excluded.mean, stddev = excluded.stddev, first = excluded.first,
            last = excluded.last, p50 = excluded.p50, p95 = excluded.p95, p99 = excluded.p99,
            revision = excluded.revision, is_final = excluded.is_final, asset_id = excluded.asset_id,
            sensor_type = excluded.sensor_type, updated_at = excluded.updated_at
        """;

    private const string CopyAnomaliesSql =
        $"COPY {AnomalyStage} (sensor_id, detector, ts, value, score, threshold, severity, window_start, window_end, evidence, asset_id, sensor_type, stage_seq) FROM STDIN (FORMAT BINARY)";

    public const string UpsertAnomaliesSql = $"""
        INSERT INTO anomalies AS a (sensor_id, detector, ts, value, score, threshold, severity, window_start, window_end, evidence, asset_id, sensor_type)
        SELECT DISTINCT ON (sensor_id, detector, ts)
               sensor_id, detector, ts, value, score, threshold, severity, window_start, window_end, evidence, asset_id, sensor_type
        FROM {AnomalyStage}
        ORDER BY sensor_id, detector, ts, stage_seq DESC
        ON CONFLICT (sensor_id, detector, ts) DO UPDATE SET
            value = excluded.value, score = excluded.score, threshold = excluded.threshold, severity = excluded.severity,
            window_start = excluded.window_start, window_end = excluded.window_end, evidence = excluded.evidence,
            asset_id = excluded.asset_id, sensor_type = excluded.sensor_type
        """;

    private const string CopyAlertsSql =
        $"COPY {AlertStage} (alert_id, status, revision, severity, sensor_id, asset_id, sensor_type, detector, score, threshold, value, window_start, window_end, first_seen, last_seen, published_at, payload, stage_seq) FROM STDIN (FORMAT BINARY)";

    public const string UpsertAlertsSql = $"""
        INSERT INTO alerts AS al (alert_id, status, revision, severity, sensor_id, asset_id, sensor_type, detector, score, threshold, value,
                                  window_start, window_end, first_seen, last_seen, published_at, payload, updated_at)
        SELECT DISTINCT ON (alert_id)
               alert_id, status, revision, severity, sensor_id, asset_id, sensor_type, detector, score, threshold, value,
               window_start, window_end, first_seen, last_seen, published_at, payload, now()
        FROM {AlertStage}
        ORDER BY alert_id, revision DESC, stage_seq DESC
        ON CONFLICT (alert_id) DO UPDATE SET
            status = excluded.status, revision = excluded.revision, severity = excluded.severity, asset_id = excluded.asset_id,
            sensor_type = excluded.sensor_type, score = excluded.score, threshold = excluded.threshold, value = excluded.value,
            window_start = excluded.window_start, window_end = excluded.window_end, first_seen = excluded.first_seen,
            last_seen = excluded.last_seen, published_at = excluded.published_at, payload = excluded.payload, updated_at = excluded.updated_at
        WHERE excluded.revision >= al.revision
        """;

    // Its own stage, created on first use: a database migrated before detector_state existed still takes batches without state.
    private const string CreateStateStageSql =
        $"CREATE TEMP TABLE IF NOT EXISTS {StateStage} (LIKE {Schema.DetectorStateTable} INCLUDING DEFAULTS, stage_seq int NOT NULL) ON COMMIT DELETE ROWS";

    private const string CopyStatesSql =
        $"COPY {StateStage} (consumer_group, topic, partition, sensor_id, state_offset, state, stage_seq) FROM STDIN (FORMAT BINARY)";

    // A state taken at a later position wins: a batch of an instance that lost the partition (or a retry) never
    // replaces the newer owner's state with an older one.
    public const string UpsertStatesSql = $"""
        INSERT INTO {Schema.DetectorStateTable} AS d (consumer_group, topic, partition, sensor_id, state_offset, state, updated_at)
        SELECT DISTINCT ON (consumer_group, topic, partition, sensor_id)
               consumer_group, topic, partition, sensor_id, state_offset, state, now()
        FROM {StateStage}
        ORDER BY consumer_group, topic, partition, sensor_id, state_offset DESC, stage_seq DESC
        ON CONFLICT (consumer_group, topic, partition, sensor_id) DO UPDATE SET
            state_offset = excluded.state_offset, state = excluded.state, updated_at = excluded.updated_at
        WHERE d.state_offset <= excluded.state_offset
        """;

    private const string LoadStatesSql = $"""
        SELECT partition, sensor_id, state_offset, state FROM {Schema.DetectorStateTable}
        WHERE consumer_group = $1 AND topic = $2 AND partition = ANY($3)
        """;

    private const string LockOffsetsSql = """
        SELECT partition, next_offset FROM stream_offsets
        WHERE consumer_group = $1 AND topic = $2 AND partition = ANY($3)
        ORDER BY partition
        FOR UPDATE
        """;

    // Offsets never move backwards, so a late or replayed batch cannot re-open a range already stored (OffsetFence.Merge).
    public const string UpsertOffsetsSql = """
        INSERT INTO stream_offsets AS o (consumer_group, topic, partition, next_offset, replay_from, watermark, updated_at)
        SELECT g, t, p, n, r, w, now() FROM unnest($1::text[], $2::text[], $3::int[], $4::bigint[], $5::bigint[], $6::bigint[]) AS m(g, t, p, n, r, w)
        ON CONFLICT (consumer_group, topic, partition) DO UPDATE SET
            next_offset = greatest(o.next_offset, excluded.next_offset),
            replay_from = least(excluded.replay_from, greatest(o.next_offset, excluded.next_offset)),
            watermark = greatest(o.watermark, excluded.watermark),
            updated_at = excluded.updated_at
        """;

    // A session window merged into another one is deleted in the same transaction that upserts the merged session.
    public const string DeleteRetractedSql = $"""
        DELETE FROM {Schema.AggregatesTable} a
        USING unnest($1::text[], $2::text[], $3::timestamptz[]) AS r(s, k, w)
        WHERE a.sensor_id = r.s AND a.window_kind = r.k AND a.window_start = r.w
        """;

    private const string LoadOffsetsSql =
        "SELECT partition, next_offset, replay_from, watermark FROM stream_offsets WHERE consumer_group = $1 AND topic = $2";

    private readonly NpgsqlDataSource _dataSource;
    private readonly bool _ownsDataSource;
    private readonly StorageOptions _options;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Dictionary<(string Group, string Topic, int Partition), OffsetMark> _marks = [];
    private readonly Dictionary<int, long> _storedNext = [];
    private readonly List<int> _partitionScratch = [];
    private NpgsqlConnection? _connection;
    private ReadingsCopyEncoder? _encoder;
    private bool _stagesCreated;
    private bool _stateStageCreated;

    /// <summary>A sink with its own data source built from <see cref="StorageOptions.ConnectionString"/>.</summary>
    public PostgresSink(StorageOptions options, ILogger? logger = null)
        : this(CreateDataSource(options), options, logger, ownsDataSource: true)
    {
    }

    /// <summary>A sink over a shared data source (one per writer connection).</summary>
    public PostgresSink(NpgsqlDataSource dataSource, StorageOptions options, ILogger? logger = null)
        : this(dataSource, options, logger, ownsDataSource: false)
    {
    }

    private PostgresSink(NpgsqlDataSource dataSource, StorageOptions options, ILogger? logger, bool ownsDataSource)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _dataSource = dataSource;
        _options = options;
        _logger = logger ?? NullLogger.Instance;
        _ownsDataSource = ownsDataSource;
    }

    /// <summary>Readings written since creation.</summary>
    public long ReadingsWritten { get; private set; }

    /// <summary>Readings skipped because their offset was already stored (replays, retried ambiguous commits).</summary>
    public long ReadingsSkipped { get; private set; }

    /// <summary>Batches whose offsets were all stored already (from a previous owner, or a retried commit): nothing applied.</summary>
    public long StaleBatchesSkipped { get; private set; }

    /// <summary>Aggregate, anomaly and alert rows inserted or updated since creation.</summary>
    public long RowsUpserted { get; private set; }

    /// <summary>Detector state rows inserted or updated since creation.</summary>
    public long StatesUpserted { get; private set; }

    /// <summary>Transactions committed since creation.</summary>
    public long BatchesCommitted { get; private set; }

    /// <summary>Slices (batches with <see cref="StorageBatch.Fences"/>) whose fenced partitions had all been moved on by
    /// another owner: nothing applied.</summary>
    public long StaleSlicesSkipped { get; private set; }

    /// <summary>A data source configured for the writers (application name, command timeout, auto-prepare).</summary>
    public static NpgsqlDataSource CreateDataSource(StorageOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var builder = new NpgsqlDataSourceBuilder(options.ConnectionString);
        var cs = builder.ConnectionStringBuilder;
        cs.ApplicationName ??= options.ApplicationName;
        cs.CommandTimeout = options.CommandTimeout;
        if (cs.MaxAutoPrepare == 0)
        {
            cs.MaxAutoPrepare = 32;
        }
        return builder.Build();
    }

    public async Task WriteAsync(StorageBatch batch, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.IsEmpty)
        {
            return;
        }
        if (batch.Fences.Count > 0)
        {
            await WriteSliceAsync(batch, ct).ConfigureAwait(false);
            return;
        }
        await _gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            var conn = await OpenAsync(ct).ConfigureAwait(false);
            await using var tx = await conn.BeginTransactionAsync(ct).ConfigureAwait(false);
            DedupMarks(batch.Offsets);
            await LockOffsetsAsync(conn, tx, ct).ConfigureAwait(false);
            var skipped = 0;
            if (batch.Readings.Count > 0)
            {
                skipped = await CopyReadingsAsync(conn, batch.Readings, ct).ConfigureAwait(false);
            }
            var upserted = 0;
            // A batch whose offsets are all already stored comes from an instance that lost its partitions, or is the
            // retry of an ambiguous commit: its window rows would overwrite newer ones, so none of it is applied.
            var stale = IsStale();
            if (stale)
            {
                StaleBatchesSkipped++;
            }
            else if (batch.Aggregates.Count + batch.Anomalies.Count + batch.Alerts.Count > 0)
            {
                await EnsureStagesAsync(conn, tx, ct).ConfigureAwait(false);
                if (batch.Aggregates.Count > 0)
                {
                    await CopyAggregatesAsync(conn, batch.Aggregates, ct).ConfigureAwait(false);
                    upserted += await ExecAsync(conn, tx, UpsertAggregatesSql, ct).ConfigureAwait(false);
                }
                if (batch.Anomalies.Count > 0)
                {
                    await CopyAnomaliesAsync(conn, batch.Anomalies, ct).ConfigureAwait(false);
                    upserted += await ExecAsync(conn, tx, UpsertAnomaliesSql, ct).ConfigureAwait(false);
                }
                if (batch.Alerts.Count > 0)
                {
                    await CopyAlertsAsync(conn, batch.Alerts, ct).ConfigureAwait(false);
                    upserted += await ExecAsync(conn, tx, UpsertAlertsSql, ct).ConfigureAwait(false);
                }
            }
            if (!stale && batch.Retractions.Count > 0)
            {
                upserted += await DeleteRetractedAsync(conn, tx, batch.Retractions, ct).ConfigureAwait(false);
            }
            var states = 0;
            if (!stale && batch.DetectorStates.Count > 0)
            {
                states = await UpsertStatesAsync(conn, tx, batch, ct).ConfigureAwait(false);
            }
            if (_marks.Count > 0)
            {
                await UpsertOffsetsAsync(conn, tx, ct).ConfigureAwait(false);
            }
            await tx.CommitAsync(ct).ConfigureAwait(false);
            StatesUpserted += states;
            ReadingsWritten += batch.Readings.Count - skipped;
            ReadingsSkipped += skipped;
            RowsUpserted += upserted;
            BatchesCommitted++;
            if (skipped > 0)
            {
                Log.ReadingsSkipped(_logger, skipped);
            }
        }
        catch (Exception ex)
        {
            if (await AbandonAsync(ex).ConfigureAwait(false) is { } classified)
            {
                throw classified;
            }
            throw;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Writes a slice: its aggregates in one transaction of their own, ahead of the batch that commits the offsets of the
    /// readings behind them (docs/design.md, "Minute-end bursts in slices"). Fenced like a batch: the fenced partitions'
    /// offset rows are locked, and when every one of them has moved beyond what the engine expects (another owner committed
    /// them since) nothing is applied. Aggregates are upserts by key, so a crash before the offsets commit replays to the
    /// same rows, and retrying an ambiguous commit writes the same rows again.
    /// </summary>
    private async Task WriteSliceAsync(StorageBatch slice, CancellationToken ct)
    {
        if (slice.Readings.Count + slice.Offsets.Count + slice.DetectorStates.Count + slice.Anomalies.Count + slice.Alerts.Count + slice.Retractions.Count > 0)
        {
            throw new StorageException("A slice carries only window aggregates (and fences): the engine built it wrongly (it was not written).", isTransient: false);
        }
        await _gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            var conn = await OpenAsync(ct).ConfigureAwait(false);
            await using var tx = await conn.BeginTransactionAsync(ct).ConfigureAwait(false);
            _marks.Clear();
            foreach (var f in slice.Fences)
            {
                _marks[(f.ConsumerGroup, f.Topic, f.Partition)] = f;
            }
            await LockOffsetsAsync(conn, tx, ct).ConfigureAwait(false);
            var stale = OffsetFence.IsSliceStale(_marks.Values, _storedNext);
            _marks.Clear();
            var upserted = 0;
            if (stale)
            {
                StaleSlicesSkipped++;
            }
            else if (slice.Aggregates.Count > 0)
            {
                await EnsureStagesAsync(conn, tx, ct).ConfigureAwait(false);
                await CopyAggregatesAsync(conn, slice.Aggregates, ct).ConfigureAwait(false);
                upserted = await ExecAsync(conn, tx, UpsertAggregatesSql, ct).ConfigureAwait(false);
            }
            await tx.CommitAsync(ct).ConfigureAwait(false);
            RowsUpserted += upserted;
            BatchesCommitted++;
        }
        catch (Exception ex)
        {
            _marks.Clear();
            if (await AbandonAsync(ex).ConfigureAwait(false) is { } classified)
            {
                throw classified;
            }
            throw;
        }
        finally
        {
            _gate.Release();
        }
    }

    public async Task<IReadOnlyDictionary<int, OffsetMark>> LoadOffsetsAsync(string group, string topic, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(group);
        ArgumentNullException.ThrowIfNull(topic);
        try
        {
            await using var cmd = _dataSource.CreateCommand(LoadOffsetsSql);
            cmd.Parameters.Add(new NpgsqlParameter<string> { TypedValue = group });
            cmd.Parameters.Add(new NpgsqlParameter<string> { TypedValue = topic });
            var result = new Dictionary<int, OffsetMark>();
            await using var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
            while (await reader.ReadAsync(ct).ConfigureAwait(false))
            {
                var p = reader.GetInt32(0);
                result[p] = new OffsetMark(group, topic, p, reader.GetInt64(1), reader.GetInt64(2),
                    reader.IsDBNull(3) ? long.MinValue : reader.GetInt64(3));
            }
            return result;
        }
        catch (Exception ex) when (StorageErrors.Classify(ex) is StorageException se && !ReferenceEquals(se, ex))
        {
            throw se;
        }
    }

    public async Task<int> LoadDetectorStateAsync(string group, string topic, IReadOnlyCollection<int> partitions, DetectorStateHandler onRow, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(group);
        ArgumentNullException.ThrowIfNull(topic);
        ArgumentNullException.ThrowIfNull(partitions);
        ArgumentNullException.ThrowIfNull(onRow);
        if (partitions.Count == 0)
        {
            return 0;
        }
        try
        {
            await using var cmd = _dataSource.CreateCommand(LoadStatesSql);
            cmd.Parameters.Add(new NpgsqlParameter<string> { TypedValue = group });
            cmd.Parameters.Add(new NpgsqlParameter<string> { TypedValue = topic });
            cmd.Parameters.Add(new NpgsqlParameter<int[]> { TypedValue = [.. partitions] });
            var rows = 0;
            await using var reader = await cmd.ExecuteReaderAsync(System.Data.CommandBehavior.SequentialAccess, ct).ConfigureAwait(false);
            while (await reader.ReadAsync(ct).ConfigureAwait(false))
            {
                var partition = reader.GetInt32(0);
                var sensor = reader.GetString(1);
                var offset = reader.GetInt64(2);
                onRow(partition, sensor, offset, reader.GetFieldValue<byte[]>(3));
                rows++;
            }
            return rows;
        }
        catch (Exception ex) when (StorageErrors.Classify(ex) is StorageException se && !ReferenceEquals(se, ex))
        {
            throw se;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await DropConnectionAsync().ConfigureAwait(false);
        _encoder?.Dispose();
        if (_ownsDataSource)
        {
            await _dataSource.DisposeAsync().ConfigureAwait(false);
        }
        _gate.Dispose();
    }

    private async ValueTask<NpgsqlConnection> OpenAsync(CancellationToken ct)
    {
        if (_connection is { State: System.Data.ConnectionState.Open } open)
        {
            return open;
        }
        await DropConnectionAsync().ConfigureAwait(false);
        _connection = await _dataSource.OpenConnectionAsync(ct).ConfigureAwait(false);
        _stagesCreated = false;
        _stateStageCreated = false;
        return _connection;
    }

    /// <summary>
    /// After a failed transaction: the connection's state is unknown (broken, mid-COPY, terminated), so the next attempt
    /// starts on a fresh one. Returns the error to throw instead of <paramref name="ex"/> (classified as transient or
    /// not), or null when <paramref name="ex"/> is already classified and is rethrown as it is.
    /// </summary>
    private async ValueTask<Exception?> AbandonAsync(Exception ex)
    {
        await DropConnectionAsync().ConfigureAwait(false);
        var classified = StorageErrors.Classify(ex);
        return ReferenceEquals(classified, ex) ? null : classified;
    }

    private async ValueTask DropConnectionAsync()
    {
        var conn = _connection;
        _connection = null;
        _stagesCreated = false;
        _stateStageCreated = false;
        if (conn is not null)
        {
            try
            {
                await conn.DisposeAsync().ConfigureAwait(false);
            }
            catch (NpgsqlException)
            {
                // Closing a broken connection may fail again; it is discarded either way.
            }
            catch (IOException)
            {
                // Same: the socket is already gone.
            }
        }
    }

    private void DedupMarks(List<OffsetMark> offsets)
    {
        _marks.Clear();
        foreach (var m in offsets)
        {
            if (m.ReplayFrom > m.NextOffset)
            {
                throw new StorageException(
                    $"Offset mark for {m.Topic}/{m.Partition} has replay_from {m.ReplayFrom} above next_offset {m.NextOffset}: the engine computed it wrongly (the batch was not written).",
                    isTransient: false);
            }
            var key = (m.ConsumerGroup, m.Topic, m.Partition);
            // The highest mark of a partition in one batch covers the lower ones.
            if (!_marks.TryGetValue(key, out var prev) || m.NextOffset >= prev.NextOffset)
            {
                _marks[key] = m;
            }
        }
    }

    /// <summary>Locks the batch's offset rows (fencing concurrent writers of a partition) and remembers what is
    /// already stored, so readings below it are skipped — this makes retrying an ambiguous COMMIT safe.</summary>
    private bool IsStale() => OffsetFence.IsStale(_marks.Values, _storedNext);

    private async Task LockOffsetsAsync(NpgsqlConnection conn, NpgsqlTransaction tx, CancellationToken ct)
    {
        _storedNext.Clear();
        if (_marks.Count == 0)
        {
            return;
        }
        string? group = null, topic = null;
        var single = true;
        foreach (var key in _marks.Keys)
        {
            if (group is null)
            {
                (group, topic) = (key.Group, key.Topic);
            }
            else if (!string.Equals(group, key.Group, StringComparison.Ordinal) || !string.Equals(topic, key.Topic, StringComparison.Ordinal))
            {
                single = false;
            }
        }
        foreach (var key in _marks.Keys)
        {
            if (!single && (!string.Equals(group, key.Group, StringComparison.Ordinal) || !string.Equals(topic, key.Topic, StringComparison.Ordinal)))
            {
                continue;
            }
            _partitionScratch.Add(key.Partition);
        }
        var partitions = _partitionScratch.ToArray();
        _partitionScratch.Clear();
        await using var cmd = new NpgsqlCommand(LockOffsetsSql, conn, tx);
        cmd.Parameters.Add(new NpgsqlParameter<string> { TypedValue = group });
        cmd.Parameters.Add(new NpgsqlParameter<string> { TypedValue = topic });
        cmd.Parameters.Add(new NpgsqlParameter<int[]> { TypedValue = partitions });
        await using var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        while (await reader.ReadAsync(ct).ConfigureAwait(false))
        {
            _storedNext[reader.GetInt32(0)] = reader.GetInt64(1);
        }
        // Marks of other topics in the same batch are still upserted; only the first topic's readings are filtered.
    }

    private Task<int> CopyReadingsAsync(NpgsqlConnection conn, List<SensorReading> readings, CancellationToken ct) =>
        (_encoder ??= new ReadingsCopyEncoder()).CopyAsync(conn, readings, _storedNext, ct);

    private static async Task CopyAggregatesAsync(NpgsqlConnection conn, ChunkedList<WindowAggregate> aggregates, CancellationToken ct)
    {
        await using var importer = await conn.BeginBinaryImportAsync(CopyAggregatesSql, ct).ConfigureAwait(false);
        for (var i = 0; i < aggregates.Count; i++)
        {
            var a = aggregates[i];
            importer.StartRow();
            importer.Write(a.SensorId, NpgsqlDbType.Text);
            importer.Write(a.WindowKind, NpgsqlDbType.Text);
            importer.Write(ToUtc(a.WindowStart), NpgsqlDbType.TimestampTz);
            importer.Write(ToUtc(a.WindowEnd), NpgsqlDbType.TimestampTz);
            importer.Write(a.Count, NpgsqlDbType.Bigint);
            importer.Write(a.Sum, NpgsqlDbType.Double);
            importer.Write(a.Min, NpgsqlDbType.Double);
            importer.Write(a.Max, NpgsqlDbType.Double);
            importer.Write(a.Mean, NpgsqlDbType.Double);
            importer.Write(a.StdDev, NpgsqlDbType.Double);
            importer.Write(a.First, NpgsqlDbType.Double);
            importer.Write(a.Last, NpgsqlDbType.Double);
            importer.Write(a.P50, NpgsqlDbType.Double);
            importer.Write(a.P95, NpgsqlDbType.Double);
            importer.Write(a.P99, NpgsqlDbType.Double);
            importer.Write(a.Revision, NpgsqlDbType.Integer);
            importer.Write(a.IsFinal, NpgsqlDbType.Boolean);
            WriteText(importer, a.AssetId);
            WriteText(importer, a.SensorType);
            importer.Write(i, NpgsqlDbType.Integer);
        }
        await importer.CompleteAsync(ct).ConfigureAwait(false);
    }

    private static async Task CopyAnomaliesAsync(NpgsqlConnection conn, List<Anomaly> anomalies, CancellationToken ct)
    {
        await using var importer = await conn.BeginBinaryImportAsync(CopyAnomaliesSql, ct).ConfigureAwait(false);
        for (var i = 0; i < anomalies.Count; i++)
        {
            var a = anomalies[i];
            importer.StartRow();
            importer.Write(a.SensorId, NpgsqlDbType.Text);
            importer.Write(a.Detector, NpgsqlDbType.Text);
            importer.Write(ToUtc(a.Timestamp), NpgsqlDbType.TimestampTz);
            importer.Write(a.Value, NpgsqlDbType.Double);
            importer.Write(a.Score, NpgsqlDbType.Double);
            importer.Write(a.Threshold, NpgsqlDbType.Double);
            importer.Write((short)a.Severity, NpgsqlDbType.Smallint);
            importer.Write(ToUtc(a.WindowStart), NpgsqlDbType.TimestampTz);
            importer.Write(ToUtc(a.WindowEnd), NpgsqlDbType.TimestampTz);
            if (string.IsNullOrEmpty(a.Evidence))
            {
                importer.WriteNull();
            }
            else
            {
                importer.Write(a.Evidence, NpgsqlDbType.Jsonb);
            }
            WriteText(importer, a.AssetId);
            WriteText(importer, a.SensorType);
            importer.Write(i, NpgsqlDbType.Integer);
        }
        await importer.CompleteAsync(ct).ConfigureAwait(false);
    }

    private static async Task CopyAlertsAsync(NpgsqlConnection conn, List<AlertEvent> alerts, CancellationToken ct)
    {
        await using var importer = await conn.BeginBinaryImportAsync(CopyAlertsSql, ct).ConfigureAwait(false);
        for (var i = 0; i < alerts.Count; i++)
        {
            var a = alerts[i];
            importer.StartRow();
            importer.Write(a.AlertId, NpgsqlDbType.Text);
            importer.Write(a.Status, NpgsqlDbType.Text);
            importer.Write(a.Revision, NpgsqlDbType.Integer);
            importer.Write((short)a.Severity, NpgsqlDbType.Smallint);
            importer.Write(a.SensorId, NpgsqlDbType.Text);
            WriteText(importer, a.AssetId);
            WriteText(importer, a.SensorType);
            importer.Write(a.Detector, NpgsqlDbType.Text);
            importer.Write(a.Score, NpgsqlDbType.Double);
            importer.Write(a.Threshold, NpgsqlDbType.Double);
            importer.Write(a.Value, NpgsqlDbType.Double);
            importer.Write(a.WindowStart.UtcDateTime, NpgsqlDbType.TimestampTz);
            importer.Write(a.WindowEnd.UtcDateTime, NpgsqlDbType.TimestampTz);
            importer.Write(a.FirstSeen.UtcDateTime, NpgsqlDbType.TimestampTz);
            importer.Write(a.LastSeen.UtcDateTime, NpgsqlDbType.TimestampTz);
            importer.Write(a.PublishedAt.UtcDateTime, NpgsqlDbType.TimestampTz);
            importer.Write(JsonSerializer.Serialize(a, ContractsJsonContext.Default.AlertEvent), NpgsqlDbType.Jsonb);
            importer.Write(i, NpgsqlDbType.Integer);
        }
        await importer.CompleteAsync(ct).ConfigureAwait(false);
    }

    private async Task UpsertOffsetsAsync(NpgsqlConnection conn, NpgsqlTransaction tx, CancellationToken ct)
    {
        var n = _marks.Count;
        var groups = new string[n];
        var topics = new string[n];
        var partitions = new int[n];
        var next = new long[n];
        var replay = new long[n];
        var watermarks = new long?[n];
        var i = 0;
        foreach (var m in _marks.Values)
        {
            groups[i] = m.ConsumerGroup;
            topics[i] = m.Topic;
            partitions[i] = m.Partition;
            next[i] = m.NextOffset;
            replay[i] = m.ReplayFrom;
            watermarks[i] = m.Watermark == long.MinValue ? null : m.Watermark;
            i++;
        }
        await using var cmd = new NpgsqlCommand(UpsertOffsetsSql, conn, tx);
        cmd.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = groups });
        cmd.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = topics });
        cmd.Parameters.Add(new NpgsqlParameter<int[]> { TypedValue = partitions });
        cmd.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = next });
        cmd.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = replay });
        cmd.Parameters.Add(new NpgsqlParameter<long?[]> { TypedValue = watermarks });
        await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
    }

    private static async Task<int> DeleteRetractedAsync(NpgsqlConnection conn, NpgsqlTransaction tx, List<WindowAggregate> retractions, CancellationToken ct)
    {
        var n = retractions.Count;
        var sensors = new string[n];
        var kinds = new string[n];
        var starts = new DateTime[n];
        for (var i = 0; i < n; i++)
        {
            sensors[i] = retractions[i].SensorId;
            kinds[i] = retractions[i].WindowKind;
            starts[i] = DateTime.UnixEpoch.AddMilliseconds(retractions[i].WindowStart);
        }
        await using var cmd = new NpgsqlCommand(DeleteRetractedSql, conn, tx);
        cmd.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = sensors });
        cmd.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = kinds });
        cmd.Parameters.Add(new NpgsqlParameter<DateTime[]> { TypedValue = starts });
        return await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
    }

    private async Task<int> UpsertStatesAsync(NpgsqlConnection conn, NpgsqlTransaction tx, StorageBatch batch, CancellationToken ct)
    {
        if (!_stateStageCreated)
        {
            await ExecAsync(conn, tx, CreateStateStageSql, ct).ConfigureAwait(false);
            _stateStageCreated = true;
        }
        var rows = batch.DetectorStates;
        await using (var importer = await conn.BeginBinaryImportAsync(CopyStatesSql, ct).ConfigureAwait(false))
        {
            for (var i = 0; i < rows.Count; i++)
            {
                var row = rows[i];
                importer.StartRow();
                importer.Write(row.ConsumerGroup, NpgsqlDbType.Text);
                importer.Write(row.Topic, NpgsqlDbType.Text);
                importer.Write(row.Partition, NpgsqlDbType.Integer);
                importer.Write(row.SensorId, NpgsqlDbType.Text);
                importer.Write(row.StateOffset, NpgsqlDbType.Bigint);
                importer.Write(batch.StateBytes(row), NpgsqlDbType.Bytea);
                importer.Write(i, NpgsqlDbType.Integer);
            }
            await importer.CompleteAsync(ct).ConfigureAwait(false);
        }
        return await ExecAsync(conn, tx, UpsertStatesSql, ct).ConfigureAwait(false);
    }

    private async Task EnsureStagesAsync(NpgsqlConnection conn, NpgsqlTransaction tx, CancellationToken ct)
    {
        if (_stagesCreated)
        {
            return;
        }
        await ExecAsync(conn, tx, CreateStagesSql, ct).ConfigureAwait(false);
        _stagesCreated = true;
    }

    private static async Task<int> ExecAsync(NpgsqlConnection conn, NpgsqlTransaction tx, string sql, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(sql, conn, tx);
        return await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
    }

    private static void WriteText(NpgsqlBinaryImporter importer, string? value)
    {
        if (value is null)
        {
            importer.WriteNull();
        }
        else
        {
            importer.Write(value, NpgsqlDbType.Text);
        }
    }

    private static DateTime ToUtc(long unixMs) =>
        new(DateTime.UnixEpoch.Ticks + (unixMs * TimeSpan.TicksPerMillisecond), DateTimeKind.Utc);
}
