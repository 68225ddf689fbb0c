using System.Text.Json;
using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Ingest;
using SmartMaintenance.Streams.Load;
using Xunit;

namespace SmartMaintenance.Streams.Load.Tests;

public sealed class LoadMessageFactoryTests
{
    private static readonly long Now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

    [Theory]
    [InlineData(1)]
    [InlineData(100)]
    public void The_decoder_rejects_exactly_the_malformed_readings_and_keeps_the_rest(int batch)
    {
        var factory = new LoadMessageFactory(new LoadOptions { Batch = batch, MalformedFraction = 0.05, Sensors = 50, Seed = 3 });
        var decoder = new ReadingDecoder(new ValidationOptions());
        var readings = new List<SensorReading>();
        var rejects = new List<Rejection>();
        long kept = 0, rejected = 0;
        for (var i = 0; i < 2000 / batch; i++)
        {
            var (_, value) = factory.Next(Now);
            readings.Clear();
            rejects.Clear();
            decoder.Decode(value, new SourcePosition(0, i, 0), readings, rejects);
            kept += readings.Count;
            rejected += rejects.Count;
        }
        Assert.True(factory.Malformed > 0);
        Assert.Equal(factory.Malformed, rejected);
        Assert.Equal(2000 - factory.Malformed, kept);
    }

    [Fact]
    public void Readings_carry_the_wall_clock_as_event_time_and_visit_sensors_round_robin()
    {
        var factory = new LoadMessageFactory(new LoadOptions { Batch = 1, MalformedFraction = 0, Sensors = 3 });
        var ids = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            using var doc = JsonDocument.Parse(factory.Next(Now).Value);
            ids.Add(doc.RootElement.GetProperty("sensor_id").GetString()!);
            Assert.Equal(Now, doc.RootElement.GetProperty("ts").GetInt64());
        }
        Assert.Equal(3, ids.Distinct().Count());
        Assert.Equal(ids[0], ids[3]);
    }

    [Fact]
    public void A_probe_is_a_valid_reading_carrying_its_send_time_and_a_growing_seq()
    {
        var factory = new LoadMessageFactory(new LoadOptions());
        var decoder = new ReadingDecoder(new ValidationOptions());
        var readings = new List<SensorReading>();
        factory.Probe(Now, 111);
        var (key, value) = factory.Probe(Now, 1_700_000_000_000_000);
        decoder.Decode(value, new SourcePosition(0, 0, 0), readings, []);
        var r = Assert.Single(readings);
        Assert.Equal(LoadMessageFactory.ProbeSensorId, System.Text.Encoding.UTF8.GetString(key));
        Assert.Equal(2, r.Seq);
        using var attrs = JsonDocument.Parse(r.Attributes!);
        Assert.Equal(1_700_000_000_000_000, attrs.RootElement.GetProperty(LoadMessageFactory.SentAttribute).GetInt64());
        Assert.Equal(2, factory.Probes);
    }
}
