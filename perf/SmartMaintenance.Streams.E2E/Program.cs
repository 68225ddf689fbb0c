using System.Diagnostics;
using System.Globalization;
using System.Reactive.Subjects;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using SmartMaintenance.Streams.Alerting;
using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Engine;
using SmartMaintenance.Streams.Engine.Stages;
using SmartMaintenance.Streams.Ingest;
using SmartMaintenance.Streams.Kafka;
using SmartMaintenance.Streams.Kafka.Simulation;
using SmartMaintenance.Streams.Scoring;
using SmartMaintenance.Streams.Storage;
using SmartMaintenance.Streams.Windowing;

namespace SmartMaintenance.Streams.E2E;

/// <summary>
/// perf/e2e's stages. Each prints one line `RESULT stage=… readings=… seconds=… readings_per_s=…` for the script.
///   produce --bootstrap B --topic T --readings N --batch K [--sensors S]   pre-generates the data, checks nothing was dropped
///   pg      --bootstrap B --topic T --readings N                           (b) bare COPY and (c) the engine, same rows, same table
///   agg     --bootstrap B --topic T --out O --readings N                   (e) aggregation-only job on our Rx window operator
///   bounds  --bootstrap B --topic T --readings N                           upper bounds of (e): consume only; decode only and decode + window from memory
///   persist --bootstrap B --topic T --readings N [--rounds R]              the engine with detector-state persistence off / on / every batch
///   state-upsert [--rows N] [--bytes S] [--rounds R]                       detector_state upsert: the sink's COPY + staging table vs unnest of arrays
///   split   --bootstrap B --topic T --readings N [--variants V] [--rounds R] the engine's batches (two writers) recorded, then written again in variants (SinkSplit)
///   ab      --bootstrap B --topic T --readings N [--variants V] [--rounds R] (b) and engine variants (w1, w2, kafka:p=v) alternating on one cluster
///   settle  [--rows N] [--sensors S] [--rounds R]                          CPU time of the writer's per-batch bookkeeping (EngineProbe.OnCommitted)
///   rawpoll --bootstrap B --topic T --messages N [--rounds R]              Consume vs rd_kafka_consumer_poll on the handle: CPU per message (RawPoll)
/// pg and agg take [--warmup-topic W --warmup-readings M]: the same stages run untimed on W first, in the same process,
/// so the timed run measures JIT-compiled (tier-1) code, as a long-running engine runs, not the tiered JIT catching up.
/// </summary>
internal static class Program
{
    private static async Task<int> Main(string[] args)
    {
        var a = Args.Parse(args);
        return args.Length == 0 ? Usage() : args[0] switch
        {
            "produce" => Produce(a),
            "pg" => await PgAsync(a).ConfigureAwait(false),
            "agg" => Aggregate(a),
            "bounds" => Bounds(a),
            "persist" => await PersistAsync(a).ConfigureAwait(false),
            "state-upsert" => await StateUpsertAsync(a).ConfigureAwait(false),
            "split" => await SplitAsync(a).ConfigureAwait(false),
            "ab" => await AbAsync(a).ConfigureAwait(false),
            "settle" => SettleCost(a),
            "rawpoll" => RawPoll.Run(a.Str("bootstrap"), a.Str("topic"), a.Int("messages", 1_000_000), a.Int("rounds", 2)),
            _ => Usage(),
        };
    }

    private static int Usage()
    {
        Console.Error.WriteLine("usage: produce|pg|agg|bounds|persist|split|ab|rawpoll --bootstrap B --topic T --readings N [--batch K] [--sensors S] [--out O] [--warmup-topic W --warmup-readings M]");
        return 2;
    }

    private static int Produce(Args a)
    {
        var sim = new SimulatorOptions
        {
            Sensors = a.Int("sensors", 1000),
            Rate = 0,
            MaxReadings = a.Int("readings", 1_000_000),
            Batch = a.Int("batch", 1),
            AnomalyRate = 0.0005,
            BadRate = 0,
            Seed = 7,
            SamplePeriod = TimeSpan.FromMilliseconds(100),
            Topic = a.Str("topic"),
        };
        var kafka = new KafkaOptions { BootstrapServers = a.Str("bootstrap"), CompressionType = CompressionType.Zstd };
        var sw = Stopwatch.StartNew();
        var summary = SensorSimulator.RunAsync(sim, kafka).GetAwaiter().GetResult();
        var (low, high) = Watermarks(a.Str("bootstrap"), a.Str("topic"));
        // The mock broker silently drops the oldest batches past 5 MiB per partition: low watermark > 0 means input was lost.
        var intact = low == 0 && high == summary.Messages && summary.DeliveryFailures == 0;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"RESULT stage=produce readings={summary.Readings} messages={summary.Messages} seconds={sw.Elapsed.TotalSeconds:F2} low={low} high={high} intact={(intact ? 1 : 0)}"));
        return intact ? 0 : 3;
    }

    /// <summary>(b) then (c) on one throwaway cluster: decoded rows COPYed bare, then the engine consuming the topic.</summary>
    private static async Task<int> PgAsync(Args a)
    {
        var bootstrap = a.Str("bootstrap");
        var topic = a.Str("topic");
        var expected = a.Int("readings", 1_000_000);
        var diagnose = a.Int("pg-diag", 0) == 1;
        await using var cluster = NewCluster(diagnose ? PgDiag.Settings : []);
        var (storage, dataSource) = await StartAsync(cluster).ConfigureAwait(false);
        await using var _ = dataSource;
        var meter = Meter(a, cluster);
        var diag = diagnose ? await PgDiag.CreateAsync(dataSource, cluster.LogFile).ConfigureAwait(false) : null;

        // (b) the same rows, decoded outside the clock, one binary COPY per engine-sized batch.
        var rows = ReadAll(bootstrap, topic, expected);
        var warm = a.Opt("warmup-topic");
        if (warm is not null)
        {
            // Each stage untimed until the JIT is quiet; the engine's writer connections stay open into the timed run.
            var warmRows = warm == topic ? rows : ReadAll(bootstrap, warm, a.Int("warmup-readings", expected));
            await JitWarmup.RunAsync("copy", async () =>
            {
                await ResetAllAsync(dataSource).ConfigureAwait(false);
                await TimeBareCopyAsync(dataSource, storage, warmRows).ConfigureAwait(false);
            }, a.Int("warmup-max-passes", 4), a.Int("warmup-quiet", 50)).ConfigureAwait(false);
            await JitWarmup.RunAsync("engine", async () =>
            {
                await ResetAllAsync(dataSource).ConfigureAwait(false);
                await RunEngineAsync(storage, bootstrap, warm, warmRows.Length, new EngineOptions(), meter, shared: dataSource).ConfigureAwait(false);
            }, a.Int("warmup-max-passes", 4), a.Int("warmup-quiet", 50)).ConfigureAwait(false);
        }

        await ResetAllAsync(dataSource).ConfigureAwait(false);
        if (diag is not null)
        {
            await diag.StartAsync().ConfigureAwait(false);
        }
        var perf = PerfRecorder.Start("copy");
        var jit = JitSample.Take();
        var before = meter.Take();
        var copySeconds = await TimeBareCopyAsync(dataSource, storage, rows).ConfigureAwait(false);
        var cpu = CpuMeter.PerReading(before, meter.Take(), rows.Length);
        perf?.Stop(cluster.DataDirectory);
        var jitLine = jit.Since();
        if (diag is not null)
        {
            await diag.StopAsync("copy", rows.Length).ConfigureAwait(false);
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"RESULT stage=copy readings={rows.Length} seconds={copySeconds:F3} readings_per_s={rows.Length / copySeconds:F0} warm={(warm is null ? 0 : 1)} load={Load()} {cpu} {jitLine}"));
        await ResetAllAsync(dataSource).ConfigureAwait(false);

        // (c) the engine, every stage on, against the same table definition.
        if (diag is not null)
        {
            await diag.StartAsync().ConfigureAwait(false);
        }
        var (c, _, line) = await RunEngineAsync(storage, bootstrap, topic, rows.Length, new EngineOptions(), meter, "engine", cluster.DataDirectory,
            shared: dataSource).ConfigureAwait(false);
        if (diag is not null)
        {
            await diag.StopAsync("engine", rows.Length).ConfigureAwait(false);
        }
        Console.WriteLine($"RESULT stage=engine warm={(warm is null ? 0 : 1)} " + line);
        NpgsqlConnectionPoolsClear();
        return c.Readings == rows.Length ? 0 : 4;
    }

    /// <summary>
    /// (b) and the engine in several variants, alternating round by round on the same data and cluster after one
    /// unreported warm-up round: per variant the median over rounds of readings/s, of c/b (each engine run against the
    /// (b) of its round) and of the CPU per reading. Variants: w1, w2 (Storage:WriterConnections).
    /// </summary>
    private static async Task<int> AbAsync(Args a)
    {
        var bootstrap = a.Str("bootstrap");
        var topic = a.Str("topic");
        var expected = a.Int("readings", 1_000_000);
        var rounds = a.Int("rounds", 3);
        // Variants separated by ';' (or ',' when there is no ';'); a Kafka property value may itself hold commas.
        var list = a.Opt("variants") ?? "w2;w1";
        var variants = list.Split(list.Contains(';', StringComparison.Ordinal) ? ';' : ',');
        await using var cluster = NewCluster();
        var (storage, dataSource) = await StartAsync(cluster).ConfigureAwait(false);
        await using var _ = dataSource;
        var meter = Meter(a, cluster);
        var rows = ReadAll(bootstrap, topic, expected);
        var lines = new List<(string Variant, int Round, string Line, double Ratio)>();
        for (var round = -1; round < rounds; round++)
        {
            await ResetAllAsync(dataSource).ConfigureAwait(false);
            var before = meter.Take();
            var copySeconds = await TimeBareCopyAsync(dataSource, storage, rows).ConfigureAwait(false);
            var copyRate = rows.Length / copySeconds;
            var copyLine = string.Create(CultureInfo.InvariantCulture,
                $"readings={rows.Length} seconds={copySeconds:F3} readings_per_s={copyRate:F0} load={Load()} {CpuMeter.PerReading(before, meter.Take(), rows.Length)}");
            Console.WriteLine($"RESULT stage=ab-copy round={round} {copyLine}");
            lines.Add(("copy", round, copyLine, 1));
            for (var k = 0; k < variants.Length; k++)
            {
                var v = variants[(k + Math.Max(0, round)) % variants.Length];
                await ResetAllAsync(dataSource).ConfigureAwait(false);
                var options = new StorageOptions { ConnectionString = storage.ConnectionString, UseTimescaleDb = false };
                var client = new Dictionary<string, string>(StringComparer.Ordinal);
                // A variant is settings joined by '+': w1/w2 (writer connections), kafka:<property>=<value> (a librdkafka property of every client).
                foreach (var setting in v.Split('+'))
                {
                    if (setting is "w1" or "w2")
                    {
                        options.WriterConnections = setting[1] - '0';
                    }
                    else if (setting.StartsWith("kafka:", StringComparison.Ordinal) && setting.IndexOf('=', StringComparison.Ordinal) is > 6 and var eq)
                    {
                        client[setting[6..eq]] = setting[(eq + 1)..];
                    }
                    else
                    {
                        throw new ArgumentException($"unknown variant setting {setting}");
                    }
                }
                var (c, seconds, line) = await RunEngineAsync(options, bootstrap, topic, rows.Length, new EngineOptions(), meter, shared: dataSource, kafkaClient: client).ConfigureAwait(false);
                var ratio = c.Stored / seconds / copyRate;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"RESULT stage=ab-engine variant={v} round={round} c_over_b={ratio:F3} {line}"));
                lines.Add((v, round, line, ratio));
            }
        }
        foreach (var v in lines.Where(l => l.Round >= 0).Select(l => l.Variant).Distinct())
        {
            var runs = lines.Where(l => l.Round >= 0 && l.Variant == v).ToList();
            double Med(string field) => Median(runs.Select(r => Field(r.Line, field)));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"SUMMARY variant={v} rounds={runs.Count} readings_per_s={Med("readings_per_s"):F0} c_over_b={Median(runs.Select(r => r.Ratio)):F3} cpu_us={Med("cpu_us"):F2} pg_us={Med("cpu_pg_us"):F2} pg_backends_us={Med("cpu_pg_backends_us"):F2} consume_us={Med("cpu_consume_us"):F2} rdkafka_us={Med("cpu_rdkafka_us"):F2} other_us={Med("cpu_other_us"):F2} jit_us={Med("cpu_jit_us"):F2} pool_us={Med("cpu_pool_us"):F2} broker_us={Med("cpu_broker_us"):F2}"));
        }
        return 0;
    }

    private static double Field(string line, string name)
    {
        foreach (var f in line.Split(' '))
        {
            if (f.StartsWith(name + "=", StringComparison.Ordinal))
            {
                return double.Parse(f.AsSpan(name.Length + 1), CultureInfo.InvariantCulture);
            }
        }
        return double.NaN;
    }

    private static double Median(IEnumerable<double> values)
    {
        var s = values.Order().ToArray();
        return s.Length == 0 ? double.NaN : s.Length % 2 == 1 ? s[s.Length / 2] : (s[(s.Length / 2) - 1] + s[s.Length / 2]) / 2;
    }

    /// <summary>Every table a stage writes emptied (detector_state too: the engine's rows of an earlier run are another group's).</summary>
    private static async Task ResetAllAsync(Npgsql.NpgsqlDataSource dataSource)
    {
        await using (var cmd = dataSource.CreateCommand("TRUNCATE detector_state"))
        {
            await cmd.ExecuteNonQueryAsync().ConfigureAwait(false);
        }
        await StorageBench.ResetAsync(dataSource).ConfigureAwait(false);
    }

    /// <summary>The engine once (its batches recorded), then <see cref="SinkSplit"/>'s variants on those batches.</summary>
    private static async Task<int> SplitAsync(Args a)
    {
        var bootstrap = a.Str("bootstrap");
        var topic = a.Str("topic");
        var expected = a.Int("readings", 1_000_000);
        await using var cluster = NewCluster();
        var (storage, dataSource) = await StartAsync(cluster).ConfigureAwait(false);
        await using var _ = dataSource;
        var meter = Meter(a, cluster);
        // The variants compare one writer connection with two, so the engine records with two unless E2E_WRITERS says otherwise.
        if (Environment.GetEnvironmentVariable("E2E_WRITERS") is not { Length: > 0 })
        {
            storage.WriterConnections = 2;
        }
        var recorded = Enumerable.Range(0, storage.WriterConnections).Select(_ => new List<StorageBatch>()).ToArray();
        var (c, _, line) = await RunEngineAsync(storage, bootstrap, topic, expected, new EngineOptions(), meter,
            wrap: (sink, i) => new SinkSplit.Recorder(sink, recorded[i])).ConfigureAwait(false);
        Console.WriteLine("RESULT stage=split-record " + line + $" batches={string.Join('/', recorded.Select(r => r.Count))}");
        var variants = (a.Opt("variants") ?? "copy1,copy2,sink2-readings,sink2,sink1").Split(',');
        await SinkSplit.RunAsync(dataSource, storage, recorded, meter, a.Int("rounds", 3), variants, cluster.DataDirectory).ConfigureAwait(false);
        return c.Readings == expected ? 0 : 4;
    }

    /// <summary>One binary COPY per engine-sized batch (StorageBench.Batches assumes the default 12 partitions, these topics have 24).</summary>
    private static async Task<double> TimeBareCopyAsync(Npgsql.NpgsqlDataSource dataSource, StorageOptions storage, SensorReading[] rows)
    {
        var chunks = new List<StorageBatch>();
        for (var i = 0; i < rows.Length; i += storage.BatchMaxRows)
        {
            var b = new StorageBatch();
            b.Readings.AddRange(rows.AsSpan(i, Math.Min(storage.BatchMaxRows, rows.Length - i)));
            chunks.Add(b);
        }
        List<StorageBatch>[] batches = [chunks];
        var sw = Stopwatch.StartNew();
        await StorageBench.BareCopyAsync(dataSource, batches).ConfigureAwait(false);
        return sw.Elapsed.TotalSeconds;
    }

    /// <summary>
    /// The engine with Engine:PersistDetectorState off, on (default checkpoint interval) and on with a checkpoint at every
    /// batch, alternating for --rounds rounds on the same data and table: throughput ratios and the state bytes written.
    /// </summary>
    private static async Task<int> PersistAsync(Args a)
    {
        var bootstrap = a.Str("bootstrap");
        var topic = a.Str("topic");
        var expected = a.Int("readings", 1_000_000);
        var rounds = a.Int("rounds", 2);
        await using var cluster = NewCluster();
        var (storage, dataSource) = await StartAsync(cluster).ConfigureAwait(false);
        await using var _ = dataSource;
        (string Name, EngineOptions Options)[] variants =
        [
            ("off", new EngineOptions { PersistDetectorState = false }),
            ("interval", new EngineOptions { PersistDetectorState = true }),
            ("every-batch", new EngineOptions { PersistDetectorState = true, DetectorStateInterval = TimeSpan.Zero }),
        ];
        var failed = 0;
        // Round -1 warms the JIT, the pools and PostgreSQL's caches: the first engine run in a process is markedly slower.
        for (var round = -1; round < rounds; round++)
        {
            foreach (var (name, options) in variants)
            {
                if (round < 0 && name != "off")
                {
                    continue;
                }
                await StorageBench.ResetAsync(dataSource).ConfigureAwait(false);
                await using (var truncate = dataSource.CreateCommand("TRUNCATE detector_state"))
                {
                    await truncate.ExecuteNonQueryAsync().ConfigureAwait(false);
                }
                var before = StateBytesWritten();
                var (c, _, line) = await RunEngineAsync(storage, bootstrap, topic, expected, options, Meter(a, cluster)).ConfigureAwait(false);
                long rows;
                await using (var count = dataSource.CreateCommand("SELECT count(*) FROM detector_state"))
                {
                    rows = (long)(await count.ExecuteScalarAsync().ConfigureAwait(false))!;
                }
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"RESULT stage={(round < 0 ? "warmup" : "persist-" + name)} round={round} {line} state_bytes={StateBytesWritten() - before:F0} state_sensors={rows}"));
                failed += c.Readings == expected ? 0 : 1;
            }
        }
        return failed == 0 ? 0 : 4;
    }

    /// <summary>
    /// The two ways to upsert N detector states of S bytes each in one transaction, alternating round by round on the
    /// same rows (every round replaces them all, the steady state): the sink's binary COPY into a staging table then
    /// INSERT … ON CONFLICT, and one INSERT … SELECT FROM unnest(arrays) … ON CONFLICT.
    /// </summary>
    private static async Task<int> StateUpsertAsync(Args a)
    {
        var rows = a.Int("rows", 1000);
        var size = a.Int("bytes", 2800);
        var rounds = a.Int("rounds", 7);
        await using var cluster = NewCluster();
        var (storage, dataSource) = await StartAsync(cluster).ConfigureAwait(false);
        await using var _ = dataSource;
        await using var sink = new PostgresSink(dataSource, storage);
        var rng = new Random(5);
        // Half noise, half zeros: float rings of real states compress poorly but not at all.
        var state = new byte[size];
        rng.NextBytes(state.AsSpan(0, size / 2));
        var sensors = Enumerable.Range(0, rows).Select(i => FormattableString.Invariant($"pump-{i:D6}")).ToArray();
        var batch = new StorageBatch();
        const string unnestSql = """
            INSERT INTO detector_state AS d (consumer_group, topic, partition, sensor_id, state_offset, state, updated_at)
            SELECT $1, $2, p, s, o, st, now() FROM unnest($3::int[], $4::text[], $5::bigint[], $6::bytea[]) AS m(p, s, o, st)
            ON CONFLICT (consumer_group, topic, partition, sensor_id) DO UPDATE SET
                state_offset = excluded.state_offset, state = excluded.state, updated_at = excluded.updated_at
            WHERE d.state_offset <= excluded.state_offset
            """;
        var copyTimes = new List<double>();
        var unnestTimes = new List<double>();
        for (var round = 0; round <= rounds; round++)
        {
            // COPY + staging (what PostgresSink does).
            batch.Clear();
            foreach (var (sensor, i) in sensors.Select((x, i) => (x, i)))
            {
                var start = (int)batch.StateData.Length;
                batch.StateData.Write(state);
                batch.DetectorStates.Add(new DetectorStateRow("g", "t", i % 24, sensor, (round * 2) + 1, start, size));
            }
            var sw = Stopwatch.StartNew();
            await sink.WriteAsync(batch, default).ConfigureAwait(false);
            var copy = sw.Elapsed.TotalSeconds;

            // unnest of arrays: one statement, one byte[] per row.
            sw.Restart();
            await using (var conn = await dataSource.OpenConnectionAsync().ConfigureAwait(false))
            await using (var tx = await conn.BeginTransactionAsync().ConfigureAwait(false))
            {
                var partitions = new int[rows];
                var offsets = new long[rows];
                var states = new byte[rows][];
                for (var i = 0; i < rows; i++)
                {
                    partitions[i] = i % 24;
                    offsets[i] = (round * 2) + 2;
                    states[i] = batch.StateBytes(batch.DetectorStates[i]).ToArray();
                }
                await using var cmd = new Npgsql.NpgsqlCommand(unnestSql, conn, tx);
                cmd.Parameters.Add(new Npgsql.NpgsqlParameter<string> { TypedValue = "g" });
                cmd.Parameters.Add(new Npgsql.NpgsqlParameter<string> { TypedValue = "t" });
                cmd.Parameters.Add(new Npgsql.NpgsqlParameter<int[]> { TypedValue = partitions });
                cmd.Parameters.Add(new Npgsql.NpgsqlParameter<string[]> { TypedValue = sensors });
                cmd.Parameters.Add(new Npgsql.NpgsqlParameter<long[]> { TypedValue = offsets });
                cmd.Parameters.Add(new Npgsql.NpgsqlParameter<byte[][]> { TypedValue = states });
                var updated = await cmd.ExecuteNonQueryAsync().ConfigureAwait(false);
                await tx.CommitAsync().ConfigureAwait(false);
                if (updated != rows)
                {
                    throw new InvalidOperationException($"unnest upserted {updated} of {rows} rows");
                }
            }
            var unnest = sw.Elapsed.TotalSeconds;
            if (round > 0)
            {
                copyTimes.Add(copy);
                unnestTimes.Add(unnest);
            }
        }
        static double Median(List<double> x)
        {
            x.Sort();
            return x[x.Count / 2];
        }
        var (c, u) = (Median(copyTimes), Median(unnestTimes));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"RESULT stage=state-upsert rows={rows} bytes={size} copy_ms={c * 1000:F1} unnest_ms={u * 1000:F1} copy_rows_per_s={rows / c:F0} unnest_rows_per_s={rows / u:F0} unnest_over_copy={c / u:F2} load={Load()}"));
        return 0;
    }

    /// <summary>CPU accounting of this process, the cluster and (with --broker-pid) the broker.</summary>
    private static CpuMeter Meter(Args a, PostgresCluster cluster) =>
        new(cluster.DataDirectory, a.Opt("broker-pid") is { } pid ? int.Parse(pid, CultureInfo.InvariantCulture) : null);

    /// <summary>A throwaway cluster with autovacuum off (see <see cref="NoAutovacuum"/>).</summary>
    private static PostgresCluster NewCluster(IReadOnlyList<string>? settings = null) => new(new PostgresClusterOptions
    {
        DataDirectory = Path.Combine(Path.GetTempPath(), "smstream-e2e-" + Guid.NewGuid().ToString("N")[..8]),
        Port = 0,
        ExtraSettings = [NoAutovacuum, .. settings ?? []],
    });

    /// <summary>
    /// Autovacuum would visit the freshly filled readings partition at a random moment (every autovacuum_naptime), so a
    /// 10 s engine stage caught a pass (0.35–0.65 µs of PostgreSQL CPU per reading) more often than a 4 s bare COPY: noise
    /// that belongs to neither stage. Both stages write the same rows, so the vacuum they eventually cause is the same too.
    /// </summary>
    private const string NoAutovacuum = "autovacuum = off";

    /// <summary>Starts the throwaway cluster and migrates it: the options and a writer data source for it.</summary>
    private static async Task<(StorageOptions Storage, Npgsql.NpgsqlDataSource DataSource)> StartAsync(PostgresCluster cluster)
    {
        var cs = await cluster.StartAsync().ConfigureAwait(false);
        var storage = new StorageOptions { ConnectionString = cs, UseTimescaleDb = false };
        if (Environment.GetEnvironmentVariable("E2E_WRITERS") is { Length: > 0 } writers)
        {
            // For experiments only; the default is what `smstream run` uses.
            storage.WriterConnections = int.Parse(writers, CultureInfo.InvariantCulture);
        }
        await SchemaMigrator.MigrateAsync(cs, storage).ConfigureAwait(false);
        return (storage, PostgresSink.CreateDataSource(storage));
    }

    /// <summary>smstream_detector_state_written_bytes_total, read from the default registry.</summary>
    private static double StateBytesWritten()
    {
        using var buffer = new MemoryStream();
        Prometheus.Metrics.DefaultRegistry.CollectAndExportAsTextAsync(buffer).GetAwaiter().GetResult();
        foreach (var l in Encoding.UTF8.GetString(buffer.ToArray()).Split('\n'))
        {
            if (l.StartsWith("smstream_detector_state_written_bytes_total ", StringComparison.Ordinal))
            {
                return double.Parse(l.AsSpan(l.IndexOf(' ', StringComparison.Ordinal) + 1), CultureInfo.InvariantCulture);
            }
        }
        return 0;
    }

    /// <summary>One engine run, exactly what `smstream run` wires, from its first consumed message to the last reading stored.</summary>
    private static async Task<(EngineCounters Counters, double Seconds, string Line)> RunEngineAsync(StorageOptions storage, string bootstrap, string topic, int expected,
        EngineOptions engineOptions, CpuMeter meter, string? perfStage = null, string? pgDataDirectory = null, Func<IStorageSink, int, IStorageSink>? wrap = null,
        Npgsql.NpgsqlDataSource? shared = null, IReadOnlyDictionary<string, string>? kafkaClient = null)
    {
        var kafka = new KafkaOptions { BootstrapServers = bootstrap };
        foreach (var (key, value) in kafkaClient ?? new Dictionary<string, string>())
        {
            kafka.Client[key] = value;
        }
        var topics = new TopicNames { Readings = topic };
        engineOptions.ConsumerGroup = "e2e-engine-" + Guid.NewGuid().ToString("N")[..8];
        // As `smstream run` wires it (EngineSinks): Storage:WriterConnections retrying sinks over one data source.
        // A shared data source keeps its connections (and their backends) from one run to the next, as a running engine does.
        await using var ownSource = shared is null ? PostgresSink.CreateDataSource(storage) : null;
        var writerSource = shared ?? ownSource!;
        var sinks = new IStorageSink[storage.WriterConnections];
        for (var i = 0; i < sinks.Length; i++)
        {
            IStorageSink sink = new PostgresSink(writerSource, storage);
            sinks[i] = new RetryingSink(wrap is null ? sink : wrap(sink, i), storage);
        }
        var stages = new PipelineStages(new RxWindowStage(new WindowingSettings()), new DetectorPipeline(new ScoringOptions()), new AlertTracker(new AlertOptions()));
        var engine = new StreamEngine(engineOptions, storage, kafka, topics, new ValidationOptions(), sinks, stages);
        using var stop = new CancellationTokenSource();
        var started = Stopwatch.StartNew();
        var run = engine.RunAsync(stop.Token);
        var firstAt = TimeSpan.Zero;
        var rssPeak = 0.0;
        var writerPolls = new int[3];
        CpuMeter.Sample cpuFrom = default;
        var jit = default(JitSample);
        PerfRecorder? perf = null;
        // Polling is part of what the CPU meter sees: every 2 ms until the first message (the start of the clock), then
        // every 20 ms (≤ 0.4 % of a 5 s run), the RSS every 0.5 s (reading /proc/self/status is not free).
        for (var polls = 0; engine.Counters.Stored + engine.Counters.RejectedTotal < expected && !run.IsCompleted && started.Elapsed < TimeSpan.FromMinutes(10); polls++)
        {
            if (firstAt == TimeSpan.Zero && engine.Counters.Messages > 0)
            {
                firstAt = started.Elapsed;
                perf = perfStage is null ? null : PerfRecorder.Start(perfStage);
                cpuFrom = meter.Take();
                jit = JitSample.Take();
            }
            if (polls % 25 == 0)
            {
                rssPeak = Math.Max(rssPeak, Environment.WorkingSet / 1048576.0);
            }
            if (firstAt != TimeSpan.Zero)
            {
                // What the writer had at this moment: nothing handed over (idle, waiting for the consume loop), one batch
                // (writing it, none queued), or more (a batch queued behind the one being written).
                var buffered = engine.Probe.BufferedRecords;
                writerPolls[buffered == 0 ? 0 : buffered <= storage.BatchMaxRows ? 1 : 2]++;
            }
            await Task.Delay(firstAt == TimeSpan.Zero ? 2 : 20).ConfigureAwait(false);
        }
        rssPeak = Math.Max(rssPeak, Environment.WorkingSet / 1048576.0);
        var doneAt = started.Elapsed;
        var cpuTo = meter.Take();
        var jitLine = jit.Since();
        perf?.Stop(pgDataDirectory);
        await stop.CancelAsync().ConfigureAwait(false);
        await run.ConfigureAwait(false);
        foreach (var sink in sinks)
        {
            await sink.DisposeAsync().ConfigureAwait(false);
        }
        var c = engine.Counters;
        var seconds = (doneAt - firstAt).TotalSeconds;
        return (c, seconds, string.Create(CultureInfo.InvariantCulture,
            $"readings={c.Readings} stored={c.Stored} rejected={c.RejectedTotal} aggregates={c.Aggregates} anomalies={c.Anomalies} alerts={c.AlertsPublished} seconds={seconds:F3} readings_per_s={c.Stored / seconds:F0} join_s={firstAt.TotalSeconds:F1} rss_mb={rssPeak:F0} load={Load()} writer_polls={writerPolls[0]}/{writerPolls[1]}/{writerPolls[2]} ") + CpuMeter.PerReading(cpuFrom, cpuTo, c.Stored) + " " + jitLine);
    }

    private static void NpgsqlConnectionPoolsClear() => Npgsql.NpgsqlConnection.ClearAllPools();

    /// <summary>(e) consume → decode → tumbling 1-minute event-time window (count/sum/min/max) on the Rx operator → produce.</summary>
    private static int Aggregate(Args a)
    {
        var bootstrap = a.Str("bootstrap");
        var output = a.Str("out");
        var warm = a.Opt("warmup-topic");
        var expected = a.Int("readings", 1_000_000);
        if (warm is not null)
        {
            JitWarmup.RunAsync("agg", () =>
            {
                RunAggregation(bootstrap, warm, output, a.Int("warmup-readings", expected));
                return Task.CompletedTask;
            }, a.Int("warmup-max-passes", 4), a.Int("warmup-quiet", 50)).GetAwaiter().GetResult();
        }
        var jit = JitSample.Take();
        var (seen, produced, seconds) = RunAggregation(bootstrap, a.Str("topic"), output, expected);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"RESULT stage=agg readings={seen} aggregates={produced} seconds={seconds:F3} readings_per_s={seen / seconds:F0} rss_mb={Environment.WorkingSet / 1048576.0:F0} warm={(warm is null ? 0 : 1)} load={Load()} {jit.Since()}"));
        return seen == expected ? 0 : 4;
    }

    /// <summary>
    /// What the writer's bookkeeping of one committed batch costs (<see cref="EngineProbe.OnCommitted"/>: a histogram
    /// observation and two dictionary updates per reading), on one thread: the time the one writer backend sat idle per
    /// batch while the writer did it between two transactions (before round 4).
    /// </summary>
    private static int SettleCost(Args a)
    {
        var rows = a.Int("rows", 20_000);
        var sensors = a.Int("sensors", 1000);
        var probe = new EngineProbe();
        var batch = new StorageBatch();
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var ids = Enumerable.Range(0, sensors).Select(i => "sensor-" + i.ToString("D5", CultureInfo.InvariantCulture)).ToArray();
        for (var i = 0; i < rows; i++)
        {
            batch.Readings.Add(new SensorReading(ids[i % sensors], now - 5000 + (i / sensors * 100), i, "asset-1", "vibration", "mm/s",
                Position: new SourcePosition(i % 24, i, 0)));
        }
        StorageBatch[] parts = [batch];
        for (var round = 0; round < a.Int("rounds", 5); round++)
        {
            var sw = Stopwatch.StartNew();
            const int Batches = 50;
            for (var b = 0; b < Batches; b++)
            {
                probe.OnCommitted(parts, rows, rows * 100L);
            }
            var ms = sw.Elapsed.TotalMilliseconds / Batches;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"RESULT stage=settle round={round} rows={rows} ms_per_batch={ms:F3} us_per_reading={ms * 1000 / rows:F4} load={Load()}"));
        }
        return 0;
    }

    /// <summary>
    /// What bounds (e) on this box, each on one thread like (e): (1) the consumer alone (same settings as (e), values
    /// kept, nothing decoded); (2) decoding those values from memory; (3) decode + the same tumbling window from memory.
    /// (e) does all three on its one consume thread, so its rate is below each, and below 1 / (1/r1 + 1/r3) when they
    /// do not overlap; librdkafka's fetch and decompression run on its own threads and overlap partly.
    /// </summary>
    private static int Bounds(Args a)
    {
        var bootstrap = a.Str("bootstrap");
        var topic = a.Str("topic");
        var expected = a.Int("readings", 1_000_000);
        var warm = a.Opt("warmup-topic");
        if (warm is not null)
        {
            JitWarmup.RunAsync("bounds", () =>
            {
                var warmValues = ConsumeValues(bootstrap, warm, a.Int("warmup-readings", expected), out _, out _);
                DecodeValues(warmValues, aggregate: true);
                DecodeValues(warmValues, aggregate: false);
                return Task.CompletedTask;
            }, a.Int("warmup-max-passes", 4), a.Int("warmup-quiet", 50)).GetAwaiter().GetResult();
        }
        var values = ConsumeValues(bootstrap, topic, expected, out var readings, out var consumeSeconds);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"RESULT stage=bound-consume readings={readings} messages={values.Count} seconds={consumeSeconds:F3} readings_per_s={readings / consumeSeconds:F0} load={Load()}"));
        for (var round = 0; round < 3; round++)
        {
            var (decoded, decodeSeconds) = DecodeValues(values, aggregate: false);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"RESULT stage=bound-decode round={round} readings={decoded} seconds={decodeSeconds:F3} readings_per_s={decoded / decodeSeconds:F0} load={Load()}"));
            var (windowed, windowSeconds) = DecodeValues(values, aggregate: true);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"RESULT stage=bound-decode-window round={round} readings={windowed} seconds={windowSeconds:F3} readings_per_s={windowed / windowSeconds:F0} load={Load()}"));
        }
        return 0;
    }

    /// <summary>Every message value of the topic, consumed as (e) consumes; timed from the first message to the last.</summary>
    private static List<byte[]> ConsumeValues(string bootstrap, string topic, long expectedReadings, out long readings, out double seconds)
    {
        using var consumer = new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig
        {
            BootstrapServers = bootstrap, GroupId = "e2e-bound-" + Guid.NewGuid().ToString("N")[..8], AutoOffsetReset = AutoOffsetReset.Earliest,
            EnableAutoCommit = true, FetchQueueBackoffMs = 10, EnablePartitionEof = false,
        }).Build();
        consumer.Subscribe(topic);
        var values = new List<byte[]>();
        readings = 0;
        var sw = new Stopwatch();
        while (readings < expectedReadings)
        {
            var cr = consumer.Consume(TimeSpan.FromSeconds(30));
            if (cr is null)
            {
                break;
            }
            if (!sw.IsRunning)
            {
                sw.Start();
            }
            values.Add(cr.Message.Value);
            // The generator's envelopes hold a fixed count; count readings without decoding (a quote-free scan).
            readings += CountReadings(cr.Message.Value);
        }
        seconds = sw.Elapsed.TotalSeconds;
        consumer.Close();
        return values;
    }

    private static int CountReadings(ReadOnlySpan<byte> value) =>
        value.StartsWith("{\"readings\""u8) ? value.Count("\"sensor_id\""u8) : 1;

    private static (long Readings, double Seconds) DecodeValues(List<byte[]> values, bool aggregate)
    {
        var decoder = new ReadingDecoder(new ValidationOptions { MaxPastAge = TimeSpan.FromDays(3650) });
        var readings = new List<SensorReading>(128);
        var rejects = new List<Rejection>();
        var input = new Subject<StreamEvent<SensorReading>>();
        long aggregates = 0;
        using var sub = aggregate
            ? input.AggregateWindows([WindowSpec.Tumbling(TimeSpan.FromMinutes(1))], new WindowOperatorOptions { Dedup = false }).Subscribe(_ => aggregates++)
            : null;
        long seen = 0, maxTs = long.MinValue, sinceWatermark = 0;
        var sw = Stopwatch.StartNew();
        for (var m = 0; m < values.Count; m++)
        {
            readings.Clear();
            rejects.Clear();
            decoder.Decode(values[m], new SourcePosition(0, m, 0), readings, rejects);
            seen += readings.Count + rejects.Count;
            if (!aggregate)
            {
                continue;
            }
            for (var i = 0; i < readings.Count; i++)
            {
                maxTs = Math.Max(maxTs, readings[i].Timestamp);
                input.OnNext(StreamEvent<SensorReading>.Data(readings[i]));
            }
            sinceWatermark += readings.Count;
            if (sinceWatermark >= 1000)
            {
                input.OnNext(StreamEvent<SensorReading>.Watermark(maxTs - 5000));
                sinceWatermark = 0;
            }
        }
        if (aggregate)
        {
            input.OnNext(StreamEvent<SensorReading>.Watermark(long.MaxValue - 1));
        }
        return (seen, sw.Elapsed.TotalSeconds);
    }

    private static (long Seen, long Produced, double Seconds) RunAggregation(string bootstrap, string topic, string output, long expected)
    {
        using var producer = new ProducerBuilder<byte[], byte[]>(new ProducerConfig
        {
            BootstrapServers = bootstrap, LingerMs = 20, CompressionType = CompressionType.Lz4, BatchNumMessages = 100_000, QueueBufferingMaxMessages = 1_000_000,
        }).Build();
        using var consumer = new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig
        {
            BootstrapServers = bootstrap, GroupId = "e2e-agg-" + Guid.NewGuid().ToString("N")[..8], AutoOffsetReset = AutoOffsetReset.Earliest,
            EnableAutoCommit = true, FetchQueueBackoffMs = 10, EnablePartitionEof = false,
        }).Build();
        var decoder = new ReadingDecoder(new ValidationOptions { MaxPastAge = TimeSpan.FromDays(3650) });
        var readings = new List<SensorReading>(128);
        var rejects = new List<Rejection>();
        var input = new Subject<StreamEvent<SensorReading>>();
        long produced = 0;
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(256);
        using var writer = new Utf8JsonWriter(buffer);
        using var sub = input
            .AggregateWindows([WindowSpec.Tumbling(TimeSpan.FromMinutes(1))], new WindowOperatorOptions { Dedup = false })
            .Subscribe(e =>
            {
                if (!e.IsData || e.Item.Kind != WindowOutputKind.Aggregate)
                {
                    return;
                }
                var agg = e.Item.Aggregate;
                buffer.ResetWrittenCount();
                writer.Reset(buffer);
                writer.WriteStartObject();
                writer.WriteNumber("start"u8, agg.WindowStart);
                writer.WriteNumber("count"u8, agg.Count);
                writer.WriteNumber("sum"u8, agg.Sum);
                writer.WriteNumber("min"u8, agg.Min);
                writer.WriteNumber("max"u8, agg.Max);
                writer.WriteEndObject();
                writer.Flush();
                Produce(producer, output, Encoding.UTF8.GetBytes(agg.SensorId), buffer.WrittenSpan.ToArray());
                produced++;
            });
        consumer.Subscribe(topic);
        long seen = 0, maxTs = long.MinValue, sinceWatermark = 0;
        var sw = new Stopwatch();
        while (seen < expected)
        {
            var cr = consumer.Consume(TimeSpan.FromSeconds(30));
            if (cr is null)
            {
                break;
            }
            if (!sw.IsRunning)
            {
                sw.Start();
            }
            readings.Clear();
            rejects.Clear();
            decoder.Decode(cr.Message.Value, new SourcePosition(cr.Partition.Value, cr.Offset.Value, 0), readings, rejects);
            for (var i = 0; i < readings.Count; i++)
            {
                var r = readings[i];
                maxTs = Math.Max(maxTs, r.Timestamp);
                input.OnNext(StreamEvent<SensorReading>.Data(r));
            }
            seen += readings.Count + rejects.Count;
            sinceWatermark += readings.Count;
            if (sinceWatermark >= 1000)
            {
                // Bounded out-of-orderness of 5 s across partitions, like the engine's default watermark.
                input.OnNext(StreamEvent<SensorReading>.Watermark(maxTs - 5000));
                sinceWatermark = 0;
            }
        }
        input.OnNext(StreamEvent<SensorReading>.Watermark(long.MaxValue - 1));
        producer.Flush(TimeSpan.FromSeconds(60));
        var seconds = sw.Elapsed.TotalSeconds;
        consumer.Close();
        return (seen, produced, seconds);
    }

    private static void Produce(IProducer<byte[], byte[]> producer, string topic, byte[] key, byte[] value)
    {
        while (true)
        {
            try
            {
                producer.Produce(topic, new Message<byte[], byte[]> { Key = key, Value = value });
                return;
            }
            catch (ProduceException<byte[], byte[]> ex) when (ex.Error.Code == ErrorCode.Local_QueueFull)
            {
                producer.Poll(TimeSpan.FromMilliseconds(5));
            }
        }
    }

    /// <summary>Every reading of the topic, decoded (for the bare COPY baseline).</summary>
    private static SensorReading[] ReadAll(string bootstrap, string topic, long expected)
    {
        using var consumer = new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig
        {
            BootstrapServers = bootstrap, GroupId = "e2e-read-" + Guid.NewGuid().ToString("N")[..8], AutoOffsetReset = AutoOffsetReset.Earliest,
            EnableAutoCommit = false, FetchQueueBackoffMs = 10,
        }).Build();
        var decoder = new ReadingDecoder(new ValidationOptions { MaxPastAge = TimeSpan.FromDays(3650) });
        var all = new List<SensorReading>((int)expected);
        var rejects = new List<Rejection>();
        consumer.Subscribe(topic);
        long seen = 0;
        while (seen < expected)
        {
            var cr = consumer.Consume(TimeSpan.FromSeconds(30));
            if (cr is null)
            {
                break;
            }
            var before = all.Count;
            rejects.Clear();
            decoder.Decode(cr.Message.Value, new SourcePosition(cr.Partition.Value, cr.Offset.Value, 0), all, rejects);
            seen += all.Count - before + rejects.Count;
        }
        consumer.Close();
        return [.. all];
    }

    private static (long Low, long High) Watermarks(string bootstrap, string topic)
    {
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = bootstrap }).Build();
        using var consumer = new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig { BootstrapServers = bootstrap, GroupId = "e2e-watermarks" }).Build();
        long low = 0, high = 0;
        foreach (var p in admin.GetMetadata(topic, TimeSpan.FromSeconds(10)).Topics[0].Partitions)
        {
            var w = consumer.QueryWatermarkOffsets(new TopicPartition(topic, p.PartitionId), TimeSpan.FromSeconds(10));
            low += w.Low.Value;
            high += w.High.Value;
        }
        return (low, high);
    }

    private static string Load() => File.ReadAllText("/proc/loadavg").Split(' ')[0];

    private sealed class Args(Dictionary<string, string> values)
    {
        public static Args Parse(string[] args)
        {
            var d = new Dictionary<string, string>(StringComparer.Ordinal);
            for (var i = 1; i + 1 < args.Length; i += 2)
            {
                d[args[i].TrimStart('-')] = args[i + 1];
            }
            return new Args(d);
        }

        public string Str(string name) => values.TryGetValue(name, out var v) ? v : throw new ArgumentException($"--{name} is required");
        public string? Opt(string name) => values.TryGetValue(name, out var v) ? v : null;
        public int Int(string name, int fallback) => values.TryGetValue(name, out var v) ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;
    }
}
