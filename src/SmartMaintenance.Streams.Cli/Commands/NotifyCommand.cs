using System.CommandLine;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Npgsql;
using SmartMaintenance.Streams.Alerting.Notifier;
using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Observability;

namespace SmartMaintenance.Streams.Cli.Commands;

internal static class NotifyCommand
{
    public static Command Create()
    {
        var config = new Option<FileInfo?>("--config") { Description = "JSON settings file with a Notifier section (docs/alerting.md). Environment variables SMSTREAM_Notifier__... override it." };
        var bootstrap = new Option<string?>("--bootstrap-servers") { Description = "Overrides Notifier:BootstrapServers." };
        var http = new Option<string?>("--http") { Description = $"Serve /metrics and /health/* on HOST:PORT (Http:Listen, default {HttpOptions.NotifierDefault}); 'off' disables." };
        var cmd = new Command("notify", "Deliver alert events from maintenance-alerts to console, webhook, Slack and e-mail (consumer group smstream-notifier).");
        cmd.Options.Add(config);
        cmd.Options.Add(bootstrap);
        cmd.Options.Add(http);
        cmd.SetAction(async (parse, ct) =>
        {
            var builder = new ConfigurationBuilder();
            if (parse.GetValue(config) is { } file)
            {
                builder.AddJsonFile(file.FullName, optional: false);
            }
            builder.AddEnvironmentVariables("SMSTREAM_");
            var httpOverrides = new Dictionary<string, string?>();
            HttpEndpoint.AddFlag(parse.GetValue(http), httpOverrides);
            var configuration = builder.AddInMemoryCollection(httpOverrides).Build();
            var options = configuration.GetSection("Notifier").Get<NotifierOptions>() ?? new NotifierOptions();
            var httpOptions = HttpEndpoint.Load(configuration, HttpOptions.NotifierDefault);
            if (parse.GetValue(bootstrap) is { Length: > 0 } servers)
            {
                options.BootstrapServers = servers;
            }
            options.Validate();

            // Console-channel lines own standard output; logs go to standard error.
            using var loggerFactory = LoggerFactory.Create(b => b
                .AddSimpleConsole(o => o.SingleLine = true)
                .AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace)
                .SetMinimumLevel(LogLevel.Information));
            var logger = loggerFactory.CreateLogger("smstream.notify");

            await using var endpoints = await HttpEndpoint.StartAsync("notifier", httpOptions,
                () => NotifierHealth.Checks(options, httpOptions), logger, ct).ConfigureAwait(false);

            await using var dataSource = NpgsqlDataSource.Create(options.ConnectionString);
            using var dlq = new KafkaDeadLetterSink(NotifierService.ProducerConfig(options), options.DlqTopic);
            var channels = AlertDispatcher.CreateChannels(options);
            try
            {
                var dispatcher = new AlertDispatcher(options, channels, new PostgresDeliveryLog(dataSource), dlq, logger);
                await new NotifierService(options, dispatcher, logger).RunAsync(ct).ConfigureAwait(false);
            }
            finally
            {
                foreach (var c in channels)
                {
                    (c as IDisposable)?.Dispose();
                }
            }
            return 0;
        });
        return cmd;
    }
}
