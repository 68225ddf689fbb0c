using System.Text;
using Confluent.Kafka;
using Microsoft.Extensions.Configuration;
using SmartMaintenance.Streams.Contracts;
using Xunit;

namespace SmartMaintenance.Streams.Kafka.Tests;

public sealed class KafkaOptionsTests
{
    [Fact]
    public void Consumer_defaults_store_offsets_explicitly_and_commit_what_was_stored()
    {
        var config = new KafkaOptions().BuildConsumerConfig("smstream-engine");

        Assert.False(config.EnableAutoOffsetStore);
        Assert.True(config.EnableAutoCommit);
        Assert.Equal(10, config.FetchQueueBackoffMs);
        Assert.Equal(PartitionAssignmentStrategy.CooperativeSticky, config.PartitionAssignmentStrategy);
        Assert.Equal(AutoOffsetReset.Earliest, config.AutoOffsetReset);
        Assert.Equal("127.0.0.1:19092", config.BootstrapServers);
        Assert.Equal("smstream-engine", config.GroupId);
    }

    [Fact]
    public void Engine_consumer_skips_the_topic_name_but_keeps_timestamps_and_headers()
    {
        var options = new KafkaOptions();

        var engine = options.BuildEngineConsumerConfig("smstream-engine");

        // Headers carry the DLQ-replay mark and go into DLQ records; the timestamp feeds the consume-delay metric.
        Assert.Equal("timestamp,headers", engine.Get(ConfigPropertyNames.Consumer.ConsumeResultFields));
        Assert.Equal("smstream-engine", engine.GroupId);
        Assert.False(engine.EnableAutoOffsetStore);
        // Other consumers (DLQ tools, load checks) read the topic name of what they consume.
        Assert.Null(options.BuildConsumerConfig("g").Get(ConfigPropertyNames.Consumer.ConsumeResultFields));
    }

    [Fact]
    public void Engine_consumer_result_fields_from_client_properties_win()
    {
        var options = new KafkaOptions();
        options.Client[ConfigPropertyNames.Consumer.ConsumeResultFields] = "all";

        Assert.Equal("all", options.BuildEngineConsumerConfig("g").Get(ConfigPropertyNames.Consumer.ConsumeResultFields));
    }

    [Fact]
    public void Producer_defaults_are_idempotent_acks_all_lz4()
    {
        var config = new KafkaOptions().BuildProducerConfig();

        Assert.True(config.EnableIdempotence);
        Assert.Equal(Acks.All, config.Acks);
        Assert.Equal(CompressionType.Lz4, config.CompressionType);
        Assert.Equal(5, config.LingerMs);
    }

    [Fact]
    public void Latency_defaults_bound_empty_fetches_send_alerts_without_linger_and_disable_nagle()
    {
        var options = new KafkaOptions();

        var consumer = options.BuildConsumerConfig("g");
        var producer = options.BuildProducerConfig();
        var alerts = options.BuildAlertProducerConfig();

        // The embedded broker holds an empty fetch for the whole fetch.wait.max.ms (librdkafka's default is 500).
        Assert.Equal(10, consumer.FetchWaitMaxMs);
        Assert.Equal(5, producer.LingerMs);
        Assert.Equal(0, alerts.LingerMs);
        Assert.True(alerts.EnableIdempotence);
        Assert.Equal(Acks.All, alerts.Acks);
        Assert.All(new ClientConfig[] { consumer, producer, alerts, options.BuildAdminClientConfig() }, c => Assert.True(c.SocketNagleDisable));
    }

    [Fact]
    public void Alert_linger_and_fetch_wait_are_configurable_and_client_properties_still_win()
    {
        var options = new KafkaOptions { AlertLingerMs = 2, FetchWaitMaxMs = 100, SocketNagleDisable = false };
        Assert.Equal(2, options.BuildAlertProducerConfig().LingerMs);
        Assert.Equal(100, options.BuildConsumerConfig("g").FetchWaitMaxMs);
        Assert.False(options.BuildProducerConfig().SocketNagleDisable);

        options.Client["linger.ms"] = "7";
        Assert.Equal(7, options.BuildAlertProducerConfig().LingerMs);
    }

    [Fact]
    public void Security_settings_and_free_form_client_properties_reach_every_client_config()
    {
        var options = new KafkaOptions
        {
            BootstrapServers = "kafka-1:9093,kafka-2:9093",
            SecurityProtocol = SecurityProtocol.SaslSsl,
            SaslMechanism = SaslMechanism.ScramSha512,
            SaslUsername = "svc",
            SaslPassword = "s3cret",
            SslCaLocation = "/etc/ssl/ca.pem",
            Client = { ["socket.keepalive.enable"] = "true", ["linger.ms"] = "20" },
        };
        options.Validate();

        ClientConfig[] configs = [options.BuildConsumerConfig("g"), options.BuildProducerConfig(), options.BuildAdminClientConfig()];

        Assert.All(configs, c =>
        {
            Assert.Equal("kafka-1:9093,kafka-2:9093", c.BootstrapServers);
            Assert.Equal(SecurityProtocol.SaslSsl, c.SecurityProtocol);
            Assert.Equal(SaslMechanism.ScramSha512, c.SaslMechanism);
            Assert.Equal("svc", c.SaslUsername);
            Assert.Equal("s3cret", c.SaslPassword);
            Assert.Equal("/etc/ssl/ca.pem", c.SslCaLocation);
            Assert.Equal("true", c.Get("socket.keepalive.enable"));
        });
        // Client properties are applied last and win over the typed defaults.
        Assert.Equal(20, ((ProducerConfig)configs[1]).LingerMs);
        Assert.DoesNotContain("s3cret", options.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("", "Kafka:BootstrapServers")]
    [InlineData("kafka-1", "Kafka:BootstrapServers")]
    [InlineData("kafka-1:99999", "Kafka:BootstrapServers")]
    public void Invalid_bootstrap_servers_fail_naming_the_setting(string bootstrap, string setting)
    {
        var ex = Assert.Throws<ConfigurationException>(() => new KafkaOptions { BootstrapServers = bootstrap }.Validate());

        Assert.Equal(setting, ex.Setting);
    }

    [Fact]
    public void Sasl_without_credentials_fails_naming_the_missing_setting()
    {
        var options = new KafkaOptions { SecurityProtocol = SecurityProtocol.SaslPlaintext, SaslMechanism = SaslMechanism.Plain, SaslUsername = "u" };

        var ex = Assert.Throws<ConfigurationException>(() => options.Validate());

        Assert.Equal("Kafka:SaslPassword", ex.Setting);
    }

    [Fact]
    public void Out_of_range_tuning_fails_naming_the_setting()
    {
        var ex = Assert.Throws<ConfigurationException>(() => new KafkaOptions { FetchQueueBackoffMs = -1 }.Validate());

        Assert.Equal("Kafka:FetchQueueBackoffMs", ex.Setting);
    }

    [Fact]
    public void Topic_names_default_to_the_contract_and_reject_invalid_names()
    {
        var names = new TopicNames();
        names.Validate();
        Assert.Equal(Topics.Readings, names.Readings);
        Assert.Equal(Topics.AlertsDlq, names.AlertsDlq);

        var ex = Assert.Throws<ConfigurationException>(() => new TopicNames { Alerts = "alerts/bad" }.Validate());
        Assert.Equal("Topics:Alerts", ex.Setting);
    }

    [Fact]
    public void A_secured_cluster_is_configured_from_json_alone()
    {
        const string json = """
            {
              "Kafka": {
                "BootstrapServers": "kafka-1:9093,kafka-2:9093",
                "SecurityProtocol": "SaslSsl",
                "SaslMechanism": "ScramSha512",
                "SaslUsername": "smstream",
                "SaslPassword": "pw",
                "SslCaLocation": "/etc/ca.pem",
                "PartitionAssignmentStrategy": "Range",
                "Client": { "socket.keepalive.enable": "true", "client.rack": "az-1" }
              }
            }
            """;
        var configuration = new ConfigurationBuilder().AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json))).Build();

        var options = configuration.GetSection(KafkaOptions.SectionName).Get<KafkaOptions>()!;
        options.Validate();
        var consumer = options.BuildConsumerConfig("g");

        Assert.Equal("kafka-1:9093,kafka-2:9093", consumer.BootstrapServers);
        Assert.Equal(SecurityProtocol.SaslSsl, consumer.SecurityProtocol);
        Assert.Equal(SaslMechanism.ScramSha512, consumer.SaslMechanism);
        Assert.Equal("pw", consumer.SaslPassword);
        Assert.Equal(PartitionAssignmentStrategy.Range, consumer.PartitionAssignmentStrategy);
        Assert.Equal("az-1", consumer.ClientRack);
        Assert.Equal("true", consumer.Get("socket.keepalive.enable"));
    }
}
