using System.Text.Json;
using Npgsql;
using NpgsqlTypes;

namespace SmartMaintenance.Streams.Scoring.Models;

/// <summary>The <c>model_registry</c> table: one row per trained model version, with its features, metrics and training data.</summary>
/// <remarks>The table belongs to the storage migrations (`smstream db migrate`).</remarks>
public sealed class ModelRegistry(NpgsqlDataSource dataSource)
{
    /// <summary>The next free version of a model name (1 for a new name).</summary>
    public async Task<int> NextVersionAsync(string name, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("SELECT coalesce(max(version), 0) + 1 FROM model_registry WHERE name = $1");
        cmd.Parameters.AddWithValue(name);
        return Convert.ToInt32(await cmd.ExecuteScalarAsync(ct).ConfigureAwait(false), System.Globalization.CultureInfo.InvariantCulture);
    }

    public async Task RegisterAsync(ModelMetadata meta, string modelPath, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(meta);
        await using var cmd = dataSource.CreateCommand("""
            INSERT INTO model_registry (model_id, name, version, kind, sensor_type, features, metrics, training_from, training_to, data_hash, onnx_path, created_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
            """);
        cmd.Parameters.AddWithValue(meta.ModelId);
        cmd.Parameters.AddWithValue(meta.Name);
        cmd.Parameters.AddWithValue(meta.Version);
        cmd.Parameters.AddWithValue(meta.Kind);
        cmd.Parameters.Add(new NpgsqlParameter { Value = (object?)meta.SensorType ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        cmd.Parameters.Add(new NpgsqlParameter { Value = JsonSerializer.Serialize(meta.Features.ToList(), ScoringJsonContext.Default.ListString), NpgsqlDbType = NpgsqlDbType.Jsonb });
        cmd.Parameters.Add(new NpgsqlParameter
        {
            Value = JsonSerializer.Serialize(new Dictionary<string, double>(meta.Metrics ?? new Dictionary<string, double>()), ScoringJsonContext.Default.DictionaryStringDouble),
            NpgsqlDbType = NpgsqlDbType.Jsonb,
        });
        cmd.Parameters.Add(new NpgsqlParameter { Value = (object?)meta.TrainingFrom ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        cmd.Parameters.Add(new NpgsqlParameter { Value = (object?)meta.TrainingTo ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        cmd.Parameters.Add(new NpgsqlParameter { Value = (object?)meta.DataHash ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        cmd.Parameters.Add(new NpgsqlParameter { Value = modelPath, NpgsqlDbType = NpgsqlDbType.Text });
        cmd.Parameters.Add(new NpgsqlParameter { Value = meta.CreatedAt, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
    }
}

/// <summary>Reads training history (window aggregates) from the database.</summary>
/// <remarks>Reads the storage schema's <c>window_aggregates</c> table (final windows only: an open window's statistics are still moving).</remarks>
public static class TrainingHistory
{
    public sealed record Rows(IReadOnlyList<float[]> Features, IReadOnlyList<string> SensorIds, IReadOnlyList<DateTimeOffset> WindowStarts);

    /// <summary>Distinct sensor types with aggregates in the range (null type included as null).</summary>
    public static async Task<IReadOnlyList<string?>> SensorTypesAsync(NpgsqlDataSource dataSource, string table, DateTimeOffset from, DateTimeOffset to, string? windowKind = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        await using var cmd = dataSource.CreateCommand($"SELECT DISTINCT sensor_type FROM {Quote(table)} WHERE window_start >= $1 AND window_start < $2 AND is_final AND ($3::text IS NULL OR window_kind = $3) ORDER BY 1");
        cmd.Parameters.AddWithValue(from);
        cmd.Parameters.AddWithValue(to);
        cmd.Parameters.Add(new NpgsqlParameter { Value = (object?)windowKind ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        var types = new List<string?>();
        await using var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        while (await reader.ReadAsync(ct).ConfigureAwait(false))
        {
            types.Add(reader.IsDBNull(0) ? null : reader.GetString(0));
        }
        return types;
    }

    public static async Task<Rows> LoadAsync(NpgsqlDataSource dataSource, string table, string? sensorType, DateTimeOffset from, DateTimeOffset to, string? windowKind = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        // Column order is WindowFeatures' order.
        await using var cmd = dataSource.CreateCommand($"""
            SELECT sensor_id, window_start, mean, stddev, min, max, p50, p95, p99, last - first
            FROM {Quote(table)}
            WHERE window_start >= $1 AND window_start < $2 AND sensor_type IS NOT DISTINCT FROM $3
              AND is_final AND ($4::text IS NULL OR window_kind = $4)
            ORDER BY sensor_id, window_start
            """);
        cmd.Parameters.AddWithValue(from);
        cmd.Parameters.AddWithValue(to);
        cmd.Parameters.Add(new NpgsqlParameter { Value = (object?)sensorType ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        cmd.Parameters.Add(new NpgsqlParameter { Value = (object?)windowKind ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        var features = new List<float[]>();
        var ids = new List<string>();
        var starts = new List<DateTimeOffset>();
        await using var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        while (await reader.ReadAsync(ct).ConfigureAwait(false))
        {
            ids.Add(reader.GetString(0));
            starts.Add(reader.GetFieldValue<DateTimeOffset>(1));
            var f = new float[WindowFeatures.Count];
            for (var i = 0; i < f.Length; i++)
            {
                f[i] = reader.IsDBNull(2 + i) ? 0f : (float)reader.GetDouble(2 + i);
            }
            features.Add(f);
        }
        return new Rows(features, ids, starts);
    }

    private static string Quote(string identifier)
    {
        foreach (var part in identifier.Split('.'))
        {
            if (part.Length == 0 || !part.All(c => char.IsAsciiLetterOrDigit(c) || c == '_'))
            {
                throw new ArgumentException($"'{identifier}' is not a plain table name.", nameof(identifier));
            }
        }
        return identifier;
    }
}
