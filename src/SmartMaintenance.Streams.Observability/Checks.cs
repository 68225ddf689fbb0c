using System.Globalization;
using Confluent.Kafka;
using Npgsql;
using SmartMaintenance.Streams.Engine;
using SmartMaintenance.Streams.Kafka;

namespace SmartMaintenance.Streams.Observability;

/// <summary>Kafka is reachable: the cluster answers a metadata request for the topic, which exists.</summary>
public sealed class KafkaReachableCheck : IReadinessCheck, IDisposable
{
    private readonly IAdminClient _admin;
    private readonly string _topic;
    private readonly Lock _lock = new();
    private readonly TimeSpan _timeout;

    /// <param name="timeout">How long the metadata request may take; keep it below the readiness check timeout so a
    /// dead cluster reports librdkafka's reason rather than a bare timeout.</param>
    public KafkaReachableCheck(ClientConfig config, string topic, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentException.ThrowIfNullOrWhiteSpace(topic);
        // One long-lived admin client: its connections are reused by every probe.
        _admin = new AdminClientBuilder(new AdminClientConfig(config)).SetLogHandler(static (_, _) => { }).Build();
        _topic = topic;
        _timeout = timeout ?? TimeSpan.FromSeconds(2);
    }

    public string Name => "kafka";

    public Task<CheckResult> CheckAsync(CancellationToken cancellationToken) => Task.Run(() =>
    {
        try
        {
            Metadata metadata;
            lock (_lock)
            {
                metadata = _admin.GetMetadata(_topic, _timeout);
            }
            var topic = metadata.Topics.Find(t => t.Topic == _topic);
            if (topic is null || topic.Error.IsError)
            {
                return CheckResult.Fail($"topic {_topic}: {topic?.Error.Reason ?? "missing"}");
            }
            return CheckResult.Pass(string.Create(CultureInfo.InvariantCulture, $"{metadata.Brokers.Count} brokers, {_topic}: {topic.Partitions.Count} partitions"));
        }
        catch (KafkaException ex)
        {
            return CheckResult.Fail(ex.Error.Reason);
        }
    }, cancellationToken);

    public void Dispose() => _admin.Dispose();
}

/// <summary>The database answers a round trip (<c>SELECT 1</c>) within the check timeout.</summary>
public sealed class DatabaseReachableCheck : IReadinessCheck, IAsyncDisposable
{
    private readonly NpgsqlDataSource _dataSource;

    public DatabaseReachableCheck(string connectionString, TimeSpan timeout)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        var builder = new NpgsqlConnectionStringBuilder(connectionString)
        {
            Timeout = Math.Max(1, (int)Math.Ceiling(timeout.TotalSeconds)),
            CommandTimeout = Math.Max(1, (int)Math.Ceiling(timeout.TotalSeconds)),
            MaxPoolSize = 2,
            ApplicationName = "smstream-health",
        };
        _dataSource = NpgsqlDataSource.Create(builder.ConnectionString);
    }

    public string Name => "database";

    public async Task<CheckResult> CheckAsync(CancellationToken cancellationToken)
    {
        try
        {
            await using var cmd = _dataSource.CreateCommand("SELECT 1");
            await cmd.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
            return CheckResult.Pass("reachable");
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException or InvalidOperationException)
        {
            // A dead pooled connection is not reused by the next probe.
            NpgsqlConnection.ClearAllPools();
            return CheckResult.Fail(ex.Message);
        }
    }

    public ValueTask DisposeAsync() => _dataSource.DisposeAsync();
}

/// <summary>The readiness checks of an engine instance and the gauges derived from its state.</summary>
public static class EngineHealth
{
    /// <summary>Kafka reachable, partitions assigned, database reachable, not stuck.</summary>
    public static IReadOnlyList<IReadinessCheck> Checks(StreamEngine engine, KafkaOptions kafka, string topic, string connectionString, HttpOptions options)
    {
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentNullException.ThrowIfNull(kafka);
        ArgumentNullException.ThrowIfNull(options);
        engine.Probe.SilentAfter = options.SensorSilentAfter;
        ObservabilityMetrics.TrackEngine(engine);
        return
        [
            new KafkaReachableCheck(kafka.BuildAdminClientConfig(), topic, MetadataTimeout(options)),
            new DelegateCheck("partitions", () => Assigned(engine)),
            new DatabaseReachableCheck(connectionString, options.CheckTimeout),
            new DelegateCheck("progress", () => Progress(engine.Probe, options.StuckAfter)),
        ];
    }

    internal static TimeSpan MetadataTimeout(HttpOptions options) => options.CheckTimeout * 0.8;

    public static CheckResult Assigned(StreamEngine engine)
    {
        ArgumentNullException.ThrowIfNull(engine);
        var n = engine.AssignedPartitions.Length;
        return n > 0
            ? CheckResult.Pass(string.Create(CultureInfo.InvariantCulture, $"{n} partitions assigned"))
            : CheckResult.Fail("no partitions assigned (joining the group, or more instances than partitions)");
    }

    /// <summary>Stuck: input is waiting (lag or buffered records) and nothing was committed for <paramref name="stuckAfter"/>.</summary>
    public static CheckResult Progress(EngineProbe probe, TimeSpan stuckAfter)
    {
        ArgumentNullException.ThrowIfNull(probe);
        var lag = probe.TotalLag;
        var buffered = probe.BufferedRecords;
        var since = probe.SinceLastProgress;
        var waiting = lag > 0 || buffered > 0;
        var detail = string.Create(CultureInfo.InvariantCulture,
            $"lag {(lag < 0 ? "unknown" : lag.ToString(CultureInfo.InvariantCulture))}, buffered {buffered}, last commit {since.TotalSeconds:0.0} s ago");
        return waiting && since > stuckAfter ? CheckResult.Fail("stuck: " + detail) : CheckResult.Pass(detail);
    }
}

/// <summary>The readiness checks of a notifier: Kafka reachable (alerts topic), database reachable (delivery log).</summary>
public static class NotifierHealth
{
    public static IReadOnlyList<IReadinessCheck> Checks(SmartMaintenance.Streams.Alerting.Notifier.NotifierOptions notifier, HttpOptions options)
    {
        ArgumentNullException.ThrowIfNull(notifier);
        ArgumentNullException.ThrowIfNull(options);
        var config = new ClientConfig { BootstrapServers = notifier.BootstrapServers };
        foreach (var (key, value) in notifier.Kafka)
        {
            config.Set(key, value);
        }
        return
        [
            new KafkaReachableCheck(config, notifier.Topic, EngineHealth.MetadataTimeout(options)),
            new DatabaseReachableCheck(notifier.ConnectionString, options.CheckTimeout),
        ];
    }
}
