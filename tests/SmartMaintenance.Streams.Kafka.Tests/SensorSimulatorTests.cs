using System.Globalization;
using System.Text.Json;
using SmartMaintenance.Streams.Kafka.Simulation;
using SmartMaintenance.Streams.Testing;
using Xunit;

namespace SmartMaintenance.Streams.Kafka.Tests;

[Collection(KafkaFixture.Collection)]
public sealed class SensorSimulatorTests(KafkaFixture kafka)
{
    private static readonly DateTimeOffset Start = new(2026, 11, 25, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task Published_messages_match_the_counts_the_summary_reports()
    {
        var topic = kafka.CreateUniqueTopic("sim", 6);
        var options = new SimulatorOptions
        {
            Sensors = 20, Rate = 0, MaxReadings = 4000, BadRate = 0.1, AnomalyRate = 0.01, Seed = 7, StartTime = Start, Topic = topic,
        };

        var summary = await SensorSimulator.RunAsync(options, kafka.BootstrapServers);
        var received = await kafka.ConsumeAllAsync(topic);

        Assert.Equal(0, summary.DeliveryFailures);
        Assert.Equal(4000, summary.Readings);
        Assert.Equal(summary.Messages, received.Count);
        var observed = new Dictionary<MalformedKind, long>();
        long valid = 0;
        foreach (var m in received)
        {
            if (Classify(m.Value) is { } kind)
            {
                observed[kind] = observed.GetValueOrDefault(kind) + 1;
            }
            else
            {
                valid++;
            }
        }
        Assert.Equal(summary.ValidReadings, valid);
        foreach (var kind in MalformedKinds.All)
        {
            Assert.Equal(summary.MalformedByKind[kind], observed.GetValueOrDefault(kind));
        }
        Assert.True(summary.AnomaliesInjected > 0);
        // Single readings are keyed by sensor id.
        Assert.All(received.Where(m => Classify(m.Value) is null), m =>
            Assert.Equal(m.KeyText, JsonDocument.Parse(m.Value).RootElement.GetProperty("sensor_id").GetString()));
    }

    [Fact]
    public async Task Envelopes_carry_batch_readings_of_one_asset_keyed_by_asset()
    {
        var topic = kafka.CreateUniqueTopic("sim-batch", 3);
        var options = new SimulatorOptions { Sensors = 12, Rate = 0, MaxReadings = 1000, Batch = 10, Seed = 3, StartTime = Start, Topic = topic };

        var summary = await SensorSimulator.RunAsync(options, kafka.BootstrapServers);
        var received = await kafka.ConsumeAllAsync(topic);

        Assert.Equal(summary.Messages, received.Count);
        Assert.Equal(summary.Envelopes, received.Count);
        long readings = 0;
        foreach (var m in received)
        {
            var items = JsonDocument.Parse(m.Value).RootElement.GetProperty("readings").EnumerateArray().ToList();
            Assert.InRange(items.Count, 1, 10);
            Assert.All(items, r => Assert.Equal(m.KeyText, r.GetProperty("asset_id").GetString()));
            readings += items.Count;
        }
        Assert.Equal(1000, readings);
        Assert.Equal(summary.Readings, readings);
        Assert.True(received.Count(m => JsonDocument.Parse(m.Value).RootElement.GetProperty("readings").GetArrayLength() == 10) >= 90);
    }

    [Fact]
    public async Task A_paced_run_publishes_rate_times_duration_readings()
    {
        var topic = kafka.CreateUniqueTopic("sim-paced", 3);
        var options = new SimulatorOptions { Sensors = 8, Rate = 2000, Duration = TimeSpan.FromSeconds(1), Seed = 1, Topic = topic };

        var summary = await SensorSimulator.RunAsync(options, kafka.BootstrapServers);
        var received = await kafka.ConsumeAllAsync(topic);

        Assert.Equal(2000, summary.Readings);
        Assert.Equal(2000, received.Count);
    }

    [Fact]
    public async Task An_open_ended_run_stops_on_cancellation_and_reports_exactly_what_it_published()
    {
        var topic = kafka.CreateUniqueTopic("sim-open", 3);
        var options = new SimulatorOptions { Sensors = 8, Rate = 500, Duration = TimeSpan.Zero, Batch = 3, Seed = 4, Topic = topic };
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(1));

        var summary = await SensorSimulator.RunAsync(options, kafka.BootstrapServers, cts.Token);
        var received = await kafka.ConsumeAllAsync(topic);

        Assert.InRange(summary.Readings, 1, 5000);
        Assert.Equal(summary.Messages, received.Count);
        Assert.Equal(summary.Readings, received.Sum(m => System.Text.Json.JsonDocument.Parse(m.Value).RootElement.GetProperty("readings").GetArrayLength()));
    }

    [Fact]
    public void The_malformed_fraction_follows_the_bad_rate()
    {
        var options = new SimulatorOptions { Sensors = 50, Rate = 0, MaxReadings = 20000, BadRate = 0.05, Seed = 11, StartTime = Start };
        var generator = new SensorDataGenerator(options, 11, Start);
        long messages = 0, unparseable = 0;
        while (generator.TryNext(out var m))
        {
            messages++;
            if (Classify(m.Value.ToArray()) is not null)
            {
                unparseable++;
            }
        }

        var summary = generator.Summary();
        Assert.Equal(20000, messages);
        Assert.Equal(summary.MalformedReadings, unparseable);
        Assert.InRange(summary.MalformedReadings / 20000.0, 0.04, 0.06);
        Assert.All(MalformedKinds.All, k => Assert.InRange(summary.MalformedByKind[k], 100, 300));
    }

    [Fact]
    public void The_same_seed_and_start_give_identical_bytes_and_another_seed_does_not()
    {
        var options = new SimulatorOptions { Sensors = 10, Rate = 0, MaxReadings = 3000, BadRate = 0.05, AnomalyRate = 0.01, Batch = 4, StartTime = Start };

        var first = Collect(new SensorDataGenerator(options, 5, Start));
        var second = Collect(new SensorDataGenerator(options, 5, Start));
        var other = Collect(new SensorDataGenerator(options, 6, Start));

        Assert.Equal(first, second);
        Assert.NotEqual(first, other);
    }

    [Fact]
    public void Readings_are_realistic_per_sensor_type()
    {
        var options = new SimulatorOptions { Sensors = 40, Rate = 0, MaxReadings = 40 * 200, AnomalyRate = 0, Seed = 2, StartTime = Start, TimestampFormat = TimestampFormat.Mixed };
        var generator = new SensorDataGenerator(options, 2, Start);
        var byType = new Dictionary<string, List<double>>(StringComparer.Ordinal);
        var units = new Dictionary<string, string>(StringComparer.Ordinal);
        var rfc = 0;
        var epoch = 0;
        while (generator.TryNext(out var m))
        {
            var root = JsonDocument.Parse(m.Value).RootElement;
            var type = root.GetProperty("sensor_type").GetString()!;
            units[type] = root.GetProperty("unit").GetString()!;
            (byType.TryGetValue(type, out var list) ? list : byType[type] = []).Add(root.GetProperty("value").GetDouble());
            Assert.InRange(root.GetProperty("quality").GetDouble(), 0.8, 1.0);
            if (root.GetProperty("ts").ValueKind == JsonValueKind.String)
            {
                rfc++;
                Assert.True(DateTimeOffset.TryParse(root.GetProperty("ts").GetString(), CultureInfo.InvariantCulture, out _));
            }
            else
            {
                epoch++;
            }
        }

        Assert.Equal(["current", "pressure", "temperature", "vibration"], byType.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("°C", units["temperature"]);
        Assert.Equal("mm/s", units["vibration"]);
        Assert.Equal("bar", units["pressure"]);
        Assert.Equal("A", units["current"]);
        Assert.InRange(byType["temperature"].Average(), 35, 85);
        Assert.InRange(byType["vibration"].Min(), 0, 10);
        Assert.InRange(byType["pressure"].Average(), 3, 9);
        Assert.True(byType["temperature"].Distinct().Count() > 100, "noise makes values vary");
        Assert.True(rfc > 0 && epoch > 0, "Mixed writes both timestamp forms");
    }

    [Fact]
    public void Stuck_episodes_repeat_one_value_and_are_counted()
    {
        var options = new SimulatorOptions { Sensors = 4, Rate = 0, MaxReadings = 20000, AnomalyRate = 0.01, Seed = 9, StartTime = Start };
        var generator = new SensorDataGenerator(options, 9, Start);
        var lastBySensor = new Dictionary<string, double>(StringComparer.Ordinal);
        var repeats = 0;
        while (generator.TryNext(out var m))
        {
            var root = JsonDocument.Parse(m.Value).RootElement;
            var id = root.GetProperty("sensor_id").GetString()!;
            var v = root.GetProperty("value").GetDouble();
            if (lastBySensor.TryGetValue(id, out var last) && last == v)
            {
                repeats++;
            }
            lastBySensor[id] = v;
        }

        var summary = generator.Summary();
        Assert.True(summary.AnomaliesByKind[AnomalyKind.Stuck] > 0);
        Assert.True(summary.AnomaliesByKind[AnomalyKind.Spike] > 0);
        Assert.True(summary.AnomaliesByKind[AnomalyKind.LevelShift] > 0);
        Assert.True(repeats >= summary.AnomaliesByKind[AnomalyKind.Stuck] * 59, $"{repeats} repeated values");
        Assert.InRange(summary.AnomalousReadings, summary.AnomaliesInjected, summary.Readings);
    }

    [Fact]
    public void Unpaced_event_time_ends_near_now_and_needs_a_count()
    {
        var ex = Assert.Throws<SmartMaintenance.Streams.Contracts.ConfigurationException>(() =>
            new SimulatorOptions { Rate = 0, Duration = TimeSpan.FromSeconds(10) }.Validate());
        Assert.Equal("Simulator:MaxReadings", ex.Setting);

        var now = DateTimeOffset.UtcNow;
        var options = new SimulatorOptions { Sensors = 10, Rate = 0, MaxReadings = 100_000 };
        var generator = new SensorDataGenerator(options, 1, options.EffectiveStartTime(now));
        long lastTs = 0;
        while (generator.TryNext(out var m))
        {
            var ts = JsonDocument.Parse(m.Value).RootElement.GetProperty("ts");
            lastTs = ts.ValueKind == JsonValueKind.Number ? ts.GetInt64() : DateTimeOffset.Parse(ts.GetString()!, CultureInfo.InvariantCulture).ToUnixTimeMilliseconds();
        }
        Assert.InRange(lastTs, now.AddSeconds(-5).ToUnixTimeMilliseconds(), now.ToUnixTimeMilliseconds());
    }

    private static List<string> Collect(SensorDataGenerator generator)
    {
        var result = new List<string>();
        while (generator.TryNext(out var m))
        {
            result.Add(Convert.ToHexString(m.Key) + ":" + Convert.ToHexString(m.Value.Span));
        }
        return result;
    }

    /// <summary>An independent reading of the contract (ARCHITECTURE.md, "Reading"), for single-reading messages.</summary>
    private static MalformedKind? Classify(byte[] value)
    {
        JsonElement root;
        try
        {
            root = JsonDocument.Parse(value).RootElement;
        }
        catch (JsonException)
        {
            return MalformedKind.BrokenJson;
        }
        if (!root.TryGetProperty("sensor_id", out _) || !root.TryGetProperty("ts", out var ts) || !root.TryGetProperty("value", out var v))
        {
            return MalformedKind.MissingField;
        }
        if (v.ValueKind == JsonValueKind.String)
        {
            return MalformedKind.NonFiniteValue;
        }
        var quality = root.GetProperty("quality").GetDouble();
        var type = root.GetProperty("sensor_type").GetString();
        var physical = type switch
        {
            "temperature" => v.GetDouble() >= -273.15,
            _ => v.GetDouble() >= 0,
        };
        if (quality is < 0 or > 1 || !physical)
        {
            return MalformedKind.OutOfRange;
        }
        var time = ts.ValueKind == JsonValueKind.Number
            ? DateTimeOffset.FromUnixTimeMilliseconds(ts.GetInt64())
            : DateTimeOffset.Parse(ts.GetString()!, CultureInfo.InvariantCulture);
        return time > DateTimeOffset.UtcNow.AddYears(1) ? MalformedKind.FutureTimestamp : null;
    }
}
