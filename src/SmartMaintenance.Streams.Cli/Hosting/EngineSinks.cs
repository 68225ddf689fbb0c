using Microsoft.Extensions.Logging;
using Npgsql;
using SmartMaintenance.Streams.Storage;

namespace SmartMaintenance.Streams.Cli.Hosting;

/// <summary>Storage:WriterConnections retrying sinks over one data source; transient errors (outage, failover) are retried.</summary>
internal sealed class EngineSinks : IAsyncDisposable
{
    private readonly NpgsqlDataSource _dataSource;

    public EngineSinks(StorageOptions options, ILoggerFactory loggers)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(loggers);
        var logger = loggers.CreateLogger("SmartMaintenance.Streams.Storage");
        _dataSource = PostgresSink.CreateDataSource(options);
        var sinks = new IStorageSink[options.WriterConnections];
        for (var i = 0; i < sinks.Length; i++)
        {
            sinks[i] = new RetryingSink(new PostgresSink(_dataSource, options, logger), options, logger);
        }
        Sinks = sinks;
    }

    public IReadOnlyList<IStorageSink> Sinks { get; }

    public async ValueTask DisposeAsync()
    {
        foreach (var sink in Sinks)
        {
            await sink.DisposeAsync().ConfigureAwait(false);
        }
        await _dataSource.DisposeAsync().ConfigureAwait(false);
    }
}
