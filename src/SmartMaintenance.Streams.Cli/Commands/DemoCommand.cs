using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Confluent.Kafka;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Npgsql;
using SmartMaintenance.Streams.Alerting.Notifier;
using SmartMaintenance.Streams.Cli.Hosting;
using SmartMaintenance.Streams.Cli.Simulation;
using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Engine;
using SmartMaintenance.Streams.Kafka.Embedded;
using SmartMaintenance.Streams.Kafka.Simulation;
using SmartMaintenance.Streams.Storage;

namespace SmartMaintenance.Streams.Cli.Commands;

/// <summary>The one-command experience: broker, database, engine, notifier and simulator together, reconciled.</summary>
internal static class DemoCommand
{
    public static Command Create()
    {
        var duration = new Option<TimeSpan>("--duration") { Description = "How long the simulator publishes (e.g. 60s, 2m).", DefaultValueFactory = _ => TimeSpan.FromSeconds(60), CustomParser = DurationParser.Parse };
        var sensors = new Option<int>("--sensors") { Description = "Simulated sensors.", DefaultValueFactory = _ => 100 };
        var rate = new Option<double>("--rate") { Description = "Readings per second published.", DefaultValueFactory = _ => 2000 };
        var batch = new Option<int>("--batch") { Description = "Readings per message (1 = single readings, >1 = batch envelopes).", DefaultValueFactory = _ => 1 };
        var anomalyRate = new Option<double>("--anomaly-rate") { Description = "Probability per reading of starting an anomaly episode.", DefaultValueFactory = _ => 0.0005 };
        var badRate = new Option<double>("--bad-rate") { Description = "Fraction of malformed readings.", DefaultValueFactory = _ => 0.01 };
        var quiet = new Option<bool>("--quiet") { Description = "No live progress lines (the summary is still printed)." };
        var timescale = new Option<bool>("--timescaledb") { Description = "Store into the TimescaleDB test service (scripts/timescaledb-service: PGlite + TimescaleDB, needs Node.js) instead of a throwaway PostgreSQL." };
        var grace = new Option<TimeSpan>("--grace") { Description = "Detection report: how long after an episode's last reading an anomaly still counts as catching it.", DefaultValueFactory = _ => TimeSpan.FromSeconds(60), CustomParser = DurationParser.Parse };
        var cmd = new Command("demo", "Start broker, PostgreSQL, engine, notifier and simulator together; print a reconciled summary (exit 0 only when it reconciles).");
        AppConfiguration.AddCommon(cmd);
        foreach (var o in new Option[] { duration, sensors, rate, batch, anomalyRate, badRate, quiet, timescale, grace })
        {
            cmd.Options.Add(o);
        }
        cmd.SetAction(async (parse, ct) =>
        {
            var configuration = AppConfiguration.Build(parse);
            var sim = new SimulatorOptions
            {
                Sensors = parse.GetValue(sensors),
                Rate = parse.GetValue(rate),
                Duration = parse.GetValue(duration),
                Batch = parse.GetValue(batch),
                AnomalyRate = parse.GetValue(anomalyRate),
                BadRate = parse.GetValue(badRate),
            };
            sim.Validate();
            using var shutdown = new Shutdown(ct);
            var demo = new Demo(configuration, parse.GetValue(AppConfiguration.DatabaseOption), sim, !parse.GetValue(quiet), parse.GetValue(timescale), parse.GetValue(grace));
            return await demo.RunAsync(shutdown.Token).ConfigureAwait(false);
        });
        return cmd;
    }

    private sealed class Demo(Microsoft.Extensions.Configuration.IConfiguration configuration, string? database, SimulatorOptions sim, bool progress, bool timescale, TimeSpan grace)
    {
        public async Task<int> RunAsync(CancellationToken ct)
        {
            var started = Stopwatch.StartNew();
            using var loggers = LoggerFactory.Create(b => b
                .AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; })
                .SetMinimumLevel(LogLevel.Warning));
            Say("starting the embedded Kafka broker…");
            await using var broker = await EmbeddedKafkaBroker.StartAsync(new EmbeddedBrokerOptions
            {
                BasePort = 0,
                Topics = EmbeddedBrokerOptions.ProjectTopics(),
                InitialRebalanceDelayMs = 0,
            }, ct).ConfigureAwait(false);
            Say($"broker: {broker.BootstrapServers}");

            PostgresCluster? cluster = null;
            TimescaleDbService? timescaleService = null;
            var dataDir = Path.Combine(Path.GetTempPath(), "smstream-demo-" + Guid.NewGuid().ToString("N")[..8]);
            try
            {
                string connectionString;
                if (database is { Length: > 0 })
                {
                    connectionString = database;
                    Say("database: the one given with --database");
                }
                else if (timescale)
                {
                    Say("starting the TimescaleDB test service (PGlite + TimescaleDB; first start takes a few seconds)…");
                    timescaleService = new TimescaleDbService(new TimescaleDbServiceOptions { DataDirectory = dataDir });
                    connectionString = await timescaleService.StartAsync(ct).ConfigureAwait(false);
                    Say($"database: {Redact(connectionString)} (TimescaleDB; one backend shared a transaction at a time, no background workers)");
                }
                else
                {
                    Say("starting a throwaway PostgreSQL…");
                    cluster = new PostgresCluster(new PostgresClusterOptions { DataDirectory = dataDir, Port = 0 });
                    connectionString = await cluster.StartAsync(ct).ConfigureAwait(false);
                    Say($"database: {Redact(connectionString)}");
                }

                var overrides = new Dictionary<string, string?>
                {
                    ["Kafka:BootstrapServers"] = broker.BootstrapServers,
                    ["Storage:ConnectionString"] = connectionString,
                    ["Storage:BatchMaxDelay"] = "00:00:00.200",
                };
                var settings = EngineSettings.Load(new Microsoft.Extensions.Configuration.ConfigurationBuilder()
                    .AddConfiguration(SimulatedSensorProfile.Apply(configuration)).AddInMemoryCollection(overrides).Build());
                var episodes = new EpisodeLog(new Scoring.DetectorPipeline(SimulatedSensorProfile.Scoring(configuration)).WarmupReadings);
                var migration = await SchemaMigrator.MigrateAsync(connectionString, settings.Storage, ct).ConfigureAwait(false);
                if (migration.Warning is { } warning)
                {
                    Say($"warning: {warning}");
                }
                // The demo's broker is new every time: offsets an earlier demo stored in a kept database belong to a topic
                // that no longer exists, so the demo starts its group at the beginning of the new one.
                var fresh = await OffsetReset.PlanAsync(connectionString, settings.Engine.ConsumerGroup, settings.Topics.Readings, settings.Kafka, "earliest", ct).ConfigureAwait(false);
                await OffsetReset.ApplyAsync(connectionString, settings.Engine.ConsumerGroup, settings.Topics.Readings, fresh, ct).ConfigureAwait(false);
                Say($"schema migrated ({SchemaMigrator.ModeName(migration.Mode)}); starting engine, notifier and simulator");

                using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
                await using var sinks = new EngineSinks(settings.Storage, loggers);
                var engine = new StreamEngine(settings.Engine, settings.Storage, settings.Kafka, settings.Topics, settings.Validation, sinks.Sinks,
                    settings.CreateStages(), loggers);
                var engineRun = engine.RunAsync(stop.Token);

                var alertsPrinted = new CountingWriter(Console.Out);
                var notifierRun = RunNotifierAsync(broker.BootstrapServers, connectionString, alertsPrinted, loggers, stop.Token);

                sim.Topic = settings.Topics.Readings;
                var simRun = SensorSimulator.RunAsync(sim, settings.Kafka, ct, episodes);
                var progressRun = progress ? ProgressAsync(engine, started, stop.Token) : Task.CompletedTask;

                SimulationSummary sent;
                try
                {
                    sent = await simRun.ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    Say("interrupted: stopping everything…");
                    await stop.CancelAsync().ConfigureAwait(false);
                    await Task.WhenAll(Quietly(engineRun), Quietly(notifierRun), Quietly(progressRun)).ConfigureAwait(false);
                    return 130;
                }

                // Let the engine finish what was sent, then let the notifier print the last alerts.
                var drained = await WaitAsync(() => engine.Counters.Stored + engine.Counters.RejectedTotal >= sent.Readings || engineRun.IsCompleted,
                    TimeSpan.FromSeconds(60), ct).ConfigureAwait(false);
                await WaitAsync(() => alertsPrinted.Lines >= Math.Min(1, engine.Counters.AlertsPublished), TimeSpan.FromSeconds(15), ct).ConfigureAwait(false);
                await Task.Delay(1000, CancellationToken.None).ConfigureAwait(false);
                await stop.CancelAsync().ConfigureAwait(false);
                Exception? engineError = null;
                try
                {
                    await engineRun.ConfigureAwait(false);
                }
                catch (EngineFatalException ex)
                {
                    engineError = ex;
                }
                await Task.WhenAll(Quietly(notifierRun), Quietly(progressRun)).ConfigureAwait(false);

                var stored = await CountAsync(connectionString, "SELECT count(*) FROM readings", ct).ConfigureAwait(false);
                var dlq = CountDeadLetters(broker.BootstrapServers, settings.Topics.ReadingsDlq);
                var detection = DetectionReport.Build(episodes, await AnomaliesAsync(connectionString, ct).ConfigureAwait(false), grace);
                return Summarise(sent, engine.Counters, stored, dlq, alertsPrinted.Lines, drained, engineError, started.Elapsed, detection);
            }
            finally
            {
                if (cluster is not null)
                {
                    await cluster.DisposeAsync().ConfigureAwait(false);
                }
                if (timescaleService is not null)
                {
                    NpgsqlConnection.ClearAllPools();
                    await timescaleService.StopAsync().ConfigureAwait(false);
                }
                if (Directory.Exists(dataDir))
                {
                    Directory.Delete(dataDir, recursive: true);
                }
            }
        }

        private static async Task RunNotifierAsync(string bootstrap, string connectionString, TextWriter console, ILoggerFactory loggers, CancellationToken ct)
        {
            var options = new NotifierOptions
            {
                BootstrapServers = bootstrap,
                ConnectionString = connectionString,
                Channels = { ["console"] = new ChannelOptions { Type = ChannelTypes.Console } },
                Routes = { new RouteOptions { Name = "everything", Channels = ["console"] } },
            };
            options.Validate();
            var logger = loggers.CreateLogger("smstream.notify");
            await using var dataSource = NpgsqlDataSource.Create(connectionString);
            using var dlq = new KafkaDeadLetterSink(NotifierService.ProducerConfig(options), options.DlqTopic);
            var channels = AlertDispatcher.CreateChannels(options, console);
            var dispatcher = new AlertDispatcher(options, channels, new PostgresDeliveryLog(dataSource), dlq, logger);
            await new NotifierService(options, dispatcher, logger).RunAsync(ct).ConfigureAwait(false);
        }

        private static async Task ProgressAsync(StreamEngine engine, Stopwatch started, CancellationToken ct)
        {
            long lastReadings = 0;
            var last = started.Elapsed;
            using var timer = new PeriodicTimer(TimeSpan.FromSeconds(5));
            while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false))
            {
                var c = engine.Counters;
                var now = started.Elapsed;
                var rate = (c.Readings - lastReadings) / Math.Max(0.001, (now - last).TotalSeconds);
                lastReadings = c.Readings;
                last = now;
                Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"[{now:mm\\:ss}] in {rate,8:F0} readings/s | consumed {c.Readings,9} | stored {c.Stored,9} | DLQ {c.RejectedTotal,6} | anomalies {c.Anomalies,5} | alerts {c.AlertsPublished,4}"));
            }
        }

        private static int Summarise(SimulationSummary sent, EngineCounters c, long storedRows, IReadOnlyDictionary<string, long> dlq,
            long alertsPrinted, bool drained, Exception? engineError, TimeSpan elapsed, DetectionReport detection)
        {
            var dlqTotal = dlq.Values.Sum();
            var checks = new List<(string What, bool Ok)>
            {
                ("records sent = records consumed", sent.Readings == c.Readings),
                ("consumed = stored + dead-lettered", c.Readings == c.Stored + c.RejectedTotal),
                ("rows in the readings table = stored", storedRows == c.Stored),
                ("records on the DLQ topic = dead-lettered", dlqTotal == c.RejectedTotal),
                ("malformed sent = dead-lettered for a validation reason", sent.MalformedReadings == c.RejectedTotal - c.Rejected(RejectReason.Late) - c.Rejected(RejectReason.Duplicate)),
                ("producer delivery failures = 0", sent.DeliveryFailures == 0),
                ("notifier printed at least one alert", alertsPrinted > 0),
                ("engine finished the backlog without a fatal error", drained && engineError is null),
            };
            var w = Console.Out;
            w.WriteLine();
            w.WriteLine(string.Create(CultureInfo.InvariantCulture, $"== smstream demo summary ({elapsed.TotalSeconds:F0} s) =="));
            w.WriteLine(string.Create(CultureInfo.InvariantCulture, $"sent       {sent.Readings,10} records in {sent.Messages} messages ({sent.ValidReadings} valid, {sent.MalformedReadings} malformed, {sent.AnomaliesInjected} anomaly episodes injected)"));
            w.WriteLine(string.Create(CultureInfo.InvariantCulture, $"consumed   {c.Readings,10} records in {c.Messages} messages"));
            w.WriteLine(string.Create(CultureInfo.InvariantCulture, $"stored     {c.Stored,10} readings ({storedRows} rows in the database), {c.Aggregates} aggregate revisions, {c.Anomalies} anomalies"));
            w.WriteLine(string.Create(CultureInfo.InvariantCulture, $"DLQ        {c.RejectedTotal,10} records: {string.Join(", ", dlq.OrderBy(k => k.Key, StringComparer.Ordinal).Select(k => $"{k.Key} {k.Value}"))}"));
            w.WriteLine(string.Create(CultureInfo.InvariantCulture, $"alerts     {c.AlertsPublished,10} events published, {alertsPrinted} printed by the notifier"));
            w.WriteLine("stored anomalies (reading and window detectors) against the episodes injected:");
            w.WriteLine(detection.ToText());
            foreach (var (what, ok) in checks)
            {
                w.WriteLine($"  [{(ok ? "ok" : "FAIL")}] {what}");
            }
            if (engineError is not null)
            {
                w.WriteLine($"engine error: {engineError.Message}");
            }
            var reconciled = checks.All(x => x.Ok);
            w.WriteLine(reconciled ? "RECONCILED" : "NOT RECONCILED");
            return reconciled ? 0 : 1;
        }

        private static IReadOnlyDictionary<string, long> CountDeadLetters(string bootstrap, string topic)
        {
            var counts = new Dictionary<string, long>(StringComparer.Ordinal);
            using var consumer = new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig
            {
                BootstrapServers = bootstrap,
                GroupId = "smstream-demo-audit",
                EnableAutoCommit = false,
                EnablePartitionEof = true,
                AutoOffsetReset = AutoOffsetReset.Earliest,
            }).Build();
            using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = bootstrap }).Build();
            var partitions = admin.GetMetadata(topic, TimeSpan.FromSeconds(10)).Topics[0].Partitions
                .Select(p => new TopicPartitionOffset(topic, p.PartitionId, Offset.Beginning)).ToList();
            consumer.Assign(partitions);
            var eof = 0;
            var deadline = Stopwatch.StartNew();
            while (eof < partitions.Count && deadline.Elapsed < TimeSpan.FromSeconds(30))
            {
                var cr = consumer.Consume(TimeSpan.FromMilliseconds(200));
                if (cr is null)
                {
                    continue;
                }
                if (cr.IsPartitionEOF)
                {
                    eof++;
                    continue;
                }
                var reason = cr.Message.Headers.TryGetLastBytes(DlqHeaders.Reason, out var b) ? System.Text.Encoding.UTF8.GetString(b) : "(none)";
                counts[reason] = counts.GetValueOrDefault(reason) + 1;
            }
            return counts;
        }

        /// <summary>Sensor and event time of every anomaly the engine stored: what alerts are opened and updated from.</summary>
        private static async Task<List<(string, long)>> AnomaliesAsync(string connectionString, CancellationToken ct)
        {
            var list = new List<(string, long)>();
            await using var conn = new NpgsqlConnection(connectionString);
            await conn.OpenAsync(ct).ConfigureAwait(false);
            await using var cmd = new NpgsqlCommand("SELECT sensor_id, ts FROM anomalies", conn);
            await using var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
            while (await reader.ReadAsync(ct).ConfigureAwait(false))
            {
                list.Add((reader.GetString(0), new DateTimeOffset(reader.GetDateTime(1), TimeSpan.Zero).ToUnixTimeMilliseconds()));
            }
            return list;
        }

        private static async Task<long> CountAsync(string connectionString, string sql, CancellationToken ct)
        {
            await using var conn = new NpgsqlConnection(connectionString);
            await conn.OpenAsync(ct).ConfigureAwait(false);
            await using var cmd = new NpgsqlCommand(sql, conn);
            return (long)(await cmd.ExecuteScalarAsync(ct).ConfigureAwait(false))!;
        }

        private static async Task<bool> WaitAsync(Func<bool> condition, TimeSpan timeout, CancellationToken ct)
        {
            var sw = Stopwatch.StartNew();
            while (!condition())
            {
                if (sw.Elapsed > timeout)
                {
                    return false;
                }
                await Task.Delay(100, ct).ConfigureAwait(false);
            }
            return true;
        }

        private static async Task Quietly(Task t)
        {
            try
            {
                await t.ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or EngineFatalException)
            {
            }
        }

        private static void Say(string line) => Console.Error.WriteLine("demo: " + line);

        private static string Redact(string cs) => new NpgsqlConnectionStringBuilder(cs) { Password = null }.ConnectionString;
    }

    /// <summary>Passes the notifier's console lines through and counts them.</summary>
    private sealed class CountingWriter(TextWriter inner) : TextWriter
    {
        private long _lines;
        public long Lines => Interlocked.Read(ref _lines);
        public override System.Text.Encoding Encoding => inner.Encoding;
        public override void Write(char value) => inner.Write(value);
        public override void WriteLine(string? value)
        {
            inner.WriteLine(value);
            Interlocked.Increment(ref _lines);
        }
        public override Task WriteLineAsync(ReadOnlyMemory<char> buffer, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref _lines);
            return inner.WriteLineAsync(buffer, cancellationToken);
        }
        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);
    }
}
