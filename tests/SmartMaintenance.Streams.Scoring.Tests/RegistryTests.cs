using Npgsql;
using SmartMaintenance.Streams.Scoring.Models;
using SmartMaintenance.Streams.Testing;
using Xunit;

namespace SmartMaintenance.Streams.Scoring.Tests;

[CollectionDefinition(PostgresFixture.Collection)]
public sealed class PostgresCollection : ICollectionFixture<PostgresFixture>;

[Collection(PostgresFixture.Collection)]
public sealed class RegistryTests(PostgresFixture postgres) : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "smstream-registry-" + Guid.NewGuid().ToString("N"));

    [Fact]
    public async Task Training_from_stored_aggregates_records_the_model_with_metadata_in_the_registry()
    {
        // The storage migrations' schema: window_aggregates and model_registry as the engine has them.
        await using var db = NpgsqlDataSource.Create(await postgres.CreateDatabaseAsync());
        var t0 = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var rng = new Random(4);
        await using (var writer = await db.OpenConnectionAsync())
        await using (var import = await writer.BeginBinaryImportAsync(
            "COPY window_aggregates (sensor_id, window_kind, window_start, window_end, count, mean, stddev, min, max, p50, p95, p99, first, last, is_final, sensor_type) FROM STDIN (FORMAT BINARY)"))
        {
            for (var i = 0; i < 420; i++)
            {
                var m = 20 + rng.NextDouble();
                var sd = 0.5 + (0.1 * rng.NextDouble());
                await import.StartRowAsync();
                await import.WriteAsync($"pump-{i % 4}");
                await import.WriteAsync(i < 400 ? "1m" : "1h");
                await import.WriteAsync(t0.AddMinutes(i));
                await import.WriteAsync(t0.AddMinutes(i + 1));
                await import.WriteAsync(60L);
                foreach (var v in new[] { m, sd, m - (2 * sd), m + (2 * sd), m, m + (1.6 * sd), m + (2.3 * sd), m - 0.1, m + 0.1 })
                {
                    await import.WriteAsync(v + (0.01 * rng.NextDouble()));
                }
                await import.WriteAsync(i != 10); // one window still open: not training data
                await import.WriteAsync("pump");
            }
            await import.CompleteAsync();
        }

        var types = await TrainingHistory.SensorTypesAsync(db, "window_aggregates", t0, t0.AddDays(1));
        Assert.Equal(["pump"], types);
        var rows = await TrainingHistory.LoadAsync(db, "window_aggregates", "pump", t0, t0.AddMinutes(300), "1m");
        Assert.Equal(299, rows.Features.Count);
        Assert.Equal(WindowFeatures.Count, rows.Features[0].Length);

        var registry = new ModelRegistry(db);
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
        Assert.Equal(299, reader.GetDouble(4));
        Assert.Equal(t0, reader.GetFieldValue<DateTimeOffset>(5));
        Assert.Equal(t0.AddMinutes(300), reader.GetFieldValue<DateTimeOffset>(6));
        Assert.Equal(data.DataHash(), reader.GetString(7));
        Assert.Equal(model.ModelPath, reader.GetString(8));
    }

    [Fact]
    public async Task Registry_refuses_a_duplicate_name_and_version()
    {
        await using var db = NpgsqlDataSource.Create(await postgres.CreateDatabaseAsync());
        var registry = new ModelRegistry(db);
        var meta = new ModelMetadata { ModelId = "a", Name = "n", Version = 1, Kind = ModelKinds.Onnx, File = "n.v1.onnx", CreatedAt = DateTimeOffset.UtcNow };
        await registry.RegisterAsync(meta, "/models/n.v1.onnx");
        var ex = await Assert.ThrowsAsync<PostgresException>(() => registry.RegisterAsync(meta with { ModelId = "b" }, "/models/n.v1.onnx"));
        Assert.Equal(PostgresErrorCodes.UniqueViolation, ex.SqlState);
    }

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }
}
