using SmartMaintenance.Streams.Contracts;

namespace SmartMaintenance.Streams.Storage;

/// <summary>Settings of the PostgreSQL/TimescaleDB sink, schema and maintenance.</summary>
/// <remarks>Batch defaults come from the measurements in docs/storage.md.</remarks>
[SettingsSection("Storage")]
public sealed class StorageOptions
{
    [Setting("Npgsql connection string of the database (also from the environment variable SMSTREAM_DATABASE).", Secret = true)]
    public string ConnectionString { get; set; } = "Host=127.0.0.1;Port=55432;Username=postgres;Database=postgres";

    [Setting("Timeout of one database command (COPY, upsert, migration step).", Unit = "s", Min = 1, Max = 3600)]
    public int CommandTimeout { get; set; } = 120;

    [Setting("Number of writer connections; Kafka partitions are spread over them so a partition's offsets stay ordered. Each connection's backend inserts into the same readings partition and index as the others: 1 costs PostgreSQL least per reading (docs/storage.md); 2 or more pay off only when the database has idle cores of its own and one backend's COPY is what limits the engine.", Min = 1, Max = 64)]
    public int WriterConnections { get; set; } = 1;

    [Setting("A write batch is flushed when it holds this many rows (readings + aggregates + anomalies).", Unit = "rows", Min = 1, Max = 1_000_000)]
    public int BatchMaxRows { get; set; } = 20_000;

    [Setting("A write batch is flushed when its estimated size reaches this many bytes.", Unit = "bytes", Min = 1024, Max = 1L << 31)]
    public long BatchMaxBytes { get; set; } = 8L << 20;

    [Setting("A write batch is flushed at the latest this long after its first row arrived.", Unit = "ms", Min = 1, Max = 600_000)]
    public TimeSpan BatchMaxDelay { get; set; } = TimeSpan.FromMilliseconds(500);

    [Setting("Time partitions (native PostgreSQL) created ahead of the current one.", Unit = "partitions", Min = 1, Max = 366)]
    public int PartitionsAhead { get; set; } = 3;

    [Setting("Width of one time partition or TimescaleDB chunk.", Unit = "ms", Min = 3_600_000, Max = 31_622_400_000)]
    public TimeSpan ChunkInterval { get; set; } = TimeSpan.FromDays(1);

    [Setting("Readings, aggregates and anomalies older than this are dropped (whole partitions/chunks).", Unit = "ms", Min = 3_600_000)]
    public TimeSpan Retention { get; set; } = TimeSpan.FromDays(30);

    [Setting("TimescaleDB only: chunks older than this are converted to the columnstore (compressed).", Unit = "ms", Min = 3_600_000)]
    public TimeSpan CompressAfter { get; set; } = TimeSpan.FromDays(2);

    [Setting("How often StorageMaintenance creates partitions ahead, drops expired ones and refreshes the rollups.", Unit = "ms", Min = 1_000, Max = 86_400_000)]
    public TimeSpan MaintenanceInterval { get; set; } = TimeSpan.FromMinutes(5);

    [Setting("Rollups are recomputed for buckets this far back on every maintenance run (covers late corrections).", Unit = "ms", Min = 60_000, Max = 604_800_000)]
    public TimeSpan RollupLookback { get; set; } = TimeSpan.FromHours(2);

    [Setting("Window kind of the 1-minute aggregates that the hourly and daily rollups are built from.")]
    public string RollupSourceWindowKind { get; set; } = "tumbling:1m";

    [Setting("Use TimescaleDB when the extension is available; false forces native range partitioning.")]
    public bool UseTimescaleDb { get; set; } = true;

    [Setting("First delay between retries of a transient database error (doubles per attempt, with jitter).", Unit = "ms", Min = 1, Max = 60_000)]
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromMilliseconds(200);

    [Setting("Longest delay between retries of a transient database error.", Unit = "ms", Min = 1, Max = 600_000)]
    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromSeconds(10);

    [Setting("Retries of one batch on transient errors before giving up; 0 = retry until cancelled.", Min = 0, Max = int.MaxValue)]
    public int RetryMaxAttempts { get; set; }

    [Setting("application_name of the writer connections (visible in pg_stat_activity).")]
    public string ApplicationName { get; set; } = "smstream-writer";

    /// <summary>Checks the ranges and the relations between settings; throws naming the setting.</summary>
    public void Validate(string sectionPath = "Storage")
    {
        SettingsValidator.Validate(this, sectionPath);
        if (string.IsNullOrWhiteSpace(ConnectionString))
        {
            throw new ConfigurationException($"{sectionPath}:ConnectionString", "is empty (set it or SMSTREAM_DATABASE)");
        }
        if (ChunkInterval.Ticks % TimeSpan.TicksPerHour != 0)
        {
            throw new ConfigurationException($"{sectionPath}:ChunkInterval", "must be a whole number of hours");
        }
        if (Retention < ChunkInterval)
        {
            throw new ConfigurationException($"{sectionPath}:Retention", "must be at least one ChunkInterval");
        }
        if (RetryMaxDelay < RetryBaseDelay)
        {
            throw new ConfigurationException($"{sectionPath}:RetryMaxDelay", "must not be below RetryBaseDelay");
        }
        if (string.IsNullOrWhiteSpace(RollupSourceWindowKind))
        {
            throw new ConfigurationException($"{sectionPath}:RollupSourceWindowKind", "is empty");
        }
    }
}
