using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace SmartMaintenance.Streams.Storage;

/// <summary>What one maintenance run did.</summary>
public readonly record struct MaintenanceResult(int PartitionsCreated, int PartitionsDropped, int RollupRows);

/// <summary>Periodic housekeeping the engine runs beside its writers: partitions ahead, retention, rollups.</summary>
/// <remarks>Native mode does the work; under TimescaleDB partitions and retention are its policies' job and the
/// rollup refresh only nudges the continuous aggregates. Transient failures are logged and retried on the next
/// tick (rows never wait for it: the DEFAULT partition takes them); fatal ones end <see cref="RunAsync"/>.</remarks>
public sealed class StorageMaintenance
{
    private readonly string _connectionString;
    private readonly StorageOptions _options;
    private readonly RollupRefresher _rollups;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    public StorageMaintenance(StorageOptions options, ILogger? logger = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _connectionString = options.ConnectionString;
        _options = options;
        _rollups = new RollupRefresher(options.ConnectionString, options);
        _time = timeProvider ?? TimeProvider.System;
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>Runs at once, then every <see cref="StorageOptions.MaintenanceInterval"/> until cancelled.</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        using var timer = new PeriodicTimer(_options.MaintenanceInterval, _time);
        do
        {
            try
            {
                await RunOnceAsync(_time.GetUtcNow(), ct).ConfigureAwait(false);
            }
            catch (StorageException ex) when (ex.IsTransient)
            {
                Log.MaintenanceDeferred(_logger, ex.Message);
            }
        }
        while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false));
    }

    /// <summary>Creates partitions ahead of <paramref name="now"/>, drops expired ones, refreshes the rollups of the lookback.</summary>
    public async Task<MaintenanceResult> RunOnceAsync(DateTimeOffset now, CancellationToken ct = default)
    {
        try
        {
            var created = await PartitionMaintenance.EnsureAheadAsync(_connectionString, _options, now, ct).ConfigureAwait(false);
            var dropped = await PartitionMaintenance.DropExpiredAsync(_connectionString, _options, now, ct).ConfigureAwait(false);
            var rows = await _rollups.RefreshAsync(now - _options.RollupLookback, now, ct).ConfigureAwait(false);
            if (created + dropped > 0)
            {
                Log.PartitionsMaintained(_logger, created, dropped);
            }
            return new MaintenanceResult(created, dropped, rows);
        }
        catch (Exception ex) when (StorageErrors.Classify(ex) is StorageException se && !ReferenceEquals(se, ex))
        {
            throw se;
        }
    }
}
