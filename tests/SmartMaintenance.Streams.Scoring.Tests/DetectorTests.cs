using System.Text.Json;
using SmartMaintenance.Streams.Contracts;
using Xunit;

namespace SmartMaintenance.Streams.Scoring.Tests;

public class DetectorTests
{
    private static DetectorPipeline Pipeline(Action<DetectorOptions>? configure = null)
    {
        var options = new ScoringOptions();
        configure?.Invoke(options.Defaults);
        return new DetectorPipeline(options);
    }

    [Fact]
    public void Pure_noise_after_warmup_raises_nothing()
    {
        var found = Synthetic.Run(Pipeline(), Synthetic.Noise(5000));
        Assert.Empty(found);
    }

    [Fact]
    public void Spike_in_noise_fires_at_the_spike_with_evidence()
    {
        var v = Synthetic.Noise(1500);
        v[1000] += 15;
        var found = Synthetic.Run(Pipeline(), v);
        var (index, anomaly) = Assert.Single(found);
        Assert.Equal(1000, index);
        Assert.Contains(anomaly.Detector, new[] { "spike", "level" });
        Assert.InRange(anomaly.Score, 0.5, 1);
        Assert.Equal(0.5, anomaly.Threshold);
        Assert.InRange(anomaly.Severity, 1, 5);
        using var evidence = JsonDocument.Parse(anomaly.Evidence);
        Assert.Equal(v[1000], evidence.RootElement.GetProperty("value").GetDouble());
        Assert.True(evidence.RootElement.GetProperty("scores").GetProperty("spike").GetDouble() > 0.5);
    }

    [Fact]
    public void Level_shift_of_three_sigma_is_found_within_a_few_readings()
    {
        var v = Synthetic.Noise(2000);
        for (var i = 1200; i < v.Length; i++)
        {
            v[i] += 3;
        }
        var found = Synthetic.Run(Pipeline(), v);
        Assert.NotEmpty(found);
        var (index, anomaly) = found[0];
        Assert.InRange(index, 1200, 1230);
        Assert.Equal("level_shift", anomaly.Detector);
        // The window starts where the CUSUM began to accumulate, at or after the shift.
        Assert.InRange(anomaly.WindowStart, Synthetic.Start + (1195 * Synthetic.Step), anomaly.Timestamp);
    }

    [Fact]
    public void Stuck_sensor_is_reported_by_the_flatline_detector()
    {
        var v = Synthetic.Noise(2000);
        for (var i = 1000; i < 1200; i++)
        {
            v[i] = v[999];
        }
        var found = Synthetic.Run(Pipeline(), v);
        var flat = Assert.Single(found, f => f.Anomaly.Detector == "flatline");
        Assert.InRange(flat.Index, 1020, 1100);
        Assert.Equal(Synthetic.Start + (999 * Synthetic.Step), flat.Anomaly.WindowStart);
    }

    [Fact]
    public void Slow_drift_is_not_flagged()
    {
        var v = Synthetic.Noise(6000);
        for (var i = 0; i < v.Length; i++)
        {
            v[i] += i * 0.002; // 12 σ over the series, 0.002 σ per reading
        }
        Assert.Empty(Synthetic.Run(Pipeline(), v));
    }

    [Theory]
    [InlineData(0.004)]
    [InlineData(0.008)]
    public void A_drift_the_slow_level_lags_behind_does_not_accumulate_into_level_shifts(double perReading)
    {
        var v = Synthetic.Noise(8000);
        for (var i = 0; i < v.Length; i++)
        {
            v[i] += i * perReading;
        }
        // Against the robust level alone (ShiftAlpha 0) the lag accumulates: the CUSUM reports shift after shift.
        var againstLevel = Synthetic.Run(Pipeline(o => o.ShiftAlpha = 0), v);
        Assert.Contains(againstLevel, f => f.Anomaly.Detector == "level_shift");
        // Its own faster reference follows the drift.
        var found = Synthetic.Run(Pipeline(), v);
        Assert.DoesNotContain(found, f => f.Anomaly.Detector == "level_shift");
    }

    [Fact]
    public void A_peak_a_little_above_the_recent_tall_peaks_is_not_news_but_one_half_again_as_far_out_is()
    {
        static double[] Peaks(double last)
        {
            var v = Synthetic.Noise(4000);
            for (var i = 300; i < 3000; i += 100)
            {
                v[i] += 10;
            }
            v[3500] += last;
            return v;
        }
        static void LevelOnly(DetectorOptions o)
        {
            (o.SpikeWeight, o.ShiftWeight, o.FlatlineWeight, o.ContextWeight, o.SlowContextWeight, o.SeasonalWeight) = (0, 0, 0, 0, 0, 0);
            // Without habituation the first tall peak (a new record) does not raise the bar for the others.
            o.HabituationFactor = 0;
        }

        // 4 scales beyond an envelope that reaches 10 scales out: news for the excess in scales alone (factor 1) ...
        var inScales = Synthetic.Run(Pipeline(o => { LevelOnly(o); o.LevelEnvelopeFactor = 1; }), Peaks(14));
        Assert.Contains(inScales, f => f.Index == 3500 && f.Anomaly.Detector == "level");
        // ... but not for the default relative rule, which wants 1.5 × 10 scales from the level ...
        Assert.DoesNotContain(Synthetic.Run(Pipeline(LevelOnly), Peaks(14)), f => f.Index == 3500);
        // ... which a peak twice as tall reaches.
        Assert.Contains(Synthetic.Run(Pipeline(LevelOnly), Peaks(20)), f => f.Index == 3500 && f.Anomaly.Detector == "level");
    }

    [Fact]
    public void A_jump_twice_as_large_as_the_recurring_ones_is_not_a_spike_but_one_four_times_as_large_is()
    {
        // Recurring switching: the level steps up by 8 and back every 100 readings, so jumps of 8 are normal here.
        static double[] Steps(double last)
        {
            var v = Synthetic.Noise(4000);
            for (var start = 300; start < 3000; start += 100)
            {
                for (var i = start; i < start + 50; i++)
                {
                    v[i] += 8;
                }
            }
            for (var i = 3500; i < 3550; i++)
            {
                v[i] += last;
            }
            return v;
        }
        static void SpikeOnly(DetectorOptions o)
        {
            (o.LevelWeight, o.ShiftWeight, o.FlatlineWeight, o.ContextWeight, o.SlowContextWeight, o.SeasonalWeight) = (0, 0, 0, 0, 0, 0);
            o.HabituationFactor = 0;
        }

        // Twice the recurring jump is within the default SpikeEnvelopeFactor (2.5) of the largest recent change ...
        Assert.DoesNotContain(Synthetic.Run(Pipeline(SpikeOnly), Steps(16)), f => f.Index == 3500);
        // ... though it was a spike for the factor 1.5 used before 2026-12-06 ...
        Assert.Contains(Synthetic.Run(Pipeline(o => { SpikeOnly(o); o.SpikeEnvelopeFactor = 1.5; }), Steps(16)), f => f.Index == 3500 && f.Anomaly.Detector == "spike");
        // ... and four times the recurring jump is a spike.
        Assert.Contains(Synthetic.Run(Pipeline(SpikeOnly), Steps(32)), f => f.Index == 3500 && f.Anomaly.Detector == "spike");
    }

    [Fact]
    public void Ordinary_noise_after_a_quiet_spell_within_the_context_history_is_not_a_new_shape()
    {
        // Noise, 800 quiet readings (a tenth of the noise), then the same noise again: shapes the history still holds.
        var v = Synthetic.Noise(5300);
        var quiet = Synthetic.Noise(v.Length, sigma: 0.1, seed: 8);
        Array.Copy(quiet, 3000, v, 3000, 800);
        static void ContextOnly(DetectorOptions o)
        {
            (o.LevelWeight, o.SpikeWeight, o.ShiftWeight, o.FlatlineWeight, o.SlowContextWeight, o.SeasonalWeight) = (0, 0, 0, 0, 0, 0);
            o.HabituationFactor = 0;
        }

        // The typical nearest distance is averaged over about as many searches as the history holds (ContextAlpha
        // 0.004 ≈ 1/256), so 200 quiet searches do not redefine what a typical distance is ...
        Assert.Empty(Synthetic.Run(Pipeline(ContextOnly), v));
        // ... whereas a memory of 100 searches (0.01, the default before 2026-12-06) forgets the noise during the spell
        // and takes its return for a new shape.
        Assert.Contains(Synthetic.Run(Pipeline(o => { ContextOnly(o); o.ContextAlpha = 0.01; }), v), f => f.Index >= 3800 && f.Anomaly.Detector == "context");
    }

    [Fact]
    public void Nothing_fires_during_warmup_even_for_an_extreme_value()
    {
        var v = Synthetic.Noise(400);
        v[100] += 1000;
        var pipeline = Pipeline();
        Assert.Equal(200, pipeline.WarmupReadings);
        Assert.DoesNotContain(Synthetic.Run(pipeline, v), f => f.Index < 200);
    }

    [Fact]
    public void Range_rule_fires_immediately_with_top_severity_for_its_sensor_type_only()
    {
        var options = new ScoringOptions();
        options.SensorTypes["temperature"] = new DetectorOptions { RangeMin = -40, RangeMax = 150 };
        var pipeline = new DetectorPipeline(options);
        Assert.True(pipeline.Process(Synthetic.Reading("t1", 0, 200, "temperature"), out var a));
        Assert.Equal("range", a!.Detector);
        Assert.Equal(5, a.Severity);
        Assert.Equal("temperature", a.SensorType);
        Assert.False(pipeline.Process(Synthetic.Reading("p1", 0, 200, "pressure"), out _));
    }

    [Fact]
    public void Suppression_turns_a_long_disturbance_into_one_alert()
    {
        var v = Synthetic.Noise(2000);
        for (var i = 1000; i < 1100; i++)
        {
            v[i] += (i % 2 == 0) ? 20 : -20;
        }
        var found = Synthetic.Run(Pipeline(o => o.EscalationMargin = 1), v);
        Assert.Single(found, f => f.Index >= 1000 && f.Index < 1100 + 200);
    }

    [Fact]
    public void Suppression_ends_after_its_event_time_span_even_when_readings_remain()
    {
        // Readings every minute; two isolated spikes 100 minutes apart, well inside 200 readings.
        var v = Synthetic.Noise(2000);
        v[1000] += 25;
        v[1100] -= 25;
        static bool FiredAt(List<(int Index, Anomaly Anomaly)> found, int index) => found.Exists(f => f.Index == index);
        var byReadings = Synthetic.Run(Pipeline(o => o.SuppressDurationMs = 0), v);
        Assert.True(FiredAt(byReadings, 1000));
        Assert.False(FiredAt(byReadings, 1100));
        var byTime = Synthetic.Run(Pipeline(o => o.SuppressDurationMs = 60 * 60_000), v);
        Assert.True(FiredAt(byTime, 1000));
        Assert.True(FiredAt(byTime, 1100));
    }

    [Theory]
    [InlineData("habituation")]
    [InlineData("envelope")]
    public void Time_based_memories_decay_with_event_time_not_with_the_number_of_readings(string memory)
    {
        // Recurring excursions, so the habituation memory and the envelopes shape the scores.
        var v = Synthetic.Noise(3000);
        for (var i = 600; i < v.Length; i += 250)
        {
            v[i] += 12;
        }
        double[] Scores(double halfLifeMs, long stepMs)
        {
            // Only the memory under test runs on event time; the other decays per reading, suppression counts readings.
            var pipeline = Pipeline(o =>
            {
                o.SuppressDurationMs = 0;
                o.HabituationHalfLifeMs = memory == "habituation" ? halfLifeMs : 0;
                o.EnvelopeHalfLifeMs = memory == "envelope" ? halfLifeMs : 0;
                // The seasonal detector keys on the time of day, which a doubled step changes by design.
                o.SeasonalWeight = 0;
            });
            var scores = new double[v.Length];
            for (var i = 0; i < v.Length; i++)
            {
                scores[i] = pipeline.Score(new SensorReading("s", Synthetic.Start + (i * stepMs), v[i]), out _, out _);
            }
            return scores;
        }
        const long Day = 86_400_000;
        var minutely = Scores(Day, 60_000);
        // Twice the step and twice the half-life: the same decay per reading, so the same scores.
        Assert.Equal(minutely, Scores(2 * Day, 120_000));
        // Twice the step with the same half-life: each reading decays the memory more, so the scores differ.
        Assert.NotEqual(minutely, Scores(Day, 120_000));
        Assert.Contains(minutely, x => x >= 0.5);
    }

    [Fact]
    public void Processing_readings_that_do_not_fire_allocates_nothing()
    {
        var pipeline = Pipeline();
        var o = new DetectorOptions();
        // Past the point where the slow context detector's ring reached full size (it grows while it fills).
        var warm = (o.ContextHistory + (2 * o.ContextLength)) * o.SlowContextStride;
        var v = Synthetic.Noise(warm + 20_000);
        for (var i = 0; i < warm; i++)
        {
            pipeline.Process(Synthetic.Reading("s1", i, v[i]), out _);
        }
        var fired = 0;
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = warm; i < v.Length; i++)
        {
            if (pipeline.Process(Synthetic.Reading("s1", i, v[i]), out _))
            {
                fired++;
            }
        }
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, fired);
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void Snapshot_and_restore_continue_exactly_like_the_original()
    {
        var v = Synthetic.Noise(3000);
        v[2000] += 20;
        for (var i = 2500; i < 3000; i++)
        {
            v[i] += 4;
        }
        var original = Pipeline();
        for (var i = 0; i < 1500; i++)
        {
            original.Process(Synthetic.Reading("a", i, v[i]), out _);
            original.Process(Synthetic.Reading("b", i, -v[i], "other"), out _);
        }
        original.ProcessWindow(new WindowAggregate("a", "1m", 0, 60_000, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 0, true), out _);
        using var snapshot = new MemoryStream();
        original.Snapshot(snapshot);
        snapshot.Position = 0;
        var restored = Pipeline();
        restored.Restore(snapshot);
        Assert.Equal(2, restored.SensorCount);

        for (var i = 1500; i < v.Length; i++)
        {
            foreach (var (id, x, type) in new[] { ("a", v[i], (string?)null), ("b", -v[i], "other") })
            {
                var r = Synthetic.Reading(id, i, x, type);
                var s1 = original.Score(r, out _, out var a1);
                var s2 = restored.Score(r, out _, out var a2);
                Assert.Equal(s1, s2);
                Assert.Equal(a1, a2);
            }
        }
    }

    [Fact]
    public void Restore_rejects_a_snapshot_taken_under_another_context_length()
    {
        var original = Pipeline();
        foreach (var (i, x) in Synthetic.Noise(100).Select((x, i) => (i, x)))
        {
            original.Process(Synthetic.Reading("a", i, x), out _);
        }
        using var snapshot = new MemoryStream();
        original.Snapshot(snapshot);
        snapshot.Position = 0;
        Assert.Throws<InvalidDataException>(() => Pipeline(o => o.ContextLength = 4).Restore(snapshot));
    }

    [Fact]
    public void Window_aggregates_are_scored_statistically_when_no_model_exists()
    {
        var pipeline = Pipeline(o => o.WarmupReadings = 50);
        var noise = Synthetic.Noise(200);
        Anomaly? last = null;
        for (var i = 0; i < noise.Length; i++)
        {
            var mean = i == 150 ? noise[i] + 30 : noise[i];
            var agg = new WindowAggregate("w1", "1m", i * 60_000L, (i + 1) * 60_000L, 60, mean * 60, mean - 1, mean + 1, mean, 0.5, mean, mean, mean, mean + 1, mean + 1, 0, true);
            if (pipeline.ProcessWindow(agg, out var a))
            {
                last = a;
                Assert.True(i == 150, $"fired at {i}: {a!.Detector} {a.Evidence}");
            }
        }
        Assert.NotNull(last);
        Assert.StartsWith(DetectorPipeline.WindowDetectorPrefix, last.Detector, StringComparison.Ordinal);
        Assert.Equal(150 * 60_000L, last.WindowStart);
    }

    [Fact]
    public void Invalid_settings_fail_at_startup_naming_the_setting()
    {
        var options = new ScoringOptions();
        options.SensorTypes["vibration"] = new DetectorOptions { FireThreshold = 2 };
        var ex = Assert.Throws<ConfigurationException>(() => new DetectorPipeline(options));
        Assert.Equal("Scoring:SensorTypes:vibration:FireThreshold", ex.Setting);

        var range = new ScoringOptions();
        range.Defaults.RangeMin = 10;
        range.Defaults.RangeMax = 0;
        Assert.Equal("Scoring:Defaults:RangeMin", Assert.Throws<ConfigurationException>(() => new DetectorPipeline(range)).Setting);
    }
}
