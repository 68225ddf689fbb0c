using Npgsql;
using NpgsqlTypes;
using SmartMaintenance.Streams.Prediction.Rul;

namespace SmartMaintenance.Streams.Prediction.Stream;

/// <summary>Writes RUL estimates to <c>rul_estimates</c>, idempotently: a replay rewrites the same key (asset, cycle time,
/// model version) with the same values.</summary>
public interface IRulEstimateStore
{
    /// <summary>Writes the estimates; returns once they are durable.</summary>
    void Write(IReadOnlyList<RulEstimate> estimates, string modelId);
}

/// <summary><see cref="IRulEstimateStore"/> on PostgreSQL/TimescaleDB: one multi-row upsert per batch from arrays.</summary>
/// <remarks>Called from the consume loop at a batch boundary, before the batch's offsets can commit: an estimate is stored
/// before the readings that made it count as processed, and a crash in between replays to the same rows.</remarks>
public sealed class PostgresRulEstimateStore(NpgsqlDataSource dataSource) : IRulEstimateStore
{
    private const string Sql = """
        INSERT INTO rul_estimates (asset_id, ts, cycle, rul, rul_lower, rul_upper, model_version, model_id)
        SELECT a, t, c, r, l, u, v, $8 FROM unnest($1::text[], $2::timestamptz[], $3::float8[], $4::float8[], $5::float8[], $6::float8[], $7::int[]) AS x(a, t, c, r, l, u, v)
        ON CONFLICT (asset_id, ts, model_version) DO UPDATE
        SET cycle = EXCLUDED.cycle, rul = EXCLUDED.rul, rul_lower = EXCLUDED.rul_lower, rul_upper = EXCLUDED.rul_upper, model_id = EXCLUDED.model_id
        """;

    public void Write(IReadOnlyList<RulEstimate> estimates, string modelId)
    {
        ArgumentNullException.ThrowIfNull(estimates);
        if (estimates.Count == 0)
        {
            return;
        }
        var n = estimates.Count;
        var assets = new string[n];
        var ts = new DateTime[n];
        var cycle = new double[n];
        var rul = new double[n];
        var lower = new double[n];
        var upper = new double[n];
        var version = new int[n];
        for (var i = 0; i < n; i++)
        {
            var e = estimates[i];
            assets[i] = e.AssetId;
            ts[i] = DateTimeOffset.FromUnixTimeMilliseconds(e.Timestamp).UtcDateTime;
            cycle[i] = e.Cycle;
            rul[i] = e.Rul;
            lower[i] = e.Lower;
            upper[i] = e.Upper;
            version[i] = e.ModelVersion;
        }
        // Transient failures (connection lost, server restarting) are retried for a while: the consume loop waits, as it
        // does for the readings' own writer; anything else, or an outage past the deadline, stops the engine.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                using var cmd = dataSource.CreateCommand(Sql);
                cmd.Parameters.Add(new NpgsqlParameter { Value = assets, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
                cmd.Parameters.Add(new NpgsqlParameter { Value = ts, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz });
                cmd.Parameters.Add(new NpgsqlParameter { Value = cycle, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Double });
                cmd.Parameters.Add(new NpgsqlParameter { Value = rul, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Double });
                cmd.Parameters.Add(new NpgsqlParameter { Value = lower, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Double });
                cmd.Parameters.Add(new NpgsqlParameter { Value = upper, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Double });
                cmd.Parameters.Add(new NpgsqlParameter { Value = version, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Integer });
                cmd.Parameters.Add(new NpgsqlParameter { Value = modelId, NpgsqlDbType = NpgsqlDbType.Text });
                cmd.ExecuteNonQuery();
                return;
            }
            catch (NpgsqlException ex) when (ex.IsTransient && DateTime.UtcNow < deadline)
            {
                Thread.Sleep(Math.Min(2000, 100 * attempt));
            }
        }
    }
}
