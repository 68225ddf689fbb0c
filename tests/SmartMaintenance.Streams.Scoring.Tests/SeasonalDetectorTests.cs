using SmartMaintenance.Streams.Scoring.Detectors;
using Xunit;

namespace SmartMaintenance.Streams.Scoring.Tests;

public class SeasonalDetectorTests
{
    private const long FiveMinutes = 300_000;
    private const int PerDay = 288;
    // Midnight UTC, so the slot of a reading is its hour of the day.
    private const long Midnight = 1_700_006_400_000;

    /// <summary>Five-minute readings: level 10 with noise, a daily peak of 20 from 12:00 to 14:00, none on <paramref name="missingDay"/>.</summary>
    private static double[] DailyPeaks(int days, int missingDay = -1)
    {
        var v = Synthetic.Noise(days * PerDay, level: 10, sigma: 0.5, seed: 11);
        for (var i = 0; i < v.Length; i++)
        {
            var hour = i % PerDay / 12;
            if (hour is >= 12 and < 14 && i / PerDay != missingDay)
            {
                v[i] += 10;
            }
        }
        return v;
    }

    private static long Time(int i) => Midnight + (i * FiveMinutes);

    private static double[] Ratios(SeasonalDetector detector, ref SeasonalState state, double[] values, int from = 0, int to = -1)
    {
        to = to < 0 ? values.Length : to;
        var ratios = new double[to - from];
        for (var i = from; i < to; i++)
        {
            ratios[i - from] = detector.Update(ref state, Time(i), values[i], default).Ratio;
        }
        return ratios;
    }

    [Fact]
    public void A_missing_daily_peak_crosses_the_threshold_while_ordinary_days_stay_below_it()
    {
        const int missingDay = 8;
        var v = DailyPeaks(10, missingDay);
        var detector = new SeasonalDetector(new DetectorOptions());
        var state = default(SeasonalState);
        var ratios = Ratios(detector, ref state, v);

        // Ordinary days once the profile has learned (from day 3): the peak is expected, nothing stands out.
        var ordinary = ratios.AsSpan(3 * PerDay, (missingDay - 3) * PerDay).ToArray();
        Assert.True(ordinary.Max() < 1, $"ordinary days peaked at ratio {ordinary.Max():F2}");
        // The missing peak: the level stays at its overall normal 10, but 12:00–14:00 should be 20.
        var peakHours = ratios.AsSpan((missingDay * PerDay) + (12 * 12), 24).ToArray();
        Assert.True(peakHours.Max() > 1, $"the missing peak reached only ratio {peakHours.Max():F2}");
        // Measured as a deficit against the expectation for the hour.
        var r = detector.Update(ref state, Time((missingDay * PerDay) + (13 * 12)), 10, default);
        Assert.True(r.Statistic < 0);
        Assert.InRange(r.Expected, 18, 22);
    }

    [Fact]
    public void A_missing_daily_peak_fires_the_seasonal_detector_in_the_ensemble()
    {
        const int missingDay = 8;
        var v = DailyPeaks(10, missingDay);
        var options = new ScoringOptions();
        var d = options.Defaults;
        (d.LevelWeight, d.SpikeWeight, d.ShiftWeight, d.FlatlineWeight, d.ContextWeight, d.SlowContextWeight) = (0, 0, 0, 0, 0, 0);
        var pipeline = new DetectorPipeline(options);
        var found = new List<(int Index, string Detector)>();
        for (var i = 0; i < v.Length; i++)
        {
            if (pipeline.Process(new Contracts.SensorReading("s1", Time(i), v[i]), out var a))
            {
                found.Add((i, a!.Detector));
            }
        }
        var (index, detector) = Assert.Single(found);
        Assert.Equal("seasonal", detector);
        Assert.InRange(index, (missingDay * PerDay) + (12 * 12), (missingDay * PerDay) + (14 * 12));
    }

    [Fact]
    public void The_scale_of_the_deviation_forgets_with_event_time_not_with_the_number_of_readings()
    {
        var v = DailyPeaks(10, missingDay: 8);
        double[] Ratios(long stepMs, long periodMs, double scaleHalfLifeMs)
        {
            // Period, slot and smoothing scale with the step, so only the scale's memory can tell the runs apart.
            var detector = new SeasonalDetector(new DetectorOptions
            {
                SeasonalPeriodMs = periodMs,
                SeasonalSlotMs = periodMs / 24,
                SeasonalSmoothMs = periodMs / 24,
                SeasonalScaleHalfLifeMs = scaleHalfLifeMs,
            });
            var state = default(SeasonalState);
            var ratios = new double[v.Length];
            for (var i = 0; i < v.Length; i++)
            {
                ratios[i] = detector.Update(ref state, Midnight + (i * stepMs), v[i], default).Ratio;
            }
            return ratios;
        }
        const long Day = 86_400_000;
        var fiveMinutes = Ratios(FiveMinutes, Day, 6 * Day);
        Assert.Contains(fiveMinutes, r => r > 1);
        // Everything twice as slow, the half-life included: the same decay per reading, so the same ratios.
        Assert.Equal(fiveMinutes, Ratios(2 * FiveMinutes, 2 * Day, 12 * Day));
        // Twice the step with the same half-life: each reading moves the scale further, so the ratios differ ...
        Assert.NotEqual(fiveMinutes, Ratios(2 * FiveMinutes, 2 * Day, 6 * Day));
        // ... whereas a per-reading factor (half-life 0) cannot tell a doubled step from a doubled period.
        Assert.Equal(Ratios(FiveMinutes, Day, 0), Ratios(2 * FiveMinutes, 2 * Day, 0));
    }

    [Fact]
    public void Nothing_scores_before_the_minimum_number_of_periods_even_for_an_extreme_value()
    {
        var options = new DetectorOptions { SeasonalMinPeriods = 3 };
        var v = DailyPeaks(4);
        // The last reading before the third period begins.
        v[(3 * PerDay) - 1] += 1000;
        var detector = new SeasonalDetector(options);
        var state = default(SeasonalState);
        var ratios = Ratios(detector, ref state, v, 0, 3 * PerDay);
        Assert.All(ratios, r => Assert.Equal(0, r));
        // From the third period on the same excursion scores.
        var later = detector.Update(ref state, Time(3 * PerDay), v[3 * PerDay] + 1000, default);
        Assert.True(later.Ratio > 1);
    }

    [Fact]
    public void The_profile_is_allocated_lazily_with_one_float_per_slot()
    {
        var detector = new SeasonalDetector(new DetectorOptions());
        var state = default(SeasonalState);
        Assert.Null(state.Profile);
        detector.Update(ref state, Time(0), 1, default);
        Assert.Equal(24, detector.Slots);
        Assert.Equal(24, state.Profile!.Length);
        Assert.Equal(168, new SeasonalDetector(new DetectorOptions { SeasonalPeriodMs = 604_800_000 }).Slots);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(500)]
    [InlineData(5 * PerDay)]
    public void Snapshot_round_trip_continues_with_identical_scores(int split)
    {
        var v = DailyPeaks(8, missingDay: 7);
        var detector = new SeasonalDetector(new DetectorOptions());
        var original = default(SeasonalState);
        Ratios(detector, ref original, v, 0, split);

        using var buffer = new MemoryStream();
        using (var w = new BinaryWriter(buffer, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            detector.Write(original, w);
        }
        buffer.Position = 0;
        using var r = new BinaryReader(buffer);
        var restored = detector.Read(r);
        Assert.Equal(buffer.Length, buffer.Position);

        for (var i = split; i < v.Length; i++)
        {
            var a = detector.Update(ref original, Time(i), v[i], default);
            var b = detector.Update(ref restored, Time(i), v[i], default);
            Assert.Equal(a, b);
        }
    }

    [Fact]
    public void Snapshot_taken_with_another_slot_width_is_rejected()
    {
        var detector = new SeasonalDetector(new DetectorOptions());
        var state = default(SeasonalState);
        detector.Update(ref state, Time(0), 1, default);
        using var buffer = new MemoryStream();
        using (var w = new BinaryWriter(buffer, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            detector.Write(state, w);
        }
        buffer.Position = 0;
        using var r = new BinaryReader(buffer);
        var other = new SeasonalDetector(new DetectorOptions { SeasonalSlotMs = 1_800_000 });
        Assert.Throws<InvalidDataException>(() => other.Read(r));
    }

    [Fact]
    public void Pipeline_snapshot_carries_the_seasonal_state()
    {
        var v = DailyPeaks(10, missingDay: 8);
        var original = new DetectorPipeline(new ScoringOptions());
        var split = 6 * PerDay;
        for (var i = 0; i < split; i++)
        {
            original.Process(new Contracts.SensorReading("s1", Time(i), v[i]), out _);
        }
        using var snapshot = new MemoryStream();
        original.Snapshot(snapshot);
        snapshot.Position = 0;
        var restored = new DetectorPipeline(new ScoringOptions());
        restored.Restore(snapshot);
        for (var i = split; i < v.Length; i++)
        {
            var reading = new Contracts.SensorReading("s1", Time(i), v[i]);
            var a = original.Score(reading, out var ra, out _);
            var b = restored.Score(reading, out var rb, out _);
            Assert.Equal(a, b);
            Assert.Equal(ra.Seasonal, rb.Seasonal);
        }
    }

    [Fact]
    public void A_slot_wider_than_the_period_fails_at_startup()
    {
        var options = new ScoringOptions();
        options.Defaults.SeasonalSlotMs = 2 * options.Defaults.SeasonalPeriodMs;
        var e = Assert.Throws<Contracts.ConfigurationException>(options.Validate);
        Assert.Contains("SeasonalSlotMs", e.Message);
    }
}
