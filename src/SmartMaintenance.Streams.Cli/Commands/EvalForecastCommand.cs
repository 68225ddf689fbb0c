using System.CommandLine;
using SmartMaintenance.Streams.Cli.Hosting;
using SmartMaintenance.Streams.Kafka.Simulation;
using SmartMaintenance.Streams.Prediction.Forecasting;

namespace SmartMaintenance.Streams.Cli.Commands;

/// <summary><c>smstream eval forecast</c>: the simulator's degradation scenario (known failure times) through the
/// time-to-limit forecaster; MAE of the predicted time to the limit and interval coverage, per wear mode.</summary>
internal static class EvalForecastCommand
{
    public static Command Create()
    {
        var sensors = new Option<int>("--sensors") { Description = "Degrading sensors (alternately linear and exponential wear).", DefaultValueFactory = _ => 24 };
        var duration = new Option<TimeSpan>("--duration") { Description = "Simulated event time (e.g. 3d, 72h).", DefaultValueFactory = _ => TimeSpan.FromDays(4), CustomParser = DurationParser.Parse };
        var noise = new Option<double>("--noise") { Description = "Standard deviation of the reading noise (the wear span is 30).", DefaultValueFactory = _ => 0.5 };
        var bucket = new Option<TimeSpan>("--bucket") { Description = "Bucket the readings are averaged over before the trend fit.", DefaultValueFactory = _ => TimeSpan.FromMinutes(10), CustomParser = DurationParser.Parse };
        var buckets = new Option<int>("--buckets") { Description = "Bucket means in the trend fit.", DefaultValueFactory = _ => 18 };
        var horizon = new Option<TimeSpan>("--horizon") { Description = "Forecast alert horizon; forecasts are judged while the true time to the limit is inside it.", DefaultValueFactory = _ => TimeSpan.FromHours(12), CustomParser = DurationParser.Parse };
        var seed = new Option<int>("--seed") { Description = "Scenario seed.", DefaultValueFactory = _ => 1 };
        var cmd = new Command("forecast", "Replay the simulator's degradation scenario (linear and exponential wear to a limit, noise, maintenance resets) through the time-to-limit forecaster and report forecast error and interval coverage.");
        foreach (var o in new Option[] { sensors, duration, noise, bucket, buckets, horizon, seed })
        {
            cmd.Options.Add(o);
        }
        cmd.SetAction(async (parse, ct) =>
        {
            var options = new DegradationOptions
            {
                Sensors = parse.GetValue(sensors),
                Duration = parse.GetValue(duration),
                Noise = parse.GetValue(noise),
                Seed = parse.GetValue(seed),
            };
            var scenario = new DegradationScenario(options);
            var reports = ForecastEvaluation.Run(scenario, options, parse.GetValue(bucket), parse.GetValue(buckets), parse.GetValue(horizon));
            await Console.Out.WriteLineAsync($"Time to limit, {options.Sensors} sensors over {options.Duration.TotalHours:0} h, {scenario.Episodes.Count} wear episodes, horizon {parse.GetValue(horizon).TotalHours:0} h:").ConfigureAwait(false);
            foreach (var r in reports)
            {
                await Console.Out.WriteLineAsync("  " + r.Line()).ConfigureAwait(false);
            }
            return 0;
        });
        return cmd;
    }
}
