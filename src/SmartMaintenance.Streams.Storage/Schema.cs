using System.Globalization;

namespace SmartMaintenance.Streams.Storage;

/// <summary>How time-series tables are partitioned; fixed by the first migration and recorded with it.</summary>
public enum StorageMode
{
    /// <summary>PostgreSQL declarative range partitioning, maintained by <see cref="PartitionMaintenance"/>.</summary>
    NativePartitions,
    /// <summary>TimescaleDB hypertables, continuous aggregates, compression and retention policies.</summary>
    TimescaleDb,
}

/// <summary>One schema version: statements applied in one transaction, then recorded in schema_migrations.</summary>
public sealed record Migration(int Version, string Name, IReadOnlyList<string> Statements);

/// <summary>The ordered schema migrations; the SQL depends on the storage mode and the options.</summary>
/// <remarks>Append new versions at the end; never edit an applied one (databases record only the number).</remarks>
public static partial class Schema
{
    public const string ReadingsTable = "readings";
    public const string AggregatesTable = "window_aggregates";
    public const string AnomaliesTable = "anomalies";
    public const string HourlyRollup = "window_rollups_hourly";
    public const string DailyRollup = "window_rollups_daily";

    /// <summary>Time-partitioned tables and their partitioning column.</summary>
    public static IReadOnlyList<(string Table, string TimeColumn)> TimeSeriesTables { get; } =
    [
        (ReadingsTable, "ts"),
        (AggregatesTable, "window_start"),
        (AnomaliesTable, "ts"),
    ];

    public const string DetectorStateTable = "detector_state";

    public static int LatestVersion => 8;

    /// <summary>TimescaleDB's <c>by_range</c> dimension builder appeared in 2.13.</summary>
    public static readonly Version ByRangeSince = new(2, 13);

    /// <summary>TimescaleDB 2.18 renamed compression to the columnstore (<c>enable_columnstore</c>, <c>add_columnstore_policy</c>).</summary>
    public static readonly Version ColumnstoreSince = new(2, 18);

    /// <summary>The statements per version. <paramref name="timescaleVersion"/> (the server's TimescaleDB version) picks
    /// the API generation: before 2.13 the legacy <c>create_hypertable(table, column, chunk_time_interval)</c>, from 2.18
    /// the columnstore calls; null means 2.13-2.17's (by_range, compression API), which later versions also accept.</summary>
    public static IReadOnlyList<Migration> Plan(StorageOptions options, StorageMode mode, Version? timescaleVersion = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var ts = mode == StorageMode.TimescaleDb;
        return
        [
            new(1, "core tables", CoreTables(options, ts, timescaleVersion)),
            new(2, "query indexes", Indexes()),
            new(3, "hourly and daily rollups", ts ? TimescaleRollups(options) : NativeRollups()),
            new(4, "compression and retention", ts ? TimescalePolicies(options, timescaleVersion) : []),
            new(5, "stored watermark per partition",
            [
                // The operator watermark at commit: restored as a floor so windows final before a crash stay closed.
                "ALTER TABLE stream_offsets ADD COLUMN IF NOT EXISTS watermark bigint",
            ]),
            new(6, "detector state per sensor",
            [
                // Each sensor's detector state and open alerts, written with the offsets (docs/design.md, "Detector state").
                // The key leads with the partition: an assignment loads its partitions' rows by a prefix scan.
                $"""
                CREATE TABLE IF NOT EXISTS {DetectorStateTable} (
                    consumer_group text        NOT NULL,
                    topic          text        NOT NULL,
                    partition      int         NOT NULL,
                    sensor_id      text        NOT NULL,
                    state_offset   bigint      NOT NULL,
                    state          bytea       NOT NULL,
                    updated_at     timestamptz NOT NULL DEFAULT now(),
                    PRIMARY KEY (consumer_group, topic, partition, sensor_id)
                )
                """,
            ]),
            new(7, "operator api", OperatorApiTables()),
            new(8, "rul estimates", RulEstimates(options, ts, timescaleVersion)),
        ];
    }

    public const string RulEstimatesTable = "rul_estimates";

    /// <summary>One RUL estimate per asset cycle and model version (docs/prediction.md); the key makes a replayed write an
    /// idempotent upsert. A hypertable in timescaledb mode; a plain table otherwise (one row per asset cycle, not per reading).</summary>
    private static List<string> RulEstimates(StorageOptions o, bool ts, Version? timescaleVersion)
    {
        var list = new List<string>
        {
            $"""
            CREATE TABLE IF NOT EXISTS {RulEstimatesTable} (
                asset_id      text             NOT NULL,
                ts            timestamptz      NOT NULL,
                cycle         double precision NOT NULL,
                rul           double precision NOT NULL,
                rul_lower     double precision NOT NULL,
                rul_upper     double precision NOT NULL,
                model_version int              NOT NULL,
                model_id      text             NOT NULL,
                PRIMARY KEY (asset_id, ts, model_version)
            )
            """,
        };
        if (ts)
        {
            list.Add(CreateHypertable(RulEstimatesTable, "ts", o, timescaleVersion));
        }
        return list;
    }

    /// <summary>create_hypertable in the server's API generation: the legacy signature before 2.13, by_range from then on.</summary>
    private static string CreateHypertable(string table, string column, StorageOptions o, Version? timescaleVersion) =>
        timescaleVersion is not null && timescaleVersion < ByRangeSince
            ? $"SELECT create_hypertable({Literal(table)}, {Literal(column)}, chunk_time_interval => {Interval(o.ChunkInterval)}, if_not_exists => TRUE)"
            : $"SELECT create_hypertable({Literal(table)}, by_range({Literal(column)}, {Interval(o.ChunkInterval)}), if_not_exists => TRUE)";

    /// <summary>A PostgreSQL interval literal ("INTERVAL '2 days'") for <paramref name="span"/>.</summary>
    public static string Interval(TimeSpan span)
    {
        string text;
        if (span.Ticks % TimeSpan.TicksPerDay == 0)
        {
            text = string.Create(CultureInfo.InvariantCulture, $"{span.Ticks / TimeSpan.TicksPerDay} days");
        }
        else if (span.Ticks % TimeSpan.TicksPerHour == 0)
        {
            text = string.Create(CultureInfo.InvariantCulture, $"{span.Ticks / TimeSpan.TicksPerHour} hours");
        }
        else if (span.Ticks % TimeSpan.TicksPerSecond == 0)
        {
            text = string.Create(CultureInfo.InvariantCulture, $"{span.Ticks / TimeSpan.TicksPerSecond} seconds");
        }
        else
        {
            text = string.Create(CultureInfo.InvariantCulture, $"{span.TotalMilliseconds} milliseconds");
        }
        return $"INTERVAL '{text}'";
    }

    /// <summary>A SQL string literal.</summary>
    public static string Literal(string value) => "'" + value.Replace("'", "''", StringComparison.Ordinal) + "'";

    private static List<string> CoreTables(StorageOptions o, bool ts, Version? timescaleVersion)
    {
        // Natively partitioned tables get a DEFAULT partition so a row outside every range is kept, never rejected.
        string Partitioned(string column) => ts ? "" : $" PARTITION BY RANGE ({column})";
        var list = new List<string>();
        if (ts)
        {
            list.Add("CREATE EXTENSION IF NOT EXISTS timescaledb");
        }
        list.Add($"""
            CREATE TABLE readings (
                sensor_id       text             NOT NULL,
                ts              timestamptz      NOT NULL,
                value           double precision NOT NULL,
                asset_id        text,
                sensor_type     text,
                unit            text,
                quality         real,
                seq             bigint,
                attributes      jsonb,
                kafka_partition int,
                kafka_offset    bigint,
                kafka_index     int
            ){Partitioned("ts")}
            """);
        list.Add($"""
            CREATE TABLE window_aggregates (
                sensor_id    text             NOT NULL,
                window_kind  text             NOT NULL,
                window_start timestamptz      NOT NULL,
                window_end   timestamptz      NOT NULL,
                count        bigint           NOT NULL,
                sum          double precision,
                min          double precision,
                max          double precision,
                mean         double precision,
                stddev       double precision,
                first        double precision,
                last         double precision,
                p50          double precision,
                p95          double precision,
                p99          double precision,
                revision     int              NOT NULL DEFAULT 0,
                is_final     boolean          NOT NULL DEFAULT false,
                asset_id     text,
                sensor_type  text,
                updated_at   timestamptz      NOT NULL DEFAULT now(),
                CONSTRAINT window_aggregates_window_check CHECK (window_end > window_start),
                CONSTRAINT window_aggregates_count_check CHECK (count >= 0),
                CONSTRAINT window_aggregates_revision_check CHECK (revision >= 0),
                PRIMARY KEY (sensor_id, window_kind, window_start)
            ){Partitioned("window_start")}
            """);
        list.Add($"""
            CREATE TABLE anomalies (
                sensor_id    text             NOT NULL,
                detector     text             NOT NULL,
                ts           timestamptz      NOT NULL,
                value        double precision NOT NULL,
                score        double precision NOT NULL,
                threshold    double precision NOT NULL,
                severity     smallint         NOT NULL,
                window_start timestamptz,
                window_end   timestamptz,
                evidence     jsonb,
                asset_id     text,
                sensor_type  text,
                CONSTRAINT anomalies_severity_check CHECK (severity BETWEEN 1 AND 5),
                PRIMARY KEY (sensor_id, detector, ts)
            ){Partitioned("ts")}
            """);
        if (ts)
        {
            foreach (var (table, column) in TimeSeriesTables)
            {
                list.Add(CreateHypertable(table, column, o, timescaleVersion));
            }
        }
        else
        {
            foreach (var (table, _) in TimeSeriesTables)
            {
                list.Add($"CREATE TABLE {table}_default PARTITION OF {table} DEFAULT");
            }
        }
        list.Add("""
            CREATE TABLE alerts (
                alert_id     text PRIMARY KEY,
                status       text             NOT NULL,
                revision     int              NOT NULL,
                severity     smallint         NOT NULL,
                sensor_id    text             NOT NULL,
                asset_id     text,
                sensor_type  text,
                detector     text             NOT NULL,
                score        double precision,
                threshold    double precision,
                value        double precision,
                window_start timestamptz,
                window_end   timestamptz,
                first_seen   timestamptz,
                last_seen    timestamptz,
                published_at timestamptz,
                payload      jsonb,
                updated_at   timestamptz      NOT NULL DEFAULT now()
            )
            """);
        list.Add("""
            CREATE TABLE alert_deliveries (
                event_key    text        NOT NULL,
                channel      text        NOT NULL,
                outcome      text        NOT NULL,
                delivered_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (event_key, channel)
            )
            """);
        list.Add("""
            CREATE TABLE stream_offsets (
                consumer_group text        NOT NULL,
                topic          text        NOT NULL,
                partition      int         NOT NULL,
                next_offset    bigint      NOT NULL,
                replay_from    bigint      NOT NULL,
                updated_at     timestamptz NOT NULL DEFAULT now(),
                CONSTRAINT stream_offsets_replay_check CHECK (replay_from <= next_offset),
                PRIMARY KEY (consumer_group, topic, partition)
            )
            """);
        list.Add("""
            CREATE TABLE dlq_replays (
                topic        text        NOT NULL,
                partition    int         NOT NULL,
                kafka_offset bigint      NOT NULL,
                kafka_index  int         NOT NULL,
                replayed_at  timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (topic, partition, kafka_offset, kafka_index)
            )
            """);
        list.Add("""
            CREATE TABLE model_registry (
                model_id      text PRIMARY KEY,
                name          text        NOT NULL,
                version       int         NOT NULL,
                kind          text        NOT NULL,
                sensor_type   text,
                features      jsonb,
                metrics       jsonb,
                training_from timestamptz,
                training_to   timestamptz,
                data_hash     text,
                onnx_path     text,
                created_at    timestamptz NOT NULL DEFAULT now(),
                UNIQUE (name, version)
            )
            """);
        return list;
    }

    private static List<string> Indexes() =>
    [
        // Latest reading per sensor and a sensor's recent history: backward scan per sensor.
        "CREATE INDEX readings_sensor_ts_idx ON readings (sensor_id, ts DESC)",
        // A sensor's last 24 h of aggregates is served by the primary key (sensor_id, window_kind, window_start).
        // Recent anomalies of an asset.
        "CREATE INDEX anomalies_asset_ts_idx ON anomalies (asset_id, ts DESC)",
        // Open alerts of an asset: partial, so resolved history does not bloat it.
        "CREATE INDEX alerts_open_asset_idx ON alerts (asset_id, last_seen DESC) WHERE status <> 'resolved'",
        "CREATE INDEX alert_deliveries_delivered_idx ON alert_deliveries (delivered_at)",
    ];

    // Combined standard deviation from per-window (count, mean, sample stddev) via the sum of squares.
    internal const string SumSquares = "sum((count - 1) * coalesce(stddev, 0) * coalesce(stddev, 0) + count * mean * mean)";
    private const string RollupColumns = """
            sensor_id    text             NOT NULL,
            bucket       timestamptz      NOT NULL,
            count        bigint           NOT NULL,
            sum          double precision,
            sum_sq       double precision,
            min          double precision,
            max          double precision,
            mean         double precision,
            stddev       double precision,
            first        double precision,
            last         double precision,
            asset_id     text,
            sensor_type  text,
            updated_at   timestamptz      NOT NULL DEFAULT now(),
            PRIMARY KEY (sensor_id, bucket)
        """;

    private static List<string> NativeRollups() =>
    [
        $"CREATE TABLE {HourlyRollup} (\n{RollupColumns}\n)",
        $"CREATE TABLE {DailyRollup} (\n{RollupColumns}\n)",
        $"CREATE INDEX {HourlyRollup}_bucket_idx ON {HourlyRollup} (bucket)",
        $"CREATE INDEX {DailyRollup}_bucket_idx ON {DailyRollup} (bucket)",
    ];

    private static List<string> TimescaleRollups(StorageOptions o) =>
    [
        ContinuousRollup(HourlyRollup, AggregatesTable, "1 hour", "window_start", SumSquares,
            $"WHERE window_kind = {Literal(o.RollupSourceWindowKind)}\n"),
        // Hierarchical: the daily rollup reads the hourly one, not the 1-minute rows.
        ContinuousRollup(DailyRollup, HourlyRollup, "1 day", "bucket", "sum(sum_sq)", ""),
        $"SELECT add_continuous_aggregate_policy({Literal(HourlyRollup)}, start_offset => INTERVAL '1 day', end_offset => INTERVAL '1 hour', schedule_interval => INTERVAL '15 minutes', if_not_exists => TRUE)",
        $"SELECT add_continuous_aggregate_policy({Literal(DailyRollup)}, start_offset => INTERVAL '7 days', end_offset => INTERVAL '1 day', schedule_interval => INTERVAL '1 hour', if_not_exists => TRUE)",
    ];

    /// <summary>A continuous aggregate with the columns of the native rollup tables.</summary>
    /// <remarks>Real-time aggregation (materialized_only = false) so the newest, not yet refreshed bucket is visible;
    /// WITH NO DATA so it can be created inside the migration's transaction (the policy fills it).</remarks>
    private static string ContinuousRollup(string view, string source, string width, string time, string sumSquares, string filter)
    {
        var bucket = $"time_bucket(INTERVAL '{width}', {time})";
        return $"""
            CREATE MATERIALIZED VIEW {view}
            WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
            SELECT sensor_id,
                   {bucket} AS bucket,
                   sum(count)::bigint AS count,
                   sum(sum) AS sum,
                   {sumSquares} AS sum_sq,
                   min(min) AS min,
                   max(max) AS max,
                   sum(sum) / nullif(sum(count), 0) AS mean,
                   {PooledStdDev(sumSquares, "sum(sum)", "sum(count)")} AS stddev,
                   first(first, {time}) AS first,
                   last(last, {time}) AS last,
                   last(asset_id, {time}) AS asset_id,
                   last(sensor_type, {time}) AS sensor_type
            FROM {source}
            {filter}GROUP BY sensor_id, {bucket}
            WITH NO DATA
            """;
    }

    /// <summary>Sample standard deviation of the union of groups, from their sum of squares, sum and count.</summary>
    internal static string PooledStdDev(string sumSquares, string sum, string count) =>
        $"CASE WHEN {count} > 1 THEN sqrt(greatest({sumSquares} - {sum} * {sum} / {count}, 0) / ({count} - 1)) END";

    private static List<string> TimescalePolicies(StorageOptions o, Version? timescaleVersion)
    {
        // Segment by sensor so a sensor's time range decompresses alone, newest first.
        var list = timescaleVersion is not null && timescaleVersion >= ColumnstoreSince
            ? new List<string>
            {
                "ALTER TABLE readings SET (timescaledb.enable_columnstore = true, timescaledb.segmentby = 'sensor_id', timescaledb.orderby = 'ts DESC')",
                "ALTER TABLE window_aggregates SET (timescaledb.enable_columnstore = true, timescaledb.segmentby = 'sensor_id, window_kind', timescaledb.orderby = 'window_start DESC')",
                $"CALL add_columnstore_policy('readings', after => {Interval(o.CompressAfter)}, if_not_exists => TRUE)",
                $"CALL add_columnstore_policy('window_aggregates', after => {Interval(o.CompressAfter)}, if_not_exists => TRUE)",
            }
            : new List<string>
            {
                "ALTER TABLE readings SET (timescaledb.compress, timescaledb.compress_segmentby = 'sensor_id', timescaledb.compress_orderby = 'ts DESC')",
                "ALTER TABLE window_aggregates SET (timescaledb.compress, timescaledb.compress_segmentby = 'sensor_id, window_kind', timescaledb.compress_orderby = 'window_start DESC')",
                $"SELECT add_compression_policy('readings', compress_after => {Interval(o.CompressAfter)}, if_not_exists => TRUE)",
                $"SELECT add_compression_policy('window_aggregates', compress_after => {Interval(o.CompressAfter)}, if_not_exists => TRUE)",
            };
        foreach (var (table, _) in TimeSeriesTables)
        {
            list.Add($"SELECT add_retention_policy({Literal(table)}, drop_after => {Interval(o.Retention)}, if_not_exists => TRUE)");
        }
        return list;
    }
}
