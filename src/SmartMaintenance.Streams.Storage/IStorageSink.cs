namespace SmartMaintenance.Streams.Storage;

/// <summary>Writes batches atomically together with the Kafka offsets they cover.</summary>
public interface IStorageSink : IAsyncDisposable
{
    /// <summary>Writes the whole batch and its offset marks in one transaction, or nothing.</summary>
    /// <exception cref="StorageException">Classified failure; the transaction was rolled back. If the connection
    /// dropped during COMMIT the outcome is unknown, and retrying the same batch is still safe: readings below the
    /// stored offsets are skipped and everything else is an upsert.</exception>
    Task WriteAsync(StorageBatch batch, CancellationToken ct);

    /// <summary>As <see cref="WriteAsync(StorageBatch, CancellationToken)"/>, but the commit waits for
    /// <paramref name="beforeCommit"/> (and fails with it, rolled back): work the batch's offsets must not be committed
    /// before (the engine's DLQ/alert producers flushing) runs alongside the transaction instead of ahead of it.</summary>
    async Task WriteAsync(StorageBatch batch, Task beforeCommit, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(beforeCommit);
        await beforeCommit.ConfigureAwait(false);
        await WriteAsync(batch, ct).ConfigureAwait(false);
    }

    /// <summary>Optional: does the part of writing <paramref name="batch"/> that needs no connection now, off the writer
    /// (called once the batch is complete and before its write; the batch does not change in between). A sink that
    /// prepares nothing ignores it; a write whose preparation is missing or no longer fits does the work itself.</summary>
    void Prepare(StorageBatch batch)
    {
    }

    /// <summary>Stored offsets of a consumer group on a topic, by partition.</summary>
    Task<IReadOnlyDictionary<int, OffsetMark>> LoadOffsetsAsync(string group, string topic, CancellationToken ct);

    /// <summary>Streams the stored detector state rows of <paramref name="partitions"/> to <paramref name="onRow"/>.</summary>
    /// <returns>Rows loaded.</returns>
    Task<int> LoadDetectorStateAsync(string group, string topic, IReadOnlyCollection<int> partitions, DetectorStateHandler onRow, CancellationToken ct);
}
