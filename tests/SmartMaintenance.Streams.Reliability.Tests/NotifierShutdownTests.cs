using System.Diagnostics;
using SmartMaintenance.Streams.Kafka.Embedded;
using SmartMaintenance.Streams.Testing;
using Xunit;
using static SmartMaintenance.Streams.Reliability.Tests.NotifierCrashTests;

namespace SmartMaintenance.Streams.Reliability.Tests;

/// <summary>The notifier process stops promptly on SIGTERM even with the broker gone, and a restarted notifier
/// resumes delivering in seconds with its default settings (no session.timeout.ms given).</summary>
[Collection(ServicesCollection.Name)]
public sealed class NotifierShutdownTests(KafkaFixture kafka, PostgresFixture postgres)
{
    private static Dictionary<string, string> Environment(string topic, string dlq, string group, Receiver receiver) => new()
    {
        ["SMSTREAM_HTTP__LISTEN"] = "127.0.0.1:0",
        ["SMSTREAM_NOTIFIER__TOPIC"] = topic,
        ["SMSTREAM_NOTIFIER__DLQTOPIC"] = dlq,
        ["SMSTREAM_NOTIFIER__GROUPID"] = group,
        ["SMSTREAM_NOTIFIER__CHANNELS__hook__TYPE"] = "webhook",
        ["SMSTREAM_NOTIFIER__CHANNELS__hook__URL"] = receiver.Url,
        ["SMSTREAM_NOTIFIER__CHANNELS__hook__SECRET"] = "shutdown",
        ["SMSTREAM_NOTIFIER__ROUTES__0__NAME"] = "all",
        ["SMSTREAM_NOTIFIER__ROUTES__0__CHANNELS__0"] = "hook",
    };

    [Fact]
    public async Task Notifier_stops_within_seconds_of_SIGTERM_when_the_broker_is_gone()
    {
        var broker = await EmbeddedKafkaBroker.StartAsync(new EmbeddedBrokerOptions { BasePort = 0, Brokers = 1, InitialRebalanceDelayMs = 0 });
        var db = await postgres.CreateDatabaseAsync();
        using var receiver = new Receiver(TimeSpan.Zero);
        SmstreamProcess? notify = null;
        try
        {
            broker.CreateTopic("alerts", 1);
            broker.CreateTopic("alerts-dlq", 1);
            notify = SmstreamProcess.Start(["notify", "--bootstrap", broker.BootstrapServers, "--database", db],
                Environment("alerts", "alerts-dlq", "shutdown-" + Guid.NewGuid().ToString("N")[..8], receiver));
            using (var producer = new Confluent.Kafka.ProducerBuilder<string, string>(new Confluent.Kafka.ProducerConfig { BootstrapServers = broker.BootstrapServers }).Build())
            {
                await producer.ProduceAsync("alerts", new() { Key = "asset-0", Value = AlertJson(0, DateTimeOffset.UtcNow) });
            }
            // Delivered: the notifier is in its group, with a partition assigned and an offset to commit.
            await EngineRun.WaitUntilAsync(() => Task.FromResult(receiver.Distinct >= 1), TimeSpan.FromSeconds(60), notify);
        }
        finally
        {
            await broker.DisposeAsync();
        }
        await Task.Delay(1000);

        var took = await notify.TerminateAsync(TimeSpan.FromSeconds(60));
        Assert.True(took < TimeSpan.FromSeconds(20), $"the notifier took {took} to stop after SIGTERM without a broker:\n{notify.Tail()}");
        Assert.Equal(0, notify.ExitCode);
        notify.Dispose();
    }

    [Fact]
    public async Task A_notifier_restarted_after_a_crash_resumes_delivery_before_librdkafkas_default_session_timeout()
    {
        var topic = kafka.CreateUniqueTopic("restart-alerts", 1);
        var dlq = kafka.CreateUniqueTopic("restart-alerts-dlq", 1);
        var db = await postgres.CreateDatabaseAsync();
        using var receiver = new Receiver(TimeSpan.Zero);
        var env = Environment(topic, dlq, "restart-" + Guid.NewGuid().ToString("N")[..8], receiver);
        string[] args = ["notify", "--bootstrap", kafka.BootstrapServers, "--database", db];
        await kafka.ProduceAsync(topic, TestMessage.Utf8("asset-0", AlertJson(0, DateTimeOffset.UtcNow)));
        using (var first = SmstreamProcess.Start(args, env))
        {
            await EngineRun.WaitUntilAsync(() => Task.FromResult(receiver.Distinct >= 1), TimeSpan.FromSeconds(60), first);
            await first.KillAsync(); // no LeaveGroup: the group waits for the session to time out
        }

        var restarted = Stopwatch.StartNew();
        using var second = SmstreamProcess.Start(args, env);
        await kafka.ProduceAsync(topic, TestMessage.Utf8("asset-1", AlertJson(1, DateTimeOffset.UtcNow)));
        await EngineRun.WaitUntilAsync(() => Task.FromResult(receiver.Distinct >= 2), TimeSpan.FromSeconds(90), second);
        // librdkafka's default session.timeout.ms is 45 s; the notifier's default is 10 s.
        Assert.True(restarted.Elapsed < TimeSpan.FromSeconds(35), $"first delivery after the restart took {restarted.Elapsed}");
        await second.TerminateAsync(TimeSpan.FromSeconds(30));
    }
}
