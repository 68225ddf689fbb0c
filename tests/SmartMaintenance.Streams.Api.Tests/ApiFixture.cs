using System.Net.Http.Headers;
using System.Security.Claims;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using SmartMaintenance.Streams.Alerting;
using SmartMaintenance.Streams.Api.Security;
using SmartMaintenance.Streams.Api.State;
using SmartMaintenance.Streams.Engine;
using SmartMaintenance.Streams.Engine.Stages;
using SmartMaintenance.Streams.Ingest;
using SmartMaintenance.Streams.Kafka;
using SmartMaintenance.Streams.Observability;
using SmartMaintenance.Streams.Scoring;
using SmartMaintenance.Streams.Storage;
using SmartMaintenance.Streams.Testing;
using SmartMaintenance.Streams.Windowing;
using Xunit;

namespace SmartMaintenance.Streams.Api.Tests;

/// <summary>
/// One running instance for the API tests, all real parts: the embedded broker, a throwaway PostgreSQL, the engine
/// consuming the readings topic, and its HTTP host (Kestrel on a free loopback port) serving /metrics, /health and
/// /api/v1. Keys for each role are created through <see cref="ApiKeyStore"/> as `smstream apikey create` does.
/// </summary>
public sealed class ApiFixture : IAsyncLifetime
{
    private readonly int _instanceCount;

    public ApiFixture()
        : this(1)
    {
    }

    /// <summary>xunit needs one public constructor; <see cref="ScaleOutFixture"/> asks for more instances.</summary>
    internal ApiFixture(int instances) => _instanceCount = instances;

    public const string JwtIssuer = "https://issuer.test";
    public static readonly string JwtKey = Convert.ToBase64String(Encoding.UTF8.GetBytes("smstream-api-tests-signing-key-0123456789"));

    private readonly CancellationTokenSource _stop = new();
    private readonly List<Instance> _instances = [];

    public KafkaFixture Kafka { get; } = new();
    public PostgresFixture Postgres { get; } = new();
    public string Database { get; private set; } = "";
    public TopicNames Topics { get; private set; } = null!;
    public string Group { get; } = "api-engine-" + Guid.NewGuid().ToString("N")[..8];
    public Instance Main => _instances[0];
    public HttpClient Http { get; private set; } = null!;
    public Dictionary<string, string> Keys { get; } = new(StringComparer.Ordinal);
    public string RevokedKey { get; private set; } = "";
    public string SlowKey { get; private set; } = "";

    /// <summary>An engine with its API.</summary>
    public sealed record Instance(StreamEngine Engine, ApiServices Services, ObservabilityServer Server, LiveState Live, Task Run, RetryingSink Sink);

    public async Task InitializeAsync()
    {
        await Kafka.InitializeAsync();
        await Postgres.InitializeAsync();
        Database = await Postgres.CreateDatabaseAsync();
        Topics = new TopicNames
        {
            Readings = Kafka.CreateUniqueTopic("api-readings", 4),
            ReadingsDlq = Kafka.CreateUniqueTopic("api-readings-dlq", 1),
            Alerts = Kafka.CreateUniqueTopic("api-alerts", 1),
            AlertsDlq = Kafka.CreateUniqueTopic("api-alerts-dlq", 1),
        };
        // All instances join the group together: one assignment instead of a rebalance per instance.
        _instances.Add(await StartInstanceAsync());
        for (var i = 1; i < _instanceCount; i++)
        {
            await StartInstanceAsync();
        }
        Http = Client(Main);
        var store = new ApiKeyStore(Main.Services.DataSource, TimeSpan.Zero);
        foreach (var role in Roles.All)
        {
            Keys[role] = (await store.CreateAsync("tests-" + role, role, null)).Key;
        }
        var revoked = await store.CreateAsync("tests-revoked", Roles.Admin, null);
        await store.RevokeAsync(revoked.Info.KeyId);
        RevokedKey = revoked.Key;
        SlowKey = (await store.CreateAsync("tests-slow", Roles.Viewer, 1)).Key;
        foreach (var i in _instances)
        {
            await WaitOwnedAsync(i, 4 / _instanceCount);
        }
    }

    /// <summary>Every running instance (the first is <see cref="Main"/>).</summary>
    public IReadOnlyList<Instance> Instances => _instances;

    /// <summary>Waits until <paramref name="instance"/> owns <paramref name="partitions"/> partitions, restored, and has recorded them.</summary>
    public async Task WaitOwnedAsync(Instance instance, int partitions)
    {
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (true)
        {
            await using var cmd = instance.Services.DataSource.CreateCommand(
                "SELECT coalesce(cardinality(partitions), 0) FROM api_instances WHERE instance_id = $1 AND NOT rebalancing");
            cmd.Parameters.AddWithValue(instance.Services.Engine!.InstanceId);
            if (await cmd.ExecuteScalarAsync() is int n && n == partitions && instance.Engine.AssignedPartitions.Length == partitions
                && instance.Live.Restoring.Count == 0)
            {
                return;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"instance did not come to own {partitions} partitions within 90 s");
            }
            await Task.Delay(100);
        }
    }

    /// <summary>Another engine in the same consumer group with its own API (partitions are then shared).</summary>
    public async Task<Instance> StartInstanceAsync()
    {
        var storage = new StorageOptions { ConnectionString = Database, BatchMaxDelay = TimeSpan.FromMilliseconds(50) };
        var sink = new RetryingSink(new PostgresSink(storage), storage);
        var live = new LiveState();
        var stages = new PipelineStages(new RxWindowStage(new WindowingSettings()), new DetectorPipeline(new ScoringOptions()), new AlertTracker(new AlertOptions()))
        {
            Live = live,
        };
        var validation = new ValidationOptions();
        var engine = new StreamEngine(new EngineOptions { ConsumerGroup = Group }, storage, Kafka.Options, Topics, validation, sink, stages);
        var overrides = new SensorOverrides();
        engine.SensorOverrides = overrides;
        var options = new ApiOptions
        {
            RateLimitPerSecond = 100_000,
            RateLimitBurst = 100_000,
            JwtIssuer = JwtIssuer,
            JwtSigningKeys = [JwtKey],
            InstanceHeartbeat = TimeSpan.FromMilliseconds(300),
            RegistryRefresh = TimeSpan.FromMilliseconds(500),
        };
        var services = new ApiServices(options, Database, Kafka.Options, Topics, validation, new ScoringOptions(), new AlertOptions { Topic = Topics.Alerts },
            overrides, new EngineView(live, () => engine.AssignedPartitions));
        var server = await ObservabilityServer.StartAsync("engine", new HttpOptions { Listen = "127.0.0.1:0" }, [], module: new ApiModule(services));
        var run = engine.RunAsync(_stop.Token);
        var instance = new Instance(engine, services, server, live, run, sink);
        if (_instances.Count > 0)
        {
            _instances.Add(instance);
        }
        return instance;
    }

    public static HttpClient Client(Instance instance) => new() { BaseAddress = instance.Server.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };

    /// <summary>A request with the credentials of <paramref name="who"/>: a role (its API key), "none", "revoked", "bad", or "jwt:ROLE".</summary>
    public HttpRequestMessage Request(HttpMethod method, string path, string who, string? json = null)
    {
        var request = new HttpRequestMessage(method, path);
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }
        switch (who)
        {
            case "none":
                break;
            case "revoked":
                request.Headers.Add(ApiKeyAuthentication.Header, RevokedKey);
                break;
            case "bad":
                request.Headers.Add(ApiKeyAuthentication.Header, "smk_0000_notakey");
                break;
            case var jwt when jwt.StartsWith("jwt:", StringComparison.Ordinal):
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Token(jwt[4..]));
                break;
            default:
                request.Headers.Add(ApiKeyAuthentication.Header, Keys[who]);
                break;
        }
        return request;
    }

    public async Task<(int Status, JsonNode? Body, HttpResponseMessage Response)> SendAsync(HttpMethod method, string path, string who, string? json = null,
        HttpClient? client = null)
    {
        using var request = Request(method, path, who, json);
        var response = await (client ?? Http).SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        JsonNode? body = null;
        if (text.Length > 0 && (text[0] == '{' || text[0] == '['))
        {
            body = JsonNode.Parse(text);
        }
        return ((int)response.StatusCode, body, response);
    }

    public static string Token(string role, string issuer = JwtIssuer, string? key = null, DateTime? expires = null)
    {
        var handler = new JsonWebTokenHandler();
        return handler.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer,
            Audience = "smstream",
            Subject = new ClaimsIdentity([new Claim("sub", "tester-" + role), new Claim("role", role)]),
            Expires = expires ?? DateTime.UtcNow.AddMinutes(10),
            NotBefore = (expires ?? DateTime.UtcNow.AddMinutes(10)).AddMinutes(-20),
            SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(Convert.FromBase64String(key ?? JwtKey)), SecurityAlgorithms.HmacSha256),
        });
    }

    public async Task DisposeAsync()
    {
        await _stop.CancelAsync();
        foreach (var i in _instances)
        {
            try
            {
                await i.Run;
            }
            catch (OperationCanceledException)
            {
                // Stopped.
            }
            await i.Server.DisposeAsync();
            await i.Services.DisposeAsync();
            await i.Sink.DisposeAsync();
        }
        Http?.Dispose();
        await Postgres.DisposeAsync();
        await Kafka.DisposeAsync();
        _stop.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class ApiCollection : ICollectionFixture<ApiFixture>
{
    public const string Name = "api";
}
