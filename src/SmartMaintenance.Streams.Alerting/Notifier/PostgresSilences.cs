using Microsoft.Extensions.Logging;
using Npgsql;
using SmartMaintenance.Streams.Contracts;

namespace SmartMaintenance.Streams.Alerting.Notifier;

/// <summary>
/// Silences from the table alert_silences (written by the operator API), re-read every <c>refresh</c>. The dispatcher
/// reads the last snapshot without waiting; a failed refresh keeps the previous one (logged) rather than notifying
/// through a silence an operator set.
/// </summary>
public sealed partial class PostgresSilences : ISilenceSource, IAsyncDisposable
{
    private const string Sql = """
        SELECT silence_id, asset_id, sensor_id, sensor_type, detector, starts_at, ends_at, reason
        FROM alert_silences WHERE expired_at IS NULL AND ends_at > now()
        """;

    private readonly NpgsqlDataSource _dataSource;
    private readonly ILogger _logger;
    private readonly PeriodicTimer _timer;
    private readonly Task _loop;
    private readonly CancellationTokenSource _stop = new();
    private Silence[] _silences = [];

    private PostgresSilences(NpgsqlDataSource dataSource, TimeSpan refresh, ILogger logger)
    {
        _dataSource = dataSource;
        _logger = logger;
        _timer = new PeriodicTimer(refresh);
        _loop = Task.Run(LoopAsync);
    }

    /// <summary>Reads the silences once (so the first record already sees them), then keeps them fresh.</summary>
    public static async Task<PostgresSilences> StartAsync(NpgsqlDataSource dataSource, TimeSpan refresh, ILogger logger, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        ArgumentNullException.ThrowIfNull(logger);
        var source = new PostgresSilences(dataSource, refresh, logger);
        try
        {
            await source.RefreshAsync(ct).ConfigureAwait(false);
        }
        catch (NpgsqlException ex)
        {
            LogRefreshFailed(logger, ex.Message);
        }
        return source;
    }

    public Silence? Find(AlertEvent alert, DateTimeOffset now)
    {
        foreach (var s in Volatile.Read(ref _silences))
        {
            if (s.IsActive(now) && s.Matches(alert))
            {
                return s;
            }
        }
        return null;
    }

    public async Task RefreshAsync(CancellationToken ct)
    {
        await using var cmd = _dataSource.CreateCommand(Sql);
        await using var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        var list = new List<Silence>();
        while (await reader.ReadAsync(ct).ConfigureAwait(false))
        {
            list.Add(new Silence(reader.GetString(0), Text(reader, 1), Text(reader, 2), Text(reader, 3), Text(reader, 4),
                reader.GetFieldValue<DateTimeOffset>(5), reader.GetFieldValue<DateTimeOffset>(6), reader.GetString(7)));
        }
        Volatile.Write(ref _silences, [.. list]);
    }

    private static string? Text(NpgsqlDataReader reader, int i) => reader.IsDBNull(i) ? null : reader.GetString(i);

    private async Task LoopAsync()
    {
        try
        {
            while (await _timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false))
            {
                try
                {
                    await RefreshAsync(_stop.Token).ConfigureAwait(false);
                }
                catch (NpgsqlException ex)
                {
                    LogRefreshFailed(_logger, ex.Message);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Disposed.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _timer.Dispose();
        await _loop.ConfigureAwait(false);
        _stop.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Notifier: cannot read silences ({Reason}); the previous ones stay in force")]
    private static partial void LogRefreshFailed(ILogger logger, string reason);
}
