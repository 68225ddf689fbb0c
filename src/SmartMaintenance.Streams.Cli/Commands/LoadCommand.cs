using System.CommandLine;
using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using SmartMaintenance.Streams.Cli.Hosting;
using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Engine;
using SmartMaintenance.Streams.Kafka.Embedded;
using SmartMaintenance.Streams.Load;
using SmartMaintenance.Streams.Storage;

namespace SmartMaintenance.Streams.Cli.Commands;

/// <summary>`smstream load`: offers a scenario to the engine and reports throughput, latency and lag (docs/performance.md).</summary>
/// <remarks>Without --bootstrap it starts the embedded broker, a throwaway PostgreSQL and the engine in this process
/// (so the RSS it samples is the engine's plus the load tool's); with --bootstrap it loads a running engine.</remarks>
internal static class LoadCommand
{
    public static Command Create()
    {
        var file = new Option<FileInfo?>("--file") { Description = "Scenario file: JSON object with LoadOptions property names (flags override it)." };
        var scenario = new Option<LoadScenario?>("--scenario") { Description = "constant | ramp | spike | soak." };
        var rate = new Option<double?>("--rate") { Description = "Offered readings/s (ramp start, spike base)." };
        var peak = new Option<double?>("--peak-rate") { Description = "Ramp end / spike top, readings/s." };
        var duration = new Option<string?>("--duration") { Description = "Measured duration (e.g. 60s, 10m)." };
        var warmup = new Option<string?>("--warmup") { Description = "Warm-up before measuring (excluded from thresholds)." };
        var spike = new Option<string?>("--spike-duration") { Description = "Spike length (default: a tenth of --duration)." };
        var sensors = new Option<int?>("--sensors") { Description = "Distinct sensors." };
        var batch = new Option<int?>("--batch") { Description = "Readings per message (1 single, >1 envelopes)." };
        var malformed = new Option<string?>("--malformed") { Description = "Malformed fraction (0.001 or 0.1%)." };
        var anomalies = new Option<string?>("--anomaly-rate") { Description = "Spike probability per reading." };
        var probes = new Option<int?>("--probes") { Description = "End-to-end latency probes per second." };
        var seed = new Option<int?>("--seed") { Description = "Payload random seed." };
        var linger = new Option<double?>("--linger") { Description = "linger.ms of the load producer (default 20; event time is stamped before it)." };
        var drain = new Option<string?>("--drain-timeout") { Description = "How long to wait for the engine to catch up after sending." };
        var maxP99 = new Option<string?>("--max-p99") { Description = "Fail (exit 1) when p99 end-to-end latency exceeds this (e.g. 250ms)." };
        var maxAck = new Option<string?>("--max-ack-p99") { Description = "Fail when p99 producer acknowledgement latency exceeds this." };
        var maxAlert = new Option<string?>("--max-alert-p99") { Description = "Fail when p99 event time → alert latency exceeds this." };
        var maxErr = new Option<string?>("--max-error-rate") { Description = "Fail when failed deliveries exceed this fraction (e.g. 0.1%)." };
        var maxLag = new Option<long?>("--max-lag") { Description = "Fail when lag (messages) after the drain exceeds this." };
        var minAchieved = new Option<string?>("--min-achieved") { Description = "Fail when the send rate falls below this fraction of the offered one (default 95%)." };
        var enginePid = new Option<int?>("--engine-pid") { Description = "With --bootstrap: the engine's process id, for its RSS." };
        var group = new Option<string?>("--group") { Description = "With --bootstrap: the engine's consumer group (default: Engine:ConsumerGroup)." };
        var output = new Option<string?>("--out") { Description = "Report directory (default: load-report-<UTC time>)." };
        var quiet = new Option<bool>("--quiet") { Description = "No per-second progress lines." };
        var cmd = new Command("load", "Offer a load scenario (constant, ramp, spike, soak) to the engine; report throughput, latency (HdrHistogram) and lag; exit 1 when a threshold is violated.");
        AppConfiguration.AddCommon(cmd);
        foreach (var o in new Option[] { file, scenario, rate, peak, duration, warmup, spike, sensors, batch, malformed, anomalies, probes, seed, linger, drain,
            maxP99, maxAck, maxAlert, maxErr, maxLag, minAchieved, enginePid, group, output, quiet })
        {
            cmd.Options.Add(o);
        }
        cmd.Subcommands.Add(LoadApiStateCommand.Create());
        cmd.SetAction(async (parse, ct) =>
        {
            var options = new LoadOptions();
            if (parse.GetValue(file) is { } f)
            {
                if (!f.Exists)
                {
                    throw new ConfigurationException("--file", $"file '{f.FullName}' does not exist");
                }
                options.ApplyFile(f.FullName);
            }
            Set(parse.GetValue(scenario), v => options.Scenario = v);
            Set(parse.GetValue(rate), v => options.Rate = v);
            Set(parse.GetValue(peak), v => options.PeakRate = v);
            Set(parse.GetValue(sensors), v => options.Sensors = v);
            Set(parse.GetValue(batch), v => options.Batch = v);
            Set(parse.GetValue(probes), v => options.ProbesPerSecond = v);
            Set(parse.GetValue(seed), v => options.Seed = v);
            Set(parse.GetValue(linger), v => options.ProducerLingerMs = v);
            Set(parse.GetValue(maxLag), v => options.MaxLag = v);
            Text(parse.GetValue(duration), "--duration", s => options.Duration = LoadOptions.ParseDuration(s));
            Text(parse.GetValue(warmup), "--warmup", s => options.WarmUp = LoadOptions.ParseDuration(s));
            Text(parse.GetValue(spike), "--spike-duration", s => options.SpikeDuration = LoadOptions.ParseDuration(s));
            Text(parse.GetValue(drain), "--drain-timeout", s => options.DrainTimeout = LoadOptions.ParseDuration(s));
            Text(parse.GetValue(maxP99), "--max-p99", s => options.MaxP99 = LoadOptions.ParseDuration(s));
            Text(parse.GetValue(maxAck), "--max-ack-p99", s => options.MaxAckP99 = LoadOptions.ParseDuration(s));
            Text(parse.GetValue(maxAlert), "--max-alert-p99", s => options.MaxAlertP99 = LoadOptions.ParseDuration(s));
            Text(parse.GetValue(malformed), "--malformed", s => options.MalformedFraction = LoadOptions.ParseRatio(s));
            Text(parse.GetValue(anomalies), "--anomaly-rate", s => options.AnomalyRate = LoadOptions.ParseRatio(s));
            Text(parse.GetValue(maxErr), "--max-error-rate", s => options.MaxErrorRate = LoadOptions.ParseRatio(s));
            Text(parse.GetValue(minAchieved), "--min-achieved", s => options.MinAchievedFraction = LoadOptions.ParseRatio(s));
            options.Validate();

            var configuration = AppConfiguration.Build(parse);
            var outDir = parse.GetValue(output) ?? "load-report-" + DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture);
            var command = "smstream " + string.Join(' ', Environment.GetCommandLineArgs().Skip(1));
            var progress = parse.GetValue(quiet) ? null : (Action<LoadSample>)Print;
            using var shutdown = new Shutdown(ct);
            LoadResult result;
            var embedded = parse.GetValue(AppConfiguration.BootstrapOption) is not { Length: > 0 };
            if (!embedded)
            {
                var settings = EngineSettings.Load(configuration);
                var target = new LoadTarget(settings.Kafka, settings.Topics, parse.GetValue(group) ?? settings.Engine.ConsumerGroup,
                    settings.Storage.ConnectionString is { Length: > 0 } cs ? cs : null, parse.GetValue(enginePid));
                result = await new LoadRunner(options, target, progress).RunAsync(shutdown.Token).ConfigureAwait(false);
            }
            else
            {
                result = await RunEmbeddedAsync(configuration, parse.GetValue(AppConfiguration.DatabaseOption), options, progress, shutdown.Token).ConfigureAwait(false);
            }
            var report = LoadReport.Write(result, outDir, command);
            if (embedded)
            {
                // The engine ran in this process: its metrics (consume delay, produce acknowledgements, event → alert
                // published, batch commits) explain where the latency went.
                await using var metrics = File.Create(Path.Combine(outDir, "engine-metrics.prom"));
                await Prometheus.Metrics.DefaultRegistry.CollectAndExportAsTextAsync(metrics, ct).ConfigureAwait(false);
            }
            Summarise(result, report);
            return result.Passed ? 0 : 1;
        });
        return cmd;
    }

    private static async Task<LoadResult> RunEmbeddedAsync(IConfiguration configuration, string? database, LoadOptions options, Action<LoadSample>? progress, CancellationToken ct)
    {
        using var loggers = LoggerFactory.Create(b => b.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; }).SetMinimumLevel(LogLevel.Warning));
        Console.Error.WriteLine("load: starting the embedded broker, PostgreSQL and the engine in this process…");
        await using var broker = await EmbeddedKafkaBroker.StartAsync(new EmbeddedBrokerOptions
        {
            BasePort = 0,
            Topics = EmbeddedBrokerOptions.ProjectTopics(),
            InitialRebalanceDelayMs = 0,
        }, ct).ConfigureAwait(false);
        PostgresCluster? cluster = null;
        var dataDir = Path.Combine(Path.GetTempPath(), "smstream-load-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            string connectionString;
            if (database is { Length: > 0 })
            {
                connectionString = database;
            }
            else
            {
                cluster = new PostgresCluster(new PostgresClusterOptions { DataDirectory = dataDir, Port = 0 });
                connectionString = await cluster.StartAsync(ct).ConfigureAwait(false);
            }
            var settings = EngineSettings.Load(new ConfigurationBuilder().AddConfiguration(configuration).AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Kafka:BootstrapServers"] = broker.BootstrapServers,
                ["Storage:ConnectionString"] = connectionString,
            }).Build());
            await SchemaMigrator.MigrateAsync(connectionString, settings.Storage, ct).ConfigureAwait(false);
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var storageLogger = loggers.CreateLogger("SmartMaintenance.Streams.Storage");
            await using var sink = new RetryingSink(new PostgresSink(settings.Storage, storageLogger), settings.Storage, storageLogger);
            var engine = new StreamEngine(settings.Engine, settings.Storage, settings.Kafka, settings.Topics, settings.Validation, sink, settings.CreateStages(), loggers);
            var engineRun = engine.RunAsync(stop.Token);
            try
            {
                var target = new LoadTarget(settings.Kafka, settings.Topics, settings.Engine.ConsumerGroup, connectionString);
                return await new LoadRunner(options, target, progress).RunAsync(ct).ConfigureAwait(false);
            }
            finally
            {
                await stop.CancelAsync().ConfigureAwait(false);
                try
                {
                    await engineRun.ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is OperationCanceledException or EngineFatalException)
                {
                    Console.Error.WriteLine("load: engine stopped: " + ex.Message);
                }
            }
        }
        finally
        {
            if (cluster is not null)
            {
                await cluster.DisposeAsync().ConfigureAwait(false);
            }
            if (Directory.Exists(dataDir))
            {
                Directory.Delete(dataDir, recursive: true);
            }
        }
    }

    private static void Set<T>(T? value, Action<T> apply) where T : struct
    {
        if (value is { } v)
        {
            apply(v);
        }
    }

    private static void Text(string? value, string flag, Action<string> apply)
    {
        if (value is null)
        {
            return;
        }
        try
        {
            apply(value);
        }
        catch (FormatException ex)
        {
            throw new ConfigurationException(flag, ex.Message);
        }
    }

    private static void Print(LoadSample s) => Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"[{s.Seconds,6:F0}s]{(s.Measured ? " " : s.OfferedReadingsPerSecond > 0 ? "w" : "d")} offered {s.OfferedReadingsPerSecond,8:F0}/s sent {s.SentReadingsPerSecond,8:F0}/s acked {s.AckedMessagesPerSecond,8:F0} msg/s engine {s.ProcessedMessagesPerSecond,8:F0} msg/s lag {s.LagMessages,8} | ack p99 {s.AckP99Ms,7:F1} ms e2e p50/p99 {s.E2eP50Ms,6:F0}/{s.E2eP99Ms,6:F0} ms alert p99 {s.AlertP99Ms,6:F0} ms | RSS {s.RssMb,6:F0} MB"));

    private static void Summarise(LoadResult r, string report)
    {
        var w = Console.Out;
        w.WriteLine();
        w.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"== smstream load: {r.Options.Scenario} == sent {r.ReadingsSent} readings in {r.MessagesSent} messages; failures {r.DeliveryFailures}; drained {(r.Drained ? "yes" : "NO")} in {r.DrainTime.TotalSeconds:F1} s; load average {r.LoadAverage:F1}"));
        w.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"p99 ack {LatencyRecorder.Ms(r.Ack.Total, 99):F1} ms · p99 end-to-end {LatencyRecorder.Ms(r.EndToEnd.Total, 99):F1} ms ({r.EndToEnd.Total.TotalCount} probes) · p99 alert {LatencyRecorder.Ms(r.Alert.Total, 99):F1} ms ({r.Alert.Total.TotalCount} alerts; event → engine publish p99 {LatencyRecorder.Ms(r.AlertPublish.Total, 99):F1} ms, publish → consumed p99 {LatencyRecorder.Ms(r.AlertDelivery.Total, 99):F1} ms) · peak RSS {r.PeakRssMb:F0} MB"));
        foreach (var t in r.Thresholds)
        {
            w.WriteLine($"  [{(t.Passed ? "ok" : "FAIL")}] {t.Name}: {t.Actual} (limit {t.Limit})");
        }
        w.WriteLine((r.Passed ? "PASS" : "FAIL") + " — report: " + report);
    }
}
