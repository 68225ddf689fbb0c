using Npgsql;

namespace SmartMaintenance.Streams.Alerting.Notifier;

/// <summary>Outcomes recorded in <c>alert_deliveries.outcome</c>.</summary>
public static class DeliveryOutcomes
{
    /// <summary>Claimed; delivery in progress or interrupted (may or may not have reached the receiver).</summary>
    public const string Pending = "pending";
    public const string Delivered = "delivered";
    /// <summary>Held back by the rate limit; goes out in the channel's next digest.</summary>
    public const string Held = "held";
    /// <summary>Delivered as part of a digest.</summary>
    public const string Digested = "digested";
    public const string DeadLettered = "dead_lettered";
}

public enum ClaimState
{
    /// <summary>First time this event meets this channel: deliver.</summary>
    New,
    /// <summary>A previous attempt was interrupted (row still pending): deliver again with the same idempotency key.</summary>
    Interrupted,
    /// <summary>Already delivered, held for a digest or dead-lettered: do nothing.</summary>
    Done,
}

/// <summary>The notifier's dedup log: one row per (event key, channel).</summary>
public interface IDeliveryLog
{
    ValueTask<ClaimState> ClaimAsync(string eventKey, string channel, CancellationToken cancellationToken);

    ValueTask MarkAsync(string eventKey, string channel, string outcome, CancellationToken cancellationToken);

    /// <summary>Event keys held back for <paramref name="channel"/>'s digest, oldest first.</summary>
    ValueTask<IReadOnlyList<string>> ListHeldAsync(string channel, CancellationToken cancellationToken);

    /// <summary>Moves the given held rows to <paramref name="outcome"/>.</summary>
    ValueTask MarkHeldAsync(IReadOnlyList<string> eventKeys, string channel, string outcome, CancellationToken cancellationToken);
}

/// <summary><see cref="IDeliveryLog"/> in PostgreSQL, table <c>alert_deliveries</c> (created by the storage migrations).</summary>
public sealed class PostgresDeliveryLog : IDeliveryLog
{
    /// <summary>Schema of the table this log expects; the storage migrations own its creation.</summary>
    public const string Ddl = """
        CREATE TABLE alert_deliveries (
            event_key    text        NOT NULL,
            channel      text        NOT NULL,
            outcome      text        NOT NULL,
            delivered_at timestamptz NOT NULL,
            PRIMARY KEY (event_key, channel)
        )
        """;

    // One round trip: insert a pending claim, or report the row that is already there.
    private const string ClaimSql = """
        WITH ins AS (
            INSERT INTO alert_deliveries (event_key, channel, outcome, delivered_at)
            VALUES ($1, $2, 'pending', now())
            ON CONFLICT (event_key, channel) DO NOTHING
            RETURNING outcome)
        SELECT true, outcome FROM ins
        UNION ALL
        SELECT false, outcome FROM alert_deliveries WHERE event_key = $1 AND channel = $2 AND NOT EXISTS (SELECT 1 FROM ins)
        """;

    private readonly NpgsqlDataSource _dataSource;

    public PostgresDeliveryLog(NpgsqlDataSource dataSource)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        _dataSource = dataSource;
    }

    public async ValueTask<ClaimState> ClaimAsync(string eventKey, string channel, CancellationToken cancellationToken)
    {
        // A concurrent claim committed between our snapshot and insert yields no row at all; the retry sees it.
        for (var attempt = 0; attempt < 3; attempt++)
        {
            await using var cmd = _dataSource.CreateCommand(ClaimSql);
            cmd.Parameters.AddWithValue(eventKey);
            cmd.Parameters.AddWithValue(channel);
            await using var reader = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            if (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                if (reader.GetBoolean(0))
                {
                    return ClaimState.New;
                }
                return reader.GetString(1) == DeliveryOutcomes.Pending ? ClaimState.Interrupted : ClaimState.Done;
            }
        }
        throw new InvalidOperationException($"Could not claim delivery of '{eventKey}' to '{channel}': the row kept changing.");
    }

    public async ValueTask MarkAsync(string eventKey, string channel, string outcome, CancellationToken cancellationToken)
    {
        await using var cmd = _dataSource.CreateCommand(
            "UPDATE alert_deliveries SET outcome = $3, delivered_at = now() WHERE event_key = $1 AND channel = $2");
        cmd.Parameters.AddWithValue(eventKey);
        cmd.Parameters.AddWithValue(channel);
        cmd.Parameters.AddWithValue(outcome);
        await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<IReadOnlyList<string>> ListHeldAsync(string channel, CancellationToken cancellationToken)
    {
        await using var cmd = _dataSource.CreateCommand(
            "SELECT event_key FROM alert_deliveries WHERE channel = $1 AND outcome = 'held' ORDER BY delivered_at, event_key");
        cmd.Parameters.AddWithValue(channel);
        var keys = new List<string>();
        await using var reader = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            keys.Add(reader.GetString(0));
        }
        return keys;
    }

    public async ValueTask MarkHeldAsync(IReadOnlyList<string> eventKeys, string channel, string outcome, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(eventKeys);
        await using var cmd = _dataSource.CreateCommand(
            "UPDATE alert_deliveries SET outcome = $3, delivered_at = now() WHERE channel = $2 AND outcome = 'held' AND event_key = ANY($1)");
        cmd.Parameters.AddWithValue(eventKeys.ToArray());
        cmd.Parameters.AddWithValue(channel);
        cmd.Parameters.AddWithValue(outcome);
        await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}
