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

    /// <summary>The sensor's state with every detector state built (the canonical form states kept differently compare in).</summary>
    /// <summary>Feeds the first <paramref name="count"/> values of <paramref name="values"/> to both pipelines, one per step.</summary>
    private static void ProcessBoth(DetectorPipeline young, DetectorPipeline reference, string sensor, double[] values, int count)
    {
        for (var i = 0; i < count; i++)
        {
            young.Process(At(sensor, i, values[i]), out _);
            reference.Process(At(sensor, i, values[i]), out _);
        }
    }

    private static byte[] StateOf(DetectorPipeline pipeline, string sensor) => Row(pipeline, sensor, compact: false);

    /// <summary>The row the engine stores: young states as their input logs.</summary>
    private static byte[] Row(DetectorPipeline pipeline, string sensor, bool compact = true)
    {
        using var buffer = new MemoryStream();
        using (var w = new BinaryWriter(buffer, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            pipeline.WriteSensorState(sensor, w, compact);
        }
        return buffer.ToArray();
    }

    private static void Restore(DetectorPipeline pipeline, string sensor, long position, byte[] row)
    {
        using var r = new BinaryReader(new MemoryStream(row));
        pipeline.RestoreSensorState(sensor, 0, position, r);
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
        ProcessBoth(young, reference, "a", v, 5);
        using var snapshot = new MemoryStream();
        young.Snapshot(snapshot);
        snapshot.Position = 0;
        var restored = Default();
        restored.Restore(snapshot);
        var perSensor = Default();
        using (var r = new BinaryReader(new MemoryStream(Row(young, "a"))))
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
        // a context ring); young, ≈ 256 B (the 64-byte record, one log of the sensor's 6 inputs, the id's dictionary entry
        // and slack). With a log and a window-kind array per state it was ≈ 550 B.
        Assert.InRange(perSensor, 1, 320);
    }

    [Fact]
    public void Young_states_stored_as_their_input_logs_restore_to_exactly_the_states_updated_input_by_input()
    {
        // Restored at each age, then run on for 300 inputs against a pipeline that never logged: same outputs, same states.
        int[] ages = [1, 2, 3, 4, 15, 16, 17, 40];
        var v = Synthetic.Noise(700);
        v[420] += 25;
        for (var i = 500; i < 700; i++)
        {
            v[i] += 5;
        }
        foreach (var age in ages)
        {
            var young = Default();
            var reference = InputByInput();
            void Feed(DetectorPipeline expected, DetectorPipeline actual, int i)
            {
                var r = At("s", i, v[i]);
                Assert.Equal(expected.Process(r, out var ea), actual.Process(r, out var aa));
                Assert.Equal(ea, aa);
                if (i % 5 == 4)
                {
                    foreach (var kind in i % 10 == 9 ? new[] { "tumbling:1m", "hopping:5m/1m" } : ["tumbling:1m"])
                    {
                        var w = Window("s", kind, i / 5, v[i]);
                        Assert.Equal(expected.ProcessWindow(w, out var ew), actual.ProcessWindow(w, out var aw));
                        Assert.Equal(ew, aw);
                    }
                }
            }
            for (var i = 0; i < age; i++)
            {
                Feed(reference, young, i);
            }
            var row = Row(young, "s");
            if (age <= 15)
            {
                // Nothing built: three logs of a few bytes per input instead of three ensembles.
                Assert.True(row.Length < StateOf(young, "s").Length / 4, $"age {age}: {row.Length} B");
            }
            var restored = Default();
            Restore(restored, "s", age, row);
            Assert.Equal(StateOf(reference, "s"), StateOf(restored, "s"));
            // Restored young, it stores the same row again.
            Assert.Equal(row, Row(restored, "s"));
            for (var i = age; i < age + 300; i++)
            {
                Feed(reference, restored, i);
            }
            Assert.Equal(StateOf(reference, "s"), StateOf(restored, "s"));
        }
    }

    [Fact]
    public void States_of_one_sensor_with_different_sensor_types_or_assets_score_and_restore_like_states_updated_input_by_input()
    {
        // The young states of a sensor share one type and asset; a state that differs is built at once instead.
        var v = Synthetic.Noise(400);
        v[300] += 30;
        var young = Default();
        var reference = InputByInput();
        var restoredAt = new Dictionary<int, DetectorPipeline>();
        for (var i = 0; i < 400; i++)
        {
            // Asset from the third reading on; windows of one kind with another type, of the other with another asset.
            var r = new SensorReading("m", Synthetic.Start + (i * Synthetic.Step), v[i], AssetId: i >= 2 ? "asset-1" : null, SensorType: "temperature",
                Position: new SourcePosition(0, i, 0));
            Assert.Equal(reference.Process(r, out var ea), young.Process(r, out var aa));
            Assert.Equal(ea, aa);
            if (i % 4 == 3)
            {
                WindowAggregate[] windows =
                [
                    Window("m", "tumbling:1m", i / 4, v[i]) with { SensorType = "vibration", AssetId = "asset-1" },
                    Window("m", "hopping:5m/1m", i / 4, v[i]) with { SensorType = "temperature", AssetId = i < 8 ? null : "asset-2" },
                ];
                foreach (var w in windows)
                {
                    Assert.Equal(reference.ProcessWindow(w, out var ew), young.ProcessWindow(w, out var aw));
                    Assert.Equal(ew, aw);
                }
            }
            if (i is 1 or 6 or 12 or 40)
            {
                var restored = Default();
                Restore(restored, "m", i + 1, Row(young, "m"));
                Assert.Equal(StateOf(reference, "m"), StateOf(restored, "m"));
                Assert.Equal(StateOf(reference, "m"), StateOf(young, "m"));
            }
        }
        Assert.Equal(StateOf(reference, "m"), StateOf(young, "m"));
    }

    [Fact]
    public void A_young_state_whose_inputs_a_new_configuration_would_not_log_is_built_from_them_on_restore()
    {
        // A range rule added since the row was written: the log is replayed into a built state, as if updated input by input.
        var young = Default();
        var reference = InputByInput();
        var v = Synthetic.Noise(20);
        ProcessBoth(young, reference, "a", v, 6);
        young.ProcessWindow(Window("a", "tumbling:1m", 0, v[5]), out _);
        reference.ProcessWindow(Window("a", "tumbling:1m", 0, v[5]), out _);
        var restored = InputByInput();
        Restore(restored, "a", 6, Row(young, "a"));
        Assert.Equal(StateOf(reference, "a"), StateOf(restored, "a"));
        // Built, it is written in full now.
        Assert.Equal(Row(reference, "a"), Row(restored, "a"));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(YoungLog.SensorTagBits)]
    public void Values_and_times_of_every_shape_come_back_from_an_input_log_bit_for_bit(int tagBits)
    {
        double[] values = [0, -0.0, 50.123, -7.5, 1e-300, double.MaxValue, double.Epsilon, 0.1 + 0.2, 3.0f, 1234567.891, -1e15, 2.5e-3];
        long[] times = [Synthetic.Start, Synthetic.Start - 1, 0, long.MinValue, long.MaxValue, -5, Synthetic.Start + 25_000];
        byte[]? log = null;
        ushort length = 0;
        var expected = new List<(int Tag, long Time, double Value)>();
        foreach (var t in times)
        {
            foreach (var value in values)
            {
                var tag = tagBits == 0 ? 0 : expected.Count % (1 << tagBits);
                YoungLog.Append(ref log, ref length, t, value, tag, tagBits);
                expected.Add((tag, t, value));
            }
        }
        var reader = new YoungLog.Reader(log.AsSpan(0, length), tagBits);
        foreach (var (tag, t, value) in expected)
        {
            Assert.True(reader.TryNext(out var gotTag, out var time, out var got));
            Assert.Equal(tag, gotTag);
            Assert.Equal(t, time);
            Assert.Equal(BitConverter.DoubleToInt64Bits(value), BitConverter.DoubleToInt64Bits(got));
        }
        Assert.False(reader.TryNext(out _, out _, out _));
        if (tagBits == 0)
        {
            Assert.True(YoungLog.IsWellFormed(log.AsSpan(0, length), expected.Count));
            Assert.False(YoungLog.IsWellFormed(log.AsSpan(0, length - 1), expected.Count));
            return;
        }
        // One state's entries as a row's log, and the log without them (re-encoded against its new first entry).
        var row = YoungLog.Extract(log.AsSpan(0, length), 3, tagBits, out var count);
        Assert.Equal(expected.Count(e => e.Tag == 3), count);
        Assert.True(YoungLog.IsWellFormed(row, count));
        var rest = YoungLog.Without(log.AsSpan(0, length), 0, tagBits, out var restLength);
        var kept = expected.Where(e => e.Tag != 0).ToList();
        var r2 = new YoungLog.Reader(rest.AsSpan(0, restLength), tagBits);
        foreach (var (tag, t, value) in kept)
        {
            Assert.True(r2.TryNext(out var gotTag, out var time, out var got));
            Assert.Equal((tag, t, BitConverter.DoubleToInt64Bits(value)), (gotTag, time, BitConverter.DoubleToInt64Bits(got)));
        }
        Assert.False(r2.TryNext(out _, out _, out _));
    }

    [Fact]
    public void A_row_with_a_damaged_input_log_is_rejected_and_changes_nothing()
    {
        var young = Default();
        for (var i = 0; i < 4; i++)
        {
            young.Process(At("a", i, 50 + i), out _);
        }
        var row = Row(young, "a");
        var other = Default();
        other.Process(At("a", 0, 1), out _);
        var before = StateOf(other, "a");
        // The row ends with the log's input count, its byte length (one byte here), the log and the window count (int 0).
        var countAt = Enumerable.Range(0, row.Length - 6).Single(i => row[i] == 4 && i + 2 + row[i + 1] == row.Length - 4);
        // A log claiming more inputs than it holds, and one whose last entry runs past its end.
        var wrongCount = (byte[])row.Clone();
        wrongCount[countAt] = 5;
        Assert.Throws<InvalidDataException>(() => Restore(other, "a", 4, wrongCount));
        var cut = (byte[])row.Clone();
        cut[row.Length - 5] = 0x80;
        Assert.Throws<InvalidDataException>(() => Restore(other, "a", 4, cut));
        Assert.Equal(before, StateOf(other, "a"));
    }

    /// <summary>A row of the previous layout ("SMS2", every state built), written by the engine before this one:
    /// 40 readings of <see cref="LegacyInputs"/> and four tumbling windows.</summary>
    private const string LegacyRow =
        "U01TMgQAAAABAQt0ZW1wZXJhdHVyZQEGcHVtcC0xAAAAAAAAAAAAAAAAAAAAAN07kuGINUlAEE3R50Pi/j/GuN3qQ03jP+R3PPdlG0hAKAAAAAAAAACpfdiCRtVKQMHREY5ll0dAdP5f2qPK9D+gHAnQiwEAAOR3PPdlG0hAAQAAAAAAACxAAAAAAAAAAACAXQbQiwEAAKAcCdCLAQAAaYo+hSUV3T/kdzz3ZRtIQAEAAAABAAAAoBwJ0IsBAAABAQIAAAAIAAAAAAEAAAQAAAAKAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAArv99P3hMbz8ghVO/dib/vyZflL9wGjI+SbyaP5wQqz6IhHS/dCCmvwIAAAAIAAAAAAEAADAAAAAAAAAAAAAAAAAAAAAAAAAAMfl4NhG0JMAoAAAAAQAAAABcJgUAAAAAgO42AAAAAAAAaOXPiwEAAKAcCdCLAQAAnfSHPAAAAAAAAAAAAAAAAAEAAMD/AADA/wAAwP8AAMD/AADA/wAAwP8AAMD/AADA/wAAwP8AAMD/AADA/wAAwP8AAMD/AADA/wAAwP8AAMD/AADA/wAAwP8AAMD/AADA/wAAwP8AAMD//YRIQgAAwP8AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAQAAAAt0dW1ibGluZzoxbaAcCdCLAQAAAQt0ZW1wZXJhdHVyZQEGcHVtcC0xAAAAAAAAAAAAAAAAAAAAAIJwZkOoWklAqFjUGGtR/D+4F7GxNTMDQOR3PPdlW0hABAAAAAAAAABEUGX3bk5KQOR3PPdlW0hAQHub++gyD0CgHAnQiwEAAOR3PPdlW0hAAQAAAAAAACxAAAAAAAAAAABgpe3PiwEAAKAcCdCLAQAATqvWH2M7lT/kdzz3ZVtIQAEAAAABAAAAoBwJ0IsBAAABAQIAAAAIAAAAAAEAAAQAAAABAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAEOqOvQIAAAAIAAAAAAEAADAAAAAAAAAAAAAAAAAAAAAAAAAAiC5j+kHd0b8EAAAAAQAAAABcJgUAAAAAgO42AAAAAABgpe3PiwEAAKAcCdCLAQAArQwVvwAAAAAAAAAAAAAAAAEAAMD/AADA/wAAwP8AAMD/AADA/wAAwP8AAMD/AADA/wAAwP8AAMD/AADA/wAAwP8AAMD/AADA/wAAwP8AAMD/AADA/wAAwP8AAMD/AADA/wAAwP8AAMD/DQ5NQgAAwP8AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

    private static void LegacyInputs(DetectorPipeline p, int from, int to)
    {
        for (var i = from; i < to; i++)
        {
            var v = 50 + (3 * Math.Sin(i * 0.3)) + (i % 7 * 0.125);
            p.Process(new SensorReading("legacy", Synthetic.Start + (i * Synthetic.Step), v, AssetId: "pump-1", SensorType: "temperature", Position: new SourcePosition(0, i, 0)), out _);
            if (i % 10 == 9)
            {
                var m = v + 0.5;
                p.ProcessWindow(new WindowAggregate("legacy", "tumbling:1m", Synthetic.Start + (i * Synthetic.Step) - 60_000, Synthetic.Start + (i * Synthetic.Step),
                    5, m * 5, m - 1, m + 1, m, 0.5, m, m, m, m, m, 0, true, "pump-1", "temperature"), out _);
            }
        }
    }

    [Fact]
    public void Rows_of_the_previous_layout_still_restore()
    {
        var reference = Default();
        reference.DeclareWindowKinds(["tumbling:1m", "hopping:5m/1m"]);
        LegacyInputs(reference, 0, 40);
        var restored = Default();
        restored.DeclareWindowKinds(["tumbling:1m", "hopping:5m/1m"]);
        Restore(restored, "legacy", 40, Convert.FromBase64String(LegacyRow));
        Assert.Equal(StateOf(reference, "legacy"), StateOf(restored, "legacy"));
        LegacyInputs(reference, 40, 400);
        LegacyInputs(restored, 40, 400);
        Assert.Equal(StateOf(reference, "legacy"), StateOf(restored, "legacy"));
    }
}
