using System.CommandLine;
using SmartMaintenance.Streams.Cli.Hosting;
using SmartMaintenance.Streams.Cli.Simulation;
using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Kafka;
using SmartMaintenance.Streams.Kafka.Simulation;

namespace SmartMaintenance.Streams.Cli.Commands;

internal static class SimulateCommand
{
    public static Command Create()
    {
        var sensors = new Option<int>("--sensors") { Description = "Number of sensors (4 per asset: temperature, vibration, pressure, current).", DefaultValueFactory = _ => 100 };
        var rate = new Option<double>("--rate") { Description = "Readings per second over all sensors (0: unpaced).", DefaultValueFactory = _ => 1000 };
        var duration = new Option<string>("--duration") { Description = "How long to publish: 30, 500ms, 10s, 5m, 1h. With --rate it fixes the count (rate x duration); 0: until Ctrl-C.", DefaultValueFactory = _ => "10s" };
        var maxReadings = new Option<long>("--max-readings") { Description = "Stop after this many readings (overrides rate x duration)." };
        var anomalyRate = new Option<double>("--anomaly-rate") { Description = "Probability per reading of starting an anomaly (spike, level shift, stuck).", DefaultValueFactory = _ => 0.001 };
        var badRate = new Option<double>("--bad-rate") { Description = "Probability per reading of a malformed one (broken JSON, missing field, NaN, out of range, far-future ts)." };
        var batch = new Option<int>("--batch") { Description = "Readings per message; > 1 publishes {\"readings\":[...]} envelopes keyed by asset.", DefaultValueFactory = _ => 1 };
        var bootstrap = new Option<string>("--bootstrap") { Description = "Kafka bootstrap servers.", DefaultValueFactory = _ => new KafkaOptions().BootstrapServers };
        var topic = new Option<string>("--topic") { Description = "Topic to publish to.", DefaultValueFactory = _ => Topics.Readings };
        var seed = new Option<int?>("--seed") { Description = "Random seed; with --start-time the output is byte-identical across runs." };
        var startTime = new Option<DateTimeOffset?>("--start-time") { Description = "Event time of the first reading (RFC 3339); default now." };
        var tsFormat = new Option<TimestampFormat>("--ts-format") { Description = "Mixed, Rfc3339 or EpochMillis.", DefaultValueFactory = _ => TimestampFormat.Mixed };
        var grace = new Option<TimeSpan>("--grace") { Description = "Detection report: how long after an episode's last reading an alert still counts as catching it.", DefaultValueFactory = _ => TimeSpan.FromSeconds(60), CustomParser = DurationParser.Parse };

        var cmd = new Command("simulate", "Publish realistic sensor readings (with anomalies and malformed records) to Kafka, then print what was published.");
        foreach (var o in new Option[] { sensors, rate, duration, maxReadings, anomalyRate, badRate, batch, bootstrap, topic, seed, startTime, tsFormat, grace, AppConfiguration.ConfigOption })
        {
            cmd.Options.Add(o);
        }
        cmd.SetAction(async (parse, ct) =>
        {
            SimulatorOptions options;
            KafkaOptions kafka;
            ReadingDetection detection;
            try
            {
                options = new SimulatorOptions
                {
                    Sensors = parse.GetValue(sensors),
                    Rate = parse.GetValue(rate),
                    Duration = DurationParser.Parse(parse.GetValue(duration) ?? "10s", "--duration"),
                    MaxReadings = parse.GetValue(maxReadings),
                    AnomalyRate = parse.GetValue(anomalyRate),
                    BadRate = parse.GetValue(badRate),
                    Batch = parse.GetValue(batch),
                    Topic = parse.GetValue(topic) ?? Topics.Readings,
                    Seed = parse.GetValue(seed),
                    StartTime = parse.GetValue(startTime),
                    TimestampFormat = parse.GetValue(tsFormat),
                };
                options.Validate();
                kafka = new KafkaOptions { BootstrapServers = parse.GetValue(bootstrap) ?? "", ClientId = "smstream-simulator" };
                kafka.Validate();
                // The report scores what was published with the engine's reading detectors and its Scoring configuration.
                detection = new ReadingDetection(SimulatedSensorProfile.Scoring(AppConfiguration.Build(parse)));
            }
            catch (ConfigurationException ex)
            {
                await Console.Error.WriteLineAsync($"smstream simulate: {ex.Message}").ConfigureAwait(false);
                return 2;
            }

            using var termination = new Shutdown(ct);
            var target = options.TargetReadings > 0 ? $"{options.TargetReadings} readings"
                : options.Duration > TimeSpan.Zero ? $"for {options.Duration.TotalSeconds:F0} s" : "until Ctrl-C";
            await Console.Out.WriteLineAsync($"publishing {target} from {options.Sensors} sensors to {options.Topic} at {kafka.BootstrapServers} (Ctrl-C stops early)").ConfigureAwait(false);
            var summary = await SensorSimulator.RunAsync(options, kafka, termination.Token, detection).ConfigureAwait(false);
            await Console.Out.WriteLineAsync(summary.ToText()).ConfigureAwait(false);
            await Console.Out.WriteLineAsync("reading detectors (DetectorPipeline, Scoring configuration) on what was published:").ConfigureAwait(false);
            await Console.Out.WriteLineAsync(detection.Report(parse.GetValue(grace)).ToText()).ConfigureAwait(false);
            return summary.DeliveryFailures == 0 ? 0 : 1;
        });
        return cmd;
    }
}
