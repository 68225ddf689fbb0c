using SmartMaintenance.Streams.Contracts;
using Xunit;

namespace SmartMaintenance.Streams.Scoring.Tests;

/// <summary>Young detector states (a log of their first inputs, built when first needed) against states updated input by input.</summary>
public class YoungStateTests
{
    /// <summary>A range so wide that nothing is outside it: the pipeline then never logs (a range rule can fire during
    /// warm-up) and updates every state input by input, while its outputs and states are those of the default pipeline.</summary>
    private static DetectorPipeline InputByInput()
    {
        var options = new ScoringOptions();
        options.Defaults.RangeMin = -1e300;
        options.Defaults.RangeMax = 1e300;
        return new DetectorPipeline(options) { TrackChanges = true };
    }

    private static DetectorPipeline Default() => new(new ScoringOptions()) { TrackChanges = true };

    private static SensorReading At(string sensor, long i, double value) =>
        new(sensor, Synthetic.Start + (i * Synthetic.Step), value, AssetId: i == 2 ? "asset-" + sensor : null, Position: new SourcePosition(0, i, 0));

    private static WindowAggregate Window(string sensor, string kind, long index, double mean) =>
        new(sensor, kind, index * 60_000, (index + 1) * 60_000, 5, mean * 5, mean - 1, mean + 1, mean, 0.5, mean, mean, mean, mean, mean, 0, true,
            AssetId: "asset-" + sensor, SensorType: null);

    private static byte[] StateOf(DetectorPipeline pipeline, string sensor)
    {
        using var buffer = new MemoryStream();
        using (var w = new BinaryWriter(buffer, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            pipeline.WriteSensorState(sensor, w);
        }
        return buffer.ToArray();
    }

    [Fact]
    public void Young_states_fire_and_persist_exactly_like_states_updated_input_by_input_at_every_age()
    {
        // Ages around the log's capacity (16 inputs) and the warm-up (200), with spikes and a shift after warm-up.
        int[] ages = [1, 3, 15, 16, 17, 40, 199, 200, 201, 700];
        var v = Synthetic.Noise(700);
        v[350] += 25;
        v[500] -= 30;
        for (var i = 600; i < 700; i++)
        {
            v[i] += 5;
        }
        var young = Default();
        var reference = InputByInput();
        var fired = 0;
        for (var i = 0; i < 700; i++)
        {
            for (var s = 0; s < ages.Length; s++)
            {
                if (i >= ages[s])
                {
                    continue;
                }
                var sensor = "s" + s;
                var r = At(sensor, i, v[i] + s);
                Assert.Equal(reference.Process(r, out var expected), young.Process(r, out var actual));
                Assert.Equal(expected, actual);
                fired += actual is null ? 0 : 1;
                if (i % 5 == 4)
                {
                    // Window detectors: two kinds, the second judged every other window.
                    foreach (var kind in i % 10 == 9 ? new[] { "tumbling:1m", "hopping:5m/1m" } : ["tumbling:1m"])
                    {
                        var w = Window(sensor, kind, i / 5, v[i] + s);
                        Assert.Equal(reference.ProcessWindow(w, out var we), young.ProcessWindow(w, out var wa));
                        Assert.Equal(we, wa);
                    }
                }
                if (i == ages[s] - 1 || i == ages[s] / 2)
                {
                    // Serializing a young state builds it without keeping it: same bytes, and it stays young.
                    Assert.Equal(StateOf(reference, sensor), StateOf(young, sensor));
                }
            }
        }
        Assert.True(fired > 0);
        // Everything still scores alike after the states were serialized (and built) above.
        for (var s = 0; s < ages.Length; s++)
        {
            var r = At("s" + s, 700, 80);
            Assert.Equal(reference.Score(r, out var re, out var ra), young.Score(r, out var ye, out var ya));
            Assert.Equal(ra, ya);
            Assert.Equal(re.Winner, ye.Winner);
            Assert.Equal(StateOf(reference, "s" + s), StateOf(young, "s" + s));
        }
    }

    [Fact]
    public void A_young_state_survives_a_whole_pipeline_snapshot_and_a_per_sensor_restore()
    {
        var young = Default();
        var reference = InputByInput();
        var v = Synthetic.Noise(300);
        for (var i = 0; i < 5; i++)
        {
            young.Process(At("a", i, v[i]), out _);
            reference.Process(At("a", i, v[i]), out _);
        }
        using var snapshot = new MemoryStream();
        young.Snapshot(snapshot);
        snapshot.Position = 0;
        var restored = Default();
        restored.Restore(snapshot);
        var perSensor = Default();
        using (var r = new BinaryReader(new MemoryStream(StateOf(young, "a"))))
        {
            perSensor.RestoreSensorState("a", 0, 5, r);
        }
        for (var i = 5; i < 300; i++)
        {
            var reading = At("a", i, i == 250 ? v[i] + 30 : v[i]);
            var expected = reference.Process(reading, out var ea);
            Assert.Equal(expected, restored.Process(reading, out var ra));
            Assert.Equal(expected, perSensor.Process(reading, out var pa));
            Assert.Equal(ea, ra);
            Assert.Equal(ea, pa);
        }
        Assert.Equal(StateOf(reference, "a"), StateOf(restored, "a"));
    }

    [Fact]
    public void Sensors_seen_a_few_times_hold_a_few_hundred_bytes_of_detector_state()
    {
        const int sensors = 20_000;
        var ids = new string[sensors];
        for (var i = 0; i < sensors; i++)
        {
            ids[i] = "sensor-" + i.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        var before = GC.GetTotalMemory(forceFullCollection: true);
        var pipeline = new DetectorPipeline(new ScoringOptions());
        pipeline.DeclareWindowKinds(["tumbling:1m", "hopping:5m/1m"]);
        for (var t = 0; t < 4; t++)
        {
            foreach (var id in ids)
            {
                pipeline.Process(new SensorReading(id, Synthetic.Start + (t * 25_000L), 50 + t), out _);
            }
        }
        foreach (var id in ids)
        {
            pipeline.ProcessWindow(Window(id, "tumbling:1m", 0, 51), out _);
            pipeline.ProcessWindow(Window(id, "hopping:5m/1m", 0, 51), out _);
        }
        var perSensor = (GC.GetTotalMemory(forceFullCollection: true) - before) / (double)sensors;
        GC.KeepAlive(pipeline);
        // Materialized, these states take ≈ 1.6 KB per sensor (three ensembles of ≈ 350 B with their seasonal profiles and
        // a context ring); young, ≈ 550 B (record, id slot, three input logs, the window-kind array, dictionary slack).
        Assert.InRange(perSensor, 1, 700);
    }
}
