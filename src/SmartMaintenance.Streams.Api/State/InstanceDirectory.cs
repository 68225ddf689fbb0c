using Confluent.Kafka;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using SmartMaintenance.Streams.Storage;

namespace SmartMaintenance.Streams.Api.State;

/// <summary>An instance that owns a partition, as last recorded.</summary>
public sealed record InstanceInfo(string InstanceId, string BaseUrl, bool Rebalancing);

/// <summary>
/// Partition → instance metadata for live-state queries (table api_instances): each instance records the partitions of the
/// readings topic it owns every Api:InstanceHeartbeat; a record older than three heartbeats no longer counts.
/// </summary>
public sealed partial class InstanceDirectory(ApiServices services, IServer server, ILogger<InstanceDirectory> logger) : BackgroundService
{
    private volatile int _partitionCount;

    /// <summary>Partitions of the readings topic (0 until known).</summary>
    public int PartitionCount => _partitionCount;

    /// <summary>This instance's base URL (advertised, or the bound address).</summary>
    public string? BaseUrl { get; private set; }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var engine = services.Engine;
        if (engine is null)
        {
            return;
        }
        var period = services.Options.InstanceHeartbeat;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                BaseUrl ??= Address();
                if (_partitionCount == 0)
                {
                    _partitionCount = await Task.Run(PartitionsOfTopic, stoppingToken);
                }
                if (BaseUrl is not null && _partitionCount > 0)
                {
                    await RecordAsync(engine, stoppingToken);
                }
            }
            catch (Exception ex) when (ex is NpgsqlException or KafkaException)
            {
                LogHeartbeatFailed(logger, ex.Message);
            }
            try
            {
                await Task.Delay(period, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    private string? Address()
    {
        if (services.Options.AdvertisedUrl.Length > 0)
        {
            return services.Options.AdvertisedUrl.TrimEnd('/');
        }
        var address = server.Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault();
        return address?.Replace("0.0.0.0", "127.0.0.1", StringComparison.Ordinal).Replace("[::]", "[::1]", StringComparison.Ordinal).TrimEnd('/');
    }

    private int PartitionsOfTopic()
    {
        using var admin = new AdminClientBuilder(services.Kafka.BuildAdminClientConfig()).Build();
        var meta = admin.GetMetadata(services.Topics.Readings, TimeSpan.FromSeconds(5));
        var topic = meta.Topics.FirstOrDefault();
        return topic is null || topic.Error.IsError ? 0 : topic.Partitions.Count;
    }

    private async Task RecordAsync(EngineView engine, CancellationToken ct)
    {
        var partitions = engine.AssignedPartitions();
        var rebalancing = engine.Live.Restoring.Count > 0;
        await using var cmd = services.DataSource.CreateCommand($"""
            INSERT INTO {Schema.InstancesTable} (instance_id, base_url, topic, partitions, partition_count, rebalancing, updated_at)
            VALUES ($1, $2, $3, $4, $5, $6, now())
            ON CONFLICT (instance_id) DO UPDATE SET base_url = excluded.base_url, partitions = excluded.partitions,
                partition_count = excluded.partition_count, rebalancing = excluded.rebalancing, updated_at = now()
            """);
        cmd.Parameters.AddWithValue(engine.InstanceId);
        cmd.Parameters.AddWithValue(BaseUrl!);
        cmd.Parameters.AddWithValue(services.Topics.Readings);
        cmd.Parameters.AddWithValue(partitions);
        cmd.Parameters.AddWithValue(_partitionCount);
        cmd.Parameters.AddWithValue(rebalancing);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>The live instance recorded as owning <paramref name="partition"/>, or null (none: a rebalance is under way).</summary>
    public async Task<InstanceInfo?> OwnerAsync(int partition, CancellationToken ct)
    {
        var stale = services.Options.InstanceHeartbeat * 3;
        await using var cmd = services.DataSource.CreateCommand($"""
            SELECT instance_id, base_url, rebalancing FROM {Schema.InstancesTable}
            WHERE topic = $1 AND $2 = ANY (partitions) AND updated_at > now() - $3::interval
            ORDER BY updated_at DESC LIMIT 1
            """);
        cmd.Parameters.AddWithValue(services.Topics.Readings);
        cmd.Parameters.AddWithValue(partition);
        cmd.Parameters.AddWithValue(stale);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? new InstanceInfo(reader.GetString(0), reader.GetString(1), reader.GetBoolean(2)) : null;
    }

    /// <summary>Partition count recorded by any live instance (when this one has not learnt it yet).</summary>
    public async Task<int> KnownPartitionCountAsync(CancellationToken ct)
    {
        if (_partitionCount > 0)
        {
            return _partitionCount;
        }
        await using var cmd = services.DataSource.CreateCommand(
            $"SELECT max(partition_count) FROM {Schema.InstancesTable} WHERE topic = $1");
        cmd.Parameters.AddWithValue(services.Topics.Readings);
        return await cmd.ExecuteScalarAsync(ct) is int n ? n : 0;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Operator API: cannot record this instance's partitions ({Reason})")]
    private static partial void LogHeartbeatFailed(ILogger logger, string reason);
}
