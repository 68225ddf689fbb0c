using Npgsql;
using NpgsqlTypes;
using SmartMaintenance.Streams.Prediction.Cmapss;
using SmartMaintenance.Streams.Prediction.Training;
using SmartMaintenance.Streams.Testing;
using Xunit;

namespace SmartMaintenance.Streams.Prediction.Tests;

[Collection(ServicesCollection.Name)]
public sealed class RulHistoryTests(PostgresFixture postgres, TrainedModelFixture fixture)
{
    [Fact]
    public async Task Run_to_failure_history_read_from_the_readings_table_gives_back_each_assets_cycles()
    {
        var units = fixture.Train.Take(3).ToList();
        var db = await postgres.CreateDatabaseAsync();
        await using var dataSource = NpgsqlDataSource.Create(db);
        var readings = new CmapssReadings("hist", CmapssEvaluator.ReplayStart, TimeSpan.FromMinutes(1));
        var batch = new List<Contracts.SensorReading>();
        await using (var conn = await dataSource.OpenConnectionAsync())
        await using (var import = await conn.BeginBinaryImportAsync("COPY readings (sensor_id, ts, value, asset_id, sensor_type) FROM STDIN (FORMAT BINARY)"))
        {
            foreach (var u in units)
            {
                // One cycle of the middle engine loses its s4 reading: the history carries the last value, as the engine does.
                foreach (var (row, c) in u.Rows.Select((r, c) => (r, c)))
                {
                    batch.Clear();
                    readings.Cycle(u.Unit, row, batch);
                    foreach (var r in batch.Where(r => !(u == units[1] && c == 10 && r.SensorType == "s4")))
                    {
                        await import.StartRowAsync();
                        await import.WriteAsync(r.SensorId, NpgsqlDbType.Text);
                        await import.WriteAsync(DateTimeOffset.FromUnixTimeMilliseconds(r.Timestamp).UtcDateTime, NpgsqlDbType.TimestampTz);
                        await import.WriteAsync(r.Value, NpgsqlDbType.Double);
                        await import.WriteAsync(r.AssetId!, NpgsqlDbType.Text);
                        await import.WriteAsync(r.SensorType!, NpgsqlDbType.Text);
                    }
                }
            }
            await import.CompleteAsync();
        }

        var history = await RulHistory.LoadAsync(dataSource, "hist-", CmapssEvaluator.ReplayStart.AddDays(-1), CmapssEvaluator.ReplayStart.AddDays(2));

        Assert.Equal(units.Count, history.Count);
        for (var i = 0; i < units.Count; i++)
        {
            Assert.Equal(units[i].Cycles, history[i].Cycles);
            for (var c = 0; c < units[i].Cycles; c++)
            {
                var expected = (double[])units[i].Rows[c].Clone();
                if (i == 1 && c == 10)
                {
                    expected[Rul.RulChannels.IndexOf("s4")] = units[i].Rows[9][Rul.RulChannels.IndexOf("s4")];
                }
                Assert.Equal(expected, history[i].Rows[c]);
            }
        }
    }
}
