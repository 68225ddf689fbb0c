using Confluent.Kafka;
using Npgsql;
using SmartMaintenance.Streams.Alerting;
using SmartMaintenance.Streams.Ingest;
using SmartMaintenance.Streams.Kafka;
using SmartMaintenance.Streams.Scoring;
using SmartMaintenance.Streams.Api.State;

namespace SmartMaintenance.Streams.Api;

/// <summary>What the API's endpoints share: settings, the database, producers and the engine's read-only views.</summary>
public sealed class ApiServices : IAsyncDisposable
{
    private readonly Lazy<IProducer<string, byte[]>> _readings;
    private readonly Lazy<AlertPublisher> _alerts;

    public ApiServices(ApiOptions options, string connectionString, KafkaOptions kafka, TopicNames topics, ValidationOptions validation,
        ScoringOptions scoring, AlertOptions alerts, SensorOverrides overrides, EngineView? engine = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        ArgumentNullException.ThrowIfNull(kafka);
        ArgumentNullException.ThrowIfNull(topics);
        ArgumentNullException.ThrowIfNull(validation);
        ArgumentNullException.ThrowIfNull(scoring);
        ArgumentNullException.ThrowIfNull(alerts);
        ArgumentNullException.ThrowIfNull(overrides);
        options.Validate();
        Options = options;
        DataSource = NpgsqlDataSource.Create(connectionString);
        Kafka = kafka;
        Topics = topics;
        Validation = validation;
        Scoring = scoring;
        AlertOptions = alerts;
        Overrides = overrides;
        Engine = engine;
        _readings = new Lazy<IProducer<string, byte[]>>(() =>
        {
            var cfg = kafka.BuildProducerConfig();
            cfg.Acks = Acks.All;
            cfg.EnableIdempotence = true;
            cfg.LingerMs = 1;
            return new ProducerBuilder<string, byte[]>(cfg).Build();
        });
        _alerts = new Lazy<AlertPublisher>(() => new AlertPublisher(kafka.BuildAlertProducerConfig(), alerts));
    }

    public ApiOptions Options { get; }
    public NpgsqlDataSource DataSource { get; }
    public KafkaOptions Kafka { get; }
    public TopicNames Topics { get; }
    public ValidationOptions Validation { get; }
    public ScoringOptions Scoring { get; }
    public AlertOptions AlertOptions { get; }
    /// <summary>The sensor registry as validation applies it (shared with the engine's decoder).</summary>
    public SensorOverrides Overrides { get; }
    /// <summary>The engine in this process (live state), or null when the API runs without one.</summary>
    public EngineView? Engine { get; }

    /// <summary>acks=all, idempotent producer of readings (ingest).</summary>
    public IProducer<string, byte[]> Readings => _readings.Value;

    /// <summary>Publisher of operators' alert events.</summary>
    public AlertPublisher Alerts => _alerts.Value;

    public async ValueTask DisposeAsync()
    {
        if (_readings.IsValueCreated)
        {
            _readings.Value.Flush(TimeSpan.FromSeconds(10));
            _readings.Value.Dispose();
        }
        if (_alerts.IsValueCreated)
        {
            _alerts.Value.Flush(TimeSpan.FromSeconds(10));
            _alerts.Value.Dispose();
        }
        await DataSource.DisposeAsync();
    }
}
