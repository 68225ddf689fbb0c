namespace SmartMaintenance.Streams.Storage;

/// <summary>Writes batches atomically together with the Kafka offsets they cover.</summary>
public interface IStorageSink : IAsyncDisposable
{
    /// <summary>Writes the whole batch and its offset marks in one transaction, or nothing.</summary>
    /// <exception cref="StorageException">Classified failure; the transaction was rolled back. If the connection
    /// dropped during COMMIT the outcome is unknown, and retrying the same batch is still safe: readings below the
    /// stored offsets are skipped and everything else is an upsert.</exception>
    Task WriteAsync(StorageBatch batch, CancellationToken ct);

    /// <summary>Stored offsets of a consumer group on a topic, by partition.</summary>
    Task<IReadOnlyDictionary<int, OffsetMark>> LoadOffsetsAsync(string group, string topic, CancellationToken ct);

    /// <summary>Streams the stored detector state rows of <paramref name="partitions"/> to <paramref name="onRow"/>.</summary>
    /// <returns>Rows loaded.</returns>
    Task<int> LoadDetectorStateAsync(string group, string topic, IReadOnlyCollection<int> partitions, DetectorStateHandler onRow, CancellationToken ct);
}
