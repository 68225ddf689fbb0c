using SmartMaintenance.Streams.Kafka.Simulation;
using SmartMaintenance.Streams.Prediction.Forecasting;
using Xunit;

namespace SmartMaintenance.Streams.Prediction.Tests;

public sealed class TimeToLimitTests
{
    private static readonly TimeSpan Bucket = TimeSpan.FromMinutes(10);

    [Fact]
    public void A_noiseless_linear_rise_forecasts_the_exact_crossing_time()
    {
        // 50 → 80 over 30 h: 1 per hour; 10-minute buckets of 1-minute readings.
        var f = new TimeToLimitForecaster(80, upper: true, Bucket, buckets: 12);
        var start = 0L;
        LimitForecast last = default;
        for (var m = 0; m < 600; m++)
        {
            if (f.OnReading(start + m * 60_000L, 50 + m / 60.0, out var forecast))
            {
                last = forecast;
            }
        }
        // The last closed bucket ended at minute 590. Readings sample each minute's start, so a bucket's mean lies half a
        // minute before its middle: the fitted level at minute 590 is 50 + 589.5/60.
        Assert.Equal(590 * 60_000L, last.Timestamp);
        Assert.Equal(1.0, last.SlopePerHour, 6);
        Assert.Equal((80 - (50 + 589.5 / 60)) * 3_600_000, last.TimeToLimitMs, 0);
        Assert.Equal(last.TimeToLimitMs, last.LowerMs, 0);
        Assert.Equal(last.TimeToLimitMs, last.UpperMs, 0);
    }

    [Fact]
    public void A_receding_or_flat_series_never_reaches_the_limit()
    {
        var f = new TimeToLimitForecaster(80, upper: true, Bucket, buckets: 6);
        LimitForecast last = default;
        for (var m = 0; m < 200; m++)
        {
            if (f.OnReading(m * 60_000L, 60 - m / 100.0, out var forecast))
            {
                last = forecast;
            }
        }
        Assert.True(double.IsPositiveInfinity(last.TimeToLimitMs));
        Assert.True(double.IsPositiveInfinity(last.UpperMs));
    }

    [Fact]
    public void A_maintenance_reset_restarts_the_trend_from_the_repaired_level()
    {
        var f = new TimeToLimitForecaster(80, upper: true, Bucket, buckets: 12);
        for (var m = 0; m < 1200; m++)
        {
            f.OnReading(m * 60_000L, 50 + m / 40.0, out _); // reaches 80 at minute 1200
        }
        Assert.Equal(12, f.Buckets);
        LimitForecast after = default;
        var made = 0;
        for (var m = 1200; m < 1300; m++)
        {
            if (f.OnReading(m * 60_000L, 50 + (m - 1200) / 40.0, out var forecast))
            {
                after = forecast;
                made++;
            }
        }
        Assert.True(made > 0);
        Assert.True(f.Buckets < 12, "history cleared at the reset");
        // Fresh trend: 1.5 per hour from ~52 → about 18 h to the limit, not the minutes the worn trend would say.
        Assert.InRange(after.TimeToLimitMs / 3_600_000, 15, 22);
    }

    [Fact]
    public void Degradation_scenario_forecasts_are_scored_against_known_failure_times()
    {
        var options = new DegradationOptions { Sensors = 6, Duration = TimeSpan.FromDays(2), Seed = 5 };
        var scenario = new DegradationScenario(options);
        Assert.All(scenario.Episodes, e => Assert.True(e.StartMs < e.MaintenanceMs && e.MaintenanceMs <= e.FailureMs));
        var reports = ForecastEvaluation.Run(scenario, options, Bucket, buckets: 18, horizon: TimeSpan.FromHours(12));
        var all = reports[^1];
        Assert.Null(all.Mode);
        Assert.True(all.Forecasts > 100, $"{all.Forecasts} forecasts judged");
        // Errors are a fraction of the 12-hour horizon, and linear wear is forecast better than accelerating wear.
        Assert.InRange(all.MaeHours, 0, 4);
        var linear = reports.Single(r => r.Mode == DegradationMode.Linear);
        var exponential = reports.Single(r => r.Mode == DegradationMode.Exponential);
        Assert.True(linear.MaeHours < exponential.MaeHours, $"{linear.Line()}\n{exponential.Line()}");
        Assert.InRange(linear.Coverage, 0.5, 1);
        Assert.Equal(all.Episodes, all.EpisodesWarned);
    }
}
