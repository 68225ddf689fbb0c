using System.CommandLine;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Npgsql;
using SmartMaintenance.Streams.Alerting.Notifier;
using SmartMaintenance.Streams.Cli.Hosting;
using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Observability;

namespace SmartMaintenance.Streams.Cli.Commands;

internal static class NotifyCommand
{
    public static Command Create()
    {
        var http = new Option<string?>("--http") { Description = $"Serve /metrics and /health/* on HOST:PORT (Http:Listen, default {HttpOptions.NotifierDefault}); 'off' disables." };
        var cmd = new Command("notify", "Deliver alert events from maintenance-alerts to console, webhook, Slack and e-mail (consumer group smstream-notifier; docs/alerting.md).");
        AppConfiguration.AddCommon(cmd);
        cmd.Options.Add(http);
        cmd.SetAction(async (parse, ct) =>
        {
            NotifierOptions options;
            HttpOptions httpOptions;
            try
            {
                var httpOverrides = new Dictionary<string, string?>();
                HttpEndpoint.AddFlag(parse.GetValue(http), httpOverrides);
                var configuration = AppConfiguration.Build(parse, httpOverrides);
                httpOptions = HttpEndpoint.Load(configuration, HttpOptions.NotifierDefault);
                options = AppConfiguration.Bind<NotifierOptions>(configuration, "Notifier");
                // The shared Kafka/Storage settings (and --bootstrap/--database) apply unless Notifier sets its own.
                var section = configuration.GetSection("Notifier");
                if (section["BootstrapServers"] is null && configuration["Kafka:BootstrapServers"] is { Length: > 0 } bootstrap)
                {
                    options.BootstrapServers = bootstrap;
                }
                if (section["ConnectionString"] is null && configuration["Storage:ConnectionString"] is { Length: > 0 } database)
                {
                    options.ConnectionString = database;
                }
                options.Validate();
            }
            catch (ConfigurationException ex)
            {
                await Console.Error.WriteLineAsync($"smstream notify: {ex.Message}").ConfigureAwait(false);
                return 2;
            }

            // Console-channel lines own standard output; logs go to standard error.
            using var loggers = LoggerFactory.Create(b => b
                .SetMinimumLevel(LogLevel.Information)
                .AddSimpleConsole(o =>
                {
                    o.SingleLine = true;
                    o.TimestampFormat = "HH:mm:ss.fff ";
                    o.UseUtcTimestamp = true;
                })
                .AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace));
            var logger = loggers.CreateLogger("SmartMaintenance.Streams.Notifier");
            using var shutdown = new Shutdown(ct);
            await using var endpoints = await HttpEndpoint.StartAsync("notifier", httpOptions,
                () => NotifierHealth.Checks(options, httpOptions), logger, shutdown.Token).ConfigureAwait(false);

            await using var dataSource = NpgsqlDataSource.Create(options.ConnectionString);
            using var dlq = new KafkaDeadLetterSink(NotifierService.ProducerConfig(options), options.DlqTopic);
            var channels = AlertDispatcher.CreateChannels(options);
            await using var silences = await PostgresSilences.StartAsync(dataSource, options.SilenceRefresh, logger, shutdown.Token).ConfigureAwait(false);
            try
            {
                var dispatcher = new AlertDispatcher(options, channels, new PostgresDeliveryLog(dataSource), dlq, logger) { Silences = silences };
                await new NotifierService(options, dispatcher, logger).RunAsync(shutdown.Token).ConfigureAwait(false);
                return 0;
            }
            finally
            {
                foreach (var c in channels)
                {
                    (c as IDisposable)?.Dispose();
                }
            }
        });
        return cmd;
    }
}
