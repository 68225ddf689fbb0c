using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Polly;
using Polly.Retry;

namespace SmartMaintenance.Streams.Storage;

/// <summary>A transient failure about to be retried.</summary>
public sealed class StorageRetryEventArgs(int attempt, TimeSpan delay, StorageException error) : EventArgs
{
    /// <summary>1 for the first retry.</summary>
    public int Attempt { get; } = attempt;
    public TimeSpan Delay { get; } = delay;
    public StorageException Error { get; } = error;
}

/// <summary>Retries transient storage failures with exponential backoff and jitter; fatal ones pass through.</summary>
/// <remarks>Each attempt is a fresh transaction of the inner sink, so a failed attempt commits nothing.
/// While retrying, <see cref="IsRetrying"/> is true and <see cref="Retrying"/> fires per attempt, so the engine
/// can pause its Kafka consumer; <see cref="Recovered"/> fires once the write succeeds again.</remarks>
public sealed class RetryingSink : IStorageSink
{
    private readonly IStorageSink _inner;
    private readonly ILogger _logger;
    private readonly ResiliencePipeline _pipeline;
    private int _consecutive;
    private long _retries;

    public RetryingSink(IStorageSink inner, StorageOptions options, ILogger? logger = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(inner);
        ArgumentNullException.ThrowIfNull(options);
        StorageMetrics.Retries.Inc(0);
        _inner = inner;
        _logger = logger ?? NullLogger.Instance;
        _pipeline = CreatePipeline(options, OnRetryAsync, timeProvider);
    }

    /// <summary>Raised before each retry delay (on the writer's thread; keep handlers short).</summary>
    public event EventHandler<StorageRetryEventArgs>? Retrying;

    /// <summary>Raised when a write succeeds after one or more retries.</summary>
    public event EventHandler? Recovered;

    /// <summary>True from the first transient failure of a write until it succeeds or fails fatally.</summary>
    public bool IsRetrying => Volatile.Read(ref _consecutive) > 0;

    /// <summary>Retries since creation (for a metric).</summary>
    public long RetryCount => Interlocked.Read(ref _retries);

    /// <summary>The retry policy of the sink, for callers that run their own storage operations.</summary>
    public static ResiliencePipeline CreatePipeline(StorageOptions options, Func<OnRetryArguments<object>, ValueTask>? onRetry = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var retry = new RetryStrategyOptions
        {
            ShouldHandle = new PredicateBuilder().Handle<StorageException>(static e => e.IsTransient),
            BackoffType = DelayBackoffType.Exponential,
            UseJitter = true,
            Delay = options.RetryBaseDelay,
            MaxDelay = options.RetryMaxDelay,
            MaxRetryAttempts = options.RetryMaxAttempts == 0 ? int.MaxValue : options.RetryMaxAttempts,
            OnRetry = onRetry,
        };
        var builder = new ResiliencePipelineBuilder().AddRetry(retry);
        if (timeProvider is not null)
        {
            builder.TimeProvider = timeProvider;
        }
        return builder.Build();
    }

    public async Task WriteAsync(StorageBatch batch, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(batch);
        await ExecuteAsync(static (s, b, c) => new ValueTask(s.WriteAsync(b, c)), batch, ct).ConfigureAwait(false);
    }

    public async Task<IReadOnlyDictionary<int, OffsetMark>> LoadOffsetsAsync(string group, string topic, CancellationToken ct)
    {
        IReadOnlyDictionary<int, OffsetMark>? result = null;
        await ExecuteAsync(async (s, _, c) => result = await s.LoadOffsetsAsync(group, topic, c).ConfigureAwait(false), (StorageBatch?)null, ct).ConfigureAwait(false);
        return result!;
    }

    public async Task<int> LoadDetectorStateAsync(string group, string topic, IReadOnlyCollection<int> partitions, DetectorStateHandler onRow, CancellationToken ct)
    {
        var rows = 0;
        // A retried attempt hands the rows over again; restoring a sensor twice replaces it with the same state.
        await ExecuteAsync(async (s, _, c) => rows = await s.LoadDetectorStateAsync(group, topic, partitions, onRow, c).ConfigureAwait(false), (StorageBatch?)null, ct).ConfigureAwait(false);
        return rows;
    }

    public ValueTask DisposeAsync() => _inner.DisposeAsync();

    private async Task ExecuteAsync<T>(Func<IStorageSink, T, CancellationToken, ValueTask> op, T arg, CancellationToken ct)
    {
        try
        {
            await _pipeline.ExecuteAsync(
                static (state, c) => state.op(state.inner, state.arg, c),
                (op, inner: _inner, arg),
                ct).ConfigureAwait(false);
        }
        catch (StorageException ex)
        {
            Interlocked.Exchange(ref _consecutive, 0);
            StorageMetrics.Fatal.Inc();
            Log.WriteFatal(_logger, ex.Message, ex);
            throw;
        }
        catch (OperationCanceledException)
        {
            Interlocked.Exchange(ref _consecutive, 0);
            throw;
        }
        var retried = Interlocked.Exchange(ref _consecutive, 0);
        if (retried > 0)
        {
            Log.WriteRecovered(_logger, retried);
            Recovered?.Invoke(this, EventArgs.Empty);
        }
    }

    private ValueTask OnRetryAsync(OnRetryArguments<object> args)
    {
        if (args.Outcome.Exception is StorageException error)
        {
            Interlocked.Increment(ref _consecutive);
            Interlocked.Increment(ref _retries);
            StorageMetrics.Transient.Inc();
            StorageMetrics.Retries.Inc();
            Log.WriteRetrying(_logger, args.AttemptNumber + 1, args.RetryDelay.TotalMilliseconds, error.Message);
            Retrying?.Invoke(this, new StorageRetryEventArgs(args.AttemptNumber + 1, args.RetryDelay, error));
        }
        return default;
    }
}
