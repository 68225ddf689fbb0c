using System.CommandLine;
using System.Globalization;
using Confluent.Kafka;
using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Storage;

namespace SmartMaintenance.Streams.Cli.Commands;

/// <summary><c>smstream db up|down|migrate|status</c>: the throwaway cluster and the schema.</summary>
internal static partial class DbCommand
{
    private const string DatabaseEnv = "SMSTREAM_DATABASE";

    public static Command Create()
    {
        var cmd = new Command("db", "PostgreSQL/TimescaleDB: throwaway cluster, schema migrations, storage status.");
        cmd.Subcommands.Add(Up());
        cmd.Subcommands.Add(Down());
        cmd.Subcommands.Add(Migrate());
        cmd.Subcommands.Add(Status());
        cmd.Subcommands.Add(Offsets());
        cmd.Subcommands.Add(Bench());
        return cmd;
    }

    private static Option<string> DataDirOption() => new("--data-dir")
    {
        Description = "Data directory of the throwaway cluster.",
        DefaultValueFactory = _ => Path.Combine(".smstream", "pg"),
    };

    private static Option<string?> DatabaseOption() => new("--database")
    {
        Description = $"Npgsql connection string (default: ${DatabaseEnv}, then the local throwaway cluster).",
    };

    private static Command Up()
    {
        var dataDir = DataDirOption();
        var port = new Option<int>("--port") { Description = "Port on 127.0.0.1 (0 picks a free one).", DefaultValueFactory = _ => 55432 };
        var cmd = new Command("up", "Start a throwaway PostgreSQL cluster in the background (initdb on first use) and print its connection string.");
        cmd.Options.Add(dataDir);
        cmd.Options.Add(port);
        cmd.SetAction(async (parse, ct) =>
        {
            try
            {
                var cluster = new PostgresCluster(new PostgresClusterOptions { DataDirectory = parse.GetValue(dataDir)!, Port = parse.GetValue(port) });
                if (await cluster.IsRunningAsync(ct).ConfigureAwait(false))
                {
                    await Console.Error.WriteLineAsync($"smstream: a server is already running on {cluster.DataDirectory}").ConfigureAwait(false);
                }
                else
                {
                    await cluster.StartAsync(ct).ConfigureAwait(false);
                }
                await Console.Out.WriteLineAsync($"connection: {cluster.ConnectionString}").ConfigureAwait(false);
                return 0;
            }
            catch (PostgresNotInstalledException ex)
            {
                await Console.Error.WriteLineAsync($"smstream: PostgreSQL server binaries not found; install them with: {ex.Message}").ConfigureAwait(false);
                return 1;
            }
            catch (InvalidOperationException ex)
            {
                await Console.Error.WriteLineAsync($"smstream: {ex.Message}").ConfigureAwait(false);
                return 1;
            }
        });
        return cmd;
    }

    private static Command Down()
    {
        var dataDir = DataDirOption();
        var cmd = new Command("down", "Stop the throwaway cluster and delete its data directory.");
        cmd.Options.Add(dataDir);
        cmd.SetAction(async (parse, ct) =>
        {
            var dir = parse.GetValue(dataDir)!;
            if (!Directory.Exists(dir))
            {
                await Console.Out.WriteLineAsync($"nothing at {dir}").ConfigureAwait(false);
                return 0;
            }
            var cluster = new PostgresCluster(new PostgresClusterOptions { DataDirectory = dir });
            await cluster.DestroyAsync(ct).ConfigureAwait(false);
            await Console.Out.WriteLineAsync($"stopped and deleted {cluster.DataDirectory}").ConfigureAwait(false);
            return 0;
        });
        return cmd;
    }

    private static Command Migrate()
    {
        var database = DatabaseOption();
        var noTimescale = new Option<bool>("--no-timescaledb") { Description = "Use native range partitioning even when TimescaleDB is available." };
        var cmd = new Command("migrate", "Apply the schema migrations (idempotent; safe while engines run) and create partitions ahead.");
        cmd.Options.Add(database);
        cmd.Options.Add(noTimescale);
        cmd.SetAction(async (parse, ct) =>
        {
            var options = new StorageOptions { ConnectionString = ConnectionString(parse.GetValue(database)), UseTimescaleDb = !parse.GetValue(noTimescale) };
            options.Validate();
            try
            {
                var result = await SchemaMigrator.MigrateAsync(options.ConnectionString, options, ct).ConfigureAwait(false);
                if (result.Warning is { } warning)
                {
                    await Console.Error.WriteLineAsync($"smstream: warning: {warning}").ConfigureAwait(false);
                }
                foreach (var m in result.Applied)
                {
                    await Console.Out.WriteLineAsync($"applied {m.Version}: {m.Name}").ConfigureAwait(false);
                }
                await Console.Out.WriteLineAsync(
                    $"schema version {result.FromVersion} -> {result.ToVersion} ({SchemaMigrator.ModeName(result.Mode)})").ConfigureAwait(false);
                return 0;
            }
            catch (StorageException ex)
            {
                await Console.Error.WriteLineAsync($"smstream: {ex.Message}").ConfigureAwait(false);
                return 1;
            }
        });
        return cmd;
    }

    private static Command Status()
    {
        var database = DatabaseOption();
        var bootstrap = new Option<string?>("--bootstrap") { Description = "Kafka bootstrap servers: also show each stored offset's lag behind the topic's high watermark." };
        var cmd = new Command("status", "Schema version, TimescaleDB or not, partitions/chunks, table sizes, stored offsets and their lag.");
        cmd.Options.Add(database);
        cmd.Options.Add(bootstrap);
        cmd.SetAction(async (parse, ct) =>
        {
            StorageStatus status;
            try
            {
                status = await StorageStatus.ReadAsync(ConnectionString(parse.GetValue(database)), ct).ConfigureAwait(false);
            }
            catch (StorageException ex)
            {
                await Console.Error.WriteLineAsync($"smstream: {ex.Message}").ConfigureAwait(false);
                return 1;
            }
            var o = Console.Out;
            await o.WriteLineAsync($"server:          PostgreSQL {status.ServerVersion}").ConfigureAwait(false);
            await o.WriteLineAsync($"schema version:  {status.SchemaVersion} of {Schema.LatestVersion}{(status.SchemaVersion < Schema.LatestVersion ? " (run `smstream db migrate`)" : "")}").ConfigureAwait(false);
            await o.WriteLineAsync($"timescaledb:     {(status.TimescaleDbInstalled ? "installed" : "not installed")}; storage mode: {(status.Mode is { } m ? SchemaMigrator.ModeName(m) : "none")}").ConfigureAwait(false);
            if (status.Tables.Count > 0)
            {
                var unit = status.Mode == StorageMode.TimescaleDb ? "chunks" : "partitions";
                await o.WriteLineAsync().ConfigureAwait(false);
                await o.WriteLineAsync(Inv($"{"table",-20} {unit,10} {"size",12} {"rows (est.)",14}")).ConfigureAwait(false);
                foreach (var t in status.Tables)
                {
                    var compressed = t.CompressedChunks > 0
                        ? Inv($"  compressed {t.CompressedChunks}: {Bytes(t.BytesBeforeCompression)} -> {Bytes(t.BytesAfterCompression)} ({(double)t.BytesBeforeCompression / Math.Max(1, t.BytesAfterCompression):0.0}x)")
                        : "";
                    await o.WriteLineAsync(Inv($"{t.Table,-20} {t.Partitions,10} {Bytes(t.TotalBytes),12} {t.EstimatedRows,14:N0}{compressed}")).ConfigureAwait(false);
                }
            }
            if (status.Jobs.Count > 0)
            {
                await o.WriteLineAsync().ConfigureAwait(false);
                await o.WriteLineAsync(Inv($"{"job",5} {"policy",-32} {"relation",-24} {"every",10} {"runs",6}  next start")).ConfigureAwait(false);
                foreach (var j in status.Jobs)
                {
                    await o.WriteLineAsync(Inv($"{j.JobId,5} {j.Procedure,-32} {j.Relation,-24} {j.ScheduleInterval,10} {j.TotalRuns,6}  {(j.NextStart is { } n ? n.ToString("u", CultureInfo.InvariantCulture) : "-")}")).ConfigureAwait(false);
                }
            }
            await o.WriteLineAsync().ConfigureAwait(false);
            if (status.Offsets.Count == 0)
            {
                await o.WriteLineAsync("stored offsets:  none").ConfigureAwait(false);
                return 0;
            }
            var lags = LagByPartition(parse.GetValue(bootstrap), status.Offsets);
            await o.WriteLineAsync(Inv($"{"group",-20} {"topic",-20} {"partition",9} {"next_offset",12} {"replay_from",12} {"lag",10}  updated")).ConfigureAwait(false);
            foreach (var s in status.Offsets)
            {
                var lag = lags.TryGetValue((s.Topic, s.Partition), out var high) ? (high - s.NextOffset).ToString(CultureInfo.InvariantCulture) : "-";
                await o.WriteLineAsync(Inv($"{s.ConsumerGroup,-20} {s.Topic,-20} {s.Partition,9} {s.NextOffset,12} {s.ReplayFrom,12} {lag,10}  {s.UpdatedAt:u}")).ConfigureAwait(false);
            }
            return 0;
        });
        return cmd;
    }

    private static Command Bench()
    {
        var database = new Option<string?>("--database") { Description = "Server to measure (a scratch database is created on it and dropped afterwards); default: a throwaway cluster in a temp directory." };
        var rows = new Option<int>("--rows") { Description = "Readings written per run.", DefaultValueFactory = _ => 300_000 };
        var batchRows = new Option<string>("--batch-rows") { Description = "Comma-separated batch sizes.", DefaultValueFactory = _ => "1000,5000,20000,50000" };
        var writers = new Option<string>("--writers") { Description = "Comma-separated writer connection counts.", DefaultValueFactory = _ => "1,2" };
        var rounds = new Option<int>("--rounds") { Description = "Rounds; each round runs every configuration, bare and sink (medians are reported).", DefaultValueFactory = _ => 3 };
        var aggregates = new Option<int>("--aggregates") { Description = "Window aggregates for the upsert measurement (0 skips it).", DefaultValueFactory = _ => 100_000 };
        var cmd = new Command("bench", "Measure write throughput: bare binary COPY vs the sink (readings + offsets), by batch size and writers; aggregates upsert.");
        foreach (var o in new Option[] { database, rows, batchRows, writers, rounds, aggregates })
        {
            cmd.Options.Add(o);
        }
        cmd.SetAction(async (parse, ct) =>
        {
            PostgresCluster? cluster = null;
            var server = parse.GetValue(database);
            string? benchDatabase = null;
            try
            {
                if (string.IsNullOrWhiteSpace(server))
                {
                    cluster = new PostgresCluster(new PostgresClusterOptions { DataDirectory = Path.Combine(Path.GetTempPath(), $"smstream-bench-{Guid.NewGuid():N}") });
                    server = await cluster.StartAsync(ct).ConfigureAwait(false);
                }
                // A scratch database on that server: the measurement truncates its tables between runs.
                benchDatabase = $"smstream_bench_{Guid.NewGuid():N}";
                await AdminAsync(server, $"CREATE DATABASE {benchDatabase}", ct).ConfigureAwait(false);
                var cs = new Npgsql.NpgsqlConnectionStringBuilder(server) { Database = benchDatabase }.ConnectionString;
                var options = new StorageOptions { ConnectionString = cs, UseTimescaleDb = false };
                await SchemaMigrator.MigrateAsync(cs, options, ct).ConfigureAwait(false);
                await using var dataSource = PostgresSink.CreateDataSource(options);
                var readings = StorageBench.Readings(parse.GetValue(rows), DateTimeOffset.UtcNow.AddHours(-1));
                var o = Console.Out;
                await o.WriteLineAsync(Inv($"{readings.Length:N0} readings per run, {parse.GetValue(rounds)} interleaved rounds, medians")).ConfigureAwait(false);
                await o.WriteLineAsync("| batch rows | writers | bare COPY rows/s | sink rows/s | sink / bare |").ConfigureAwait(false);
                await o.WriteLineAsync("|---:|---:|---:|---:|---:|").ConfigureAwait(false);
                var configurations = new List<(int, int)>();
                foreach (var b in Ints(parse.GetValue(batchRows)!))
                {
                    foreach (var w in Ints(parse.GetValue(writers)!))
                    {
                        configurations.Add((b, w));
                    }
                }
                foreach (var r in await StorageBench.CompareAsync(dataSource, options, readings, configurations, parse.GetValue(rounds), ct).ConfigureAwait(false))
                {
                    await o.WriteLineAsync(Inv($"| {r.BatchRows:N0} | {r.Writers} | {r.BareRowsPerSecond:N0} | {r.SinkRowsPerSecond:N0} | {r.MedianRatio:F2} |")).ConfigureAwait(false);
                }
                if (parse.GetValue(aggregates) > 0)
                {
                    foreach (var b in new[] { 5_000, 20_000 })
                    {
                        var (insert, update) = await StorageBench.AggregatesAsync(dataSource, options, parse.GetValue(aggregates), b, DateTimeOffset.UtcNow.AddHours(-6), ct).ConfigureAwait(false);
                        await o.WriteLineAsync(Inv($"aggregates upsert, batch {b:N0}: insert {insert:N0} rows/s, update (newer revision) {update:N0} rows/s")).ConfigureAwait(false);
                    }
                }
                return 0;
            }
            catch (StorageException ex)
            {
                await Console.Error.WriteLineAsync($"smstream: {ex.Message}").ConfigureAwait(false);
                return 1;
            }
            finally
            {
                Npgsql.NpgsqlConnection.ClearAllPools();
                if (cluster is not null)
                {
                    await cluster.DestroyAsync(CancellationToken.None).ConfigureAwait(false);
                }
                else if (benchDatabase is not null)
                {
                    await AdminAsync(server!, $"DROP DATABASE IF EXISTS {benchDatabase} WITH (FORCE)", CancellationToken.None).ConfigureAwait(false);
                }
            }
        });
        return cmd;
    }

    private static async Task AdminAsync(string connectionString, string sql, CancellationToken ct)
    {
        await using var conn = new Npgsql.NpgsqlConnection(connectionString);
        await conn.OpenAsync(ct).ConfigureAwait(false);
        await using var cmd = new Npgsql.NpgsqlCommand(sql, conn);
        await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
    }

    private static IEnumerable<int> Ints(string csv) =>
        csv.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(x => int.Parse(x, CultureInfo.InvariantCulture));

    /// <summary>High watermark per (topic, partition) of the stored offsets; empty without a bootstrap server.</summary>
    private static Dictionary<(string, int), long> LagByPartition(string? bootstrap, IReadOnlyList<StoredOffset> offsets)
    {
        var result = new Dictionary<(string, int), long>();
        if (string.IsNullOrWhiteSpace(bootstrap))
        {
            return result;
        }
        var config = new ConsumerConfig { BootstrapServers = bootstrap, GroupId = "smstream-db-status", EnableAutoCommit = false };
        using var consumer = new ConsumerBuilder<Ignore, Ignore>(config).Build();
        foreach (var s in offsets)
        {
            if (result.ContainsKey((s.Topic, s.Partition)))
            {
                continue;
            }
            try
            {
                var w = consumer.QueryWatermarkOffsets(new TopicPartition(s.Topic, s.Partition), TimeSpan.FromSeconds(5));
                result[(s.Topic, s.Partition)] = w.High.Value;
            }
            catch (KafkaException ex)
            {
                Console.Error.WriteLine($"smstream: no watermark for {s.Topic}/{s.Partition}: {ex.Error.Reason}");
            }
        }
        return result;
    }

    private static string ConnectionString(string? option)
    {
        if (!string.IsNullOrWhiteSpace(option))
        {
            return option;
        }
        var env = Environment.GetEnvironmentVariable(DatabaseEnv);
        return string.IsNullOrWhiteSpace(env) ? new StorageOptions().ConnectionString : env;
    }

    private static string Bytes(long b) => b switch
    {
        >= 1L << 30 => Inv($"{b / (double)(1L << 30):F1} GiB"),
        >= 1L << 20 => Inv($"{b / (double)(1L << 20):F1} MiB"),
        >= 1L << 10 => Inv($"{b / 1024.0:F1} KiB"),
        _ => Inv($"{b} B"),
    };

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
