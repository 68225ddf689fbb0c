using System.CommandLine;
using System.Globalization;
using SmartMaintenance.Streams.Prediction.Cmapss;
using SmartMaintenance.Streams.Prediction.Rul;
using SmartMaintenance.Streams.Prediction.Training;

namespace SmartMaintenance.Streams.Cli.Commands;

/// <summary><c>smstream eval cmapss</c>: grouped cross-validation on the training engines, then the test engines replayed
/// through the engine's RUL code, their final estimates written as <c>unit,rul</c>.</summary>
internal static class EvalCmapssCommand
{
    public static Command Create()
    {
        var data = new Option<DirectoryInfo?>("--data")
        {
            Description = "Folder with train_SPLIT.txt and test_SPLIT.txt (NASA C-MAPSS layout). Default: tests/data/cmapss-fd001 in the repository.",
        };
        var split = new Option<string>("--split") { Description = "Sub-set name in the file names.", DefaultValueFactory = _ => "FD001" };
        var output = new Option<DirectoryInfo?>("--out") { Description = "Folder for estimates.csv (unit,rul), estimates-interval.csv, cv.md and the trained model (rul/). Default: ./cmapss-eval." };
        var model = new Option<FileInfo?>("--model") { Description = "Use this RUL model (*.meta.json) instead of training one; cross-validation is skipped." };
        var folds = new Option<int>("--folds") { Description = "Folds of the grouped (by engine) cross-validation.", DefaultValueFactory = _ => 5 };
        var defaults = new RulTrainerOptions();
        var defaultSpec = new RulFeatureSpec();
        var trees = new Option<int>("--trees") { Description = "Boosted trees (hyper-parameter search; chosen by this cross-validation).", DefaultValueFactory = _ => defaults.Trees };
        var leaves = new Option<int>("--leaves") { Description = "Leaves per tree.", DefaultValueFactory = _ => defaults.Leaves };
        var minLeaf = new Option<int>("--min-leaf") { Description = "Minimum training rows per leaf.", DefaultValueFactory = _ => defaults.MinExamplesPerLeaf };
        var rate = new Option<double>("--learning-rate") { Description = "Boosting learning rate.", DefaultValueFactory = _ => defaults.LearningRate };
        var window = new Option<int>("--window") { Description = "Cycles of the long feature window (mean, slope).", DefaultValueFactory = _ => defaultSpec.Window };
        var repeat = new Option<int>("--repeat") { Description = "Replay the test split this many more times to measure warm throughput (readings/s on one thread).", DefaultValueFactory = _ => 0 };
        var cmd = new Command("cmapss", "Cross-validate the RUL model by engine on a C-MAPSS training split, train it on all training engines, and write the test engines' final RUL estimates (unit,rul).");
        foreach (var o in new Option[] { data, split, output, model, folds, repeat, trees, leaves, minLeaf, rate, window })
        {
            cmd.Options.Add(o);
        }
        cmd.SetAction(async (parse, ct) =>
        {
            var dir = parse.GetValue(data)?.FullName ?? VendoredData.Find("cmapss-fd001");
            var name = parse.GetValue(split)!;
            if (dir is null || !Directory.Exists(dir))
            {
                await Console.Error.WriteLineAsync(dir is null
                    ? "eval cmapss: no --data given and tests/data/cmapss-fd001 was not found (run from a clone of the repository, or pass --data DIR)."
                    : $"eval cmapss: --data {dir} does not exist.").ConfigureAwait(false);
                return 2;
            }
            var trainPath = Path.Combine(dir, $"train_{name}.txt");
            var testPath = Path.Combine(dir, $"test_{name}.txt");
            foreach (var p in new[] { testPath }.Concat(parse.GetValue(model) is null ? [trainPath] : Array.Empty<string>()))
            {
                if (!File.Exists(p))
                {
                    await Console.Error.WriteLineAsync($"eval cmapss: {p} not found.").ConfigureAwait(false);
                    return 2;
                }
            }
            var outDir = parse.GetValue(output)?.FullName ?? Path.GetFullPath("cmapss-eval");
            Directory.CreateDirectory(outDir);
            var started = System.Diagnostics.Stopwatch.StartNew();
            string metaPath;
            if (parse.GetValue(model) is { } m)
            {
                metaPath = m.FullName;
            }
            else
            {
                var options = new RulTrainerOptions
                {
                    Folds = parse.GetValue(folds),
                    Trees = parse.GetValue(trees),
                    Leaves = parse.GetValue(leaves),
                    MinExamplesPerLeaf = parse.GetValue(minLeaf),
                    LearningRate = parse.GetValue(rate),
                };
                var spec = new RulFeatureSpec { Window = parse.GetValue(window) };
                var trained = RulTraining.TrainAndWrite(CmapssData.Read(trainPath), spec, options, outDir, "rul-" + name.ToLowerInvariant(), 1);
                var table = CmapssEvaluator.Markdown(trained.CrossValidation);
                await File.WriteAllTextAsync(Path.Combine(outDir, "cv.md"), table, ct).ConfigureAwait(false);
                await Console.Out.WriteLineAsync($"Cross-validation by engine ({options.Folds} folds, {name} training engines):\n\n{table}").ConfigureAwait(false);
                metaPath = trained.MetadataPath;
            }
            using var rul = RulModel.Load(metaPath);
            var test = CmapssData.Read(testPath);
            var replay = System.Diagnostics.Stopwatch.StartNew();
            var estimates = CmapssEvaluator.FinalEstimates(test, rul);
            replay.Stop();
            // One thread assembles, featurises and scores every reading: readings per second is per core.
            var readings = test.Sum(u => u.Cycles) * RulChannels.All.Count;
            await Console.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"Replay of the test split through the engine's RUL code: {readings:N0} readings, {test.Sum(u => u.Cycles):N0} estimates in {replay.Elapsed.TotalSeconds:0.00} s = {readings / replay.Elapsed.TotalSeconds:N0} readings/s on one thread (first pass, JIT included)")).ConfigureAwait(false);
            if (parse.GetValue(repeat) > 0)
            {
                replay.Restart();
                for (var i = 0; i < parse.GetValue(repeat); i++)
                {
                    CmapssEvaluator.FinalEstimates(test, rul);
                }
                replay.Stop();
                await Console.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                    $"Warm: {parse.GetValue(repeat)} more replays, {readings * (double)parse.GetValue(repeat) / replay.Elapsed.TotalSeconds:N0} readings/s on one thread")).ConfigureAwait(false);
            }
            await File.WriteAllTextAsync(Path.Combine(outDir, "estimates.csv"), CmapssEvaluator.Csv(estimates), ct).ConfigureAwait(false);
            await File.WriteAllTextAsync(Path.Combine(outDir, "estimates-interval.csv"), CmapssEvaluator.Csv(estimates, withInterval: true), ct).ConfigureAwait(false);
            await Console.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"{estimates.Count} test engines estimated with {rul.Metadata.Name} v{rul.Version} in {started.Elapsed.TotalSeconds:0.0} s: {Path.Combine(outDir, "estimates.csv")}")).ConfigureAwait(false);
            return 0;
        });
        return cmd;
    }
}
