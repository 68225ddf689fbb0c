using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace SmartMaintenance.Streams.Api.Sensors;

/// <summary>Re-reads the sensor registry every Api:RegistryRefresh into the overrides validation applies, so changes made
/// through another instance apply here too.</summary>
public sealed partial class RegistryRefresher(ApiServices services, ILogger<RegistryRefresher> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var registry = new SensorRegistry(services.DataSource);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await registry.LoadAsync(services.Overrides, stoppingToken);
            }
            catch (NpgsqlException ex)
            {
                LogRefreshFailed(logger, ex.Message);
            }
            try
            {
                await Task.Delay(services.Options.RegistryRefresh, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Operator API: cannot read the sensor registry ({Reason}); the previous one stays in force")]
    private static partial void LogRefreshFailed(ILogger logger, string reason);
}
