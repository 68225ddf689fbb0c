using Npgsql;
using SmartMaintenance.Streams.Scoring.Models;
using Xunit;

namespace SmartMaintenance.Streams.Scoring.Tests;

public sealed class RegistryTests(PostgresFixture postgres) : IClassFixture<PostgresFixture>, IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "smstream-registry-" + Guid.NewGuid().ToString("N"));

    [Fact]
    public async Task Training_from_stored_aggregates_records_the_model_with_metadata_in_the_registry()
    {
        await using var db = postgres.CreateDatabase();
        await Exec(db, """
            CREATE TABLE window_aggregates (
                sensor_id text, window_kind text, window_start timestamptz, window_end timestamptz, count bigint,
                sum double precision, min double precision, max double precision, mean double precision,
                std_dev double precision, first double precision, last double precision, p50 double precision,
                p95 double precision, p99 double precision, revision int, is_final bool, asset_id text, sensor_type text)
            """);
        var t0 = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var rng = new Random(4);
        await using (var writer = await db.OpenConnectionAsync())
        await using (var import = await writer.BeginBinaryImportAsync("COPY window_aggregates (sensor_id, window_start, mean, std_dev, min, max, p50, p95, p99, first, last, sensor_type) FROM STDIN (FORMAT BINARY)"))
        {
            for (var i = 0; i < 400; i++)
            {
                var m = 20 + rng.NextDouble();
                var sd = 0.5 + (0.1 * rng.NextDouble());
                await import.StartRowAsync();
                await import.WriteAsync($"pump-{i % 4}");
                await import.WriteAsync(t0.AddMinutes(i));
                foreach (var v in new[] { m, sd, m - (2 * sd), m + (2 * sd), m, m + (1.6 * sd), m + (2.3 * sd), m - 0.1, m + 0.1 })
                {
                    await import.WriteAsync(v + (0.01 * rng.NextDouble()));
                }
                await import.WriteAsync("pump");
            }
            await import.CompleteAsync();
        }

        var types = await TrainingHistory.SensorTypesAsync(db, "window_aggregates", t0, t0.AddDays(1));
        Assert.Equal(["pump"], types);
        var rows = await TrainingHistory.LoadAsync(db, "window_aggregates", "pump", t0, t0.AddMinutes(300));
        Assert.Equal(300, rows.Features.Count);

        var registry = new ModelRegistry(db);
        await registry.EnsureTableAsync();
        await registry.EnsureTableAsync(); // idempotent, as the storage migrations may have created it already
        Assert.Equal(1, await registry.NextVersionAsync("window-pump-pca"));
        var data = new TrainingSet(rows.Features, null, t0, t0.AddMinutes(300));
        var model = new ModelTrainer().TrainAndWrite(ModelKinds.Pca, data, "window-pump-pca", 1, "pump", _dir);
        await registry.RegisterAsync(model.Metadata, model.ModelPath);
        Assert.Equal(2, await registry.NextVersionAsync("window-pump-pca"));

        await using var cmd = db.CreateCommand("SELECT kind, sensor_type, features->>0, jsonb_array_length(features), (metrics->>'rows')::float8, training_from, training_to, data_hash, onnx_path FROM model_registry WHERE name = 'window-pump-pca' AND version = 1");
        await using var reader = await cmd.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.Equal("pca", reader.GetString(0));
        Assert.Equal("pump", reader.GetString(1));
        Assert.Equal("mean", reader.GetString(2));
        Assert.Equal(WindowFeatures.Count, reader.GetInt32(3));
        Assert.Equal(300, reader.GetDouble(4));
        Assert.Equal(t0, reader.GetFieldValue<DateTimeOffset>(5));
        Assert.Equal(t0.AddMinutes(300), reader.GetFieldValue<DateTimeOffset>(6));
        Assert.Equal(data.DataHash(), reader.GetString(7));
        Assert.Equal(model.ModelPath, reader.GetString(8));
    }

    [Fact]
    public async Task Registering_the_same_name_and_version_twice_is_refused()
    {
        await using var db = postgres.CreateDatabase();
        var registry = new ModelRegistry(db);
        await registry.EnsureTableAsync();
        var meta = new ModelMetadata { ModelId = "a", Name = "n", Version = 1, Kind = ModelKinds.Onnx, File = "n.v1.onnx", CreatedAt = DateTimeOffset.UtcNow };
        await registry.RegisterAsync(meta, "/models/n.v1.onnx");
        var ex = await Assert.ThrowsAsync<PostgresException>(() => registry.RegisterAsync(meta with { ModelId = "b" }, "/models/n.v1.onnx"));
        Assert.Equal(PostgresErrorCodes.UniqueViolation, ex.SqlState);
    }

    private static async Task Exec(NpgsqlDataSource db, string sql)
    {
        await using var cmd = db.CreateCommand(sql);
        await cmd.ExecuteNonQueryAsync();
    }

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }
}
