using System.CommandLine;
using System.Globalization;
using SmartMaintenance.Streams.Cli.Hosting;
using SmartMaintenance.Streams.Scoring;
using SmartMaintenance.Streams.Scoring.Nab;

namespace SmartMaintenance.Streams.Cli.Commands;

internal static class EvalCommand
{
    public static Command Create()
    {
        var data = new Option<DirectoryInfo?>("--data")
        {
            Description = "Corpus in NAB's layout: data/<folder>/<name>.csv, labels/combined_windows.json, profiles.json. "
                + "Default: the NAB development subset vendored in the repository (tests/data/nab-dev).",
        };
        var output = new Option<DirectoryInfo?>("--out") { Description = "Folder for per-row scores and detections (series/*.csv), results.csv and summary.md." };
        var lofo = new Option<bool>("--lofo")
        {
            Description = "Leave-one-folder-out instead: for each folder choose the configuration (the Scoring configuration and its one-at-a-time "
                + "neighbours: each tuned setting times each of --lofo-factors) and the thresholds on the other folders, then score the folder with them.",
        };
        var lofoFactors = new Option<string>("--lofo-factors")
        {
            Description = "With --lofo: comma-separated factors each tuned setting is multiplied by to make the candidates; 'none': the configuration alone.",
            DefaultValueFactory = _ => "0.75,1.33",
        };
        var nab = new Command("nab", "Replay every series through the engine's detectors and compute the NAB score (three profiles, per series and total).");
        nab.Options.Add(data);
        nab.Options.Add(output);
        nab.Options.Add(lofo);
        nab.Options.Add(lofoFactors);
        // The same configuration sources as `smstream run` (appsettings.json, --config, SMSTREAM_SCORING__*): the engine's detectors.
        nab.Options.Add(AppConfiguration.ConfigOption);
        nab.SetAction(async (parse, ct) =>
        {
            var options = AppConfiguration.Bind<ScoringOptions>(AppConfiguration.Build(parse), "Scoring");
            options.Validate();
            var outDir = parse.GetValue(output)?.FullName;
            if (outDir is not null)
            {
                Directory.CreateDirectory(outDir);
            }
            var started = System.Diagnostics.Stopwatch.StartNew();
            var corpus = parse.GetValue(data)?.FullName ?? VendoredData.Find("nab-dev");
            if (corpus is null || !Directory.Exists(corpus))
            {
                await Console.Error.WriteLineAsync(corpus is null
                    ? "eval nab: no --data given and tests/data/nab-dev was not found (run from a clone of the repository, or pass --data DIR)."
                    : $"eval nab: --data {corpus} does not exist.").ConfigureAwait(false);
                return 2;
            }
            if (parse.GetValue(lofo))
            {
                var factorText = parse.GetValue(lofoFactors) ?? "";
                double[] factors;
                try
                {
                    factors = factorText is "none" or "" ? [] : Array.ConvertAll(factorText.Split(','), f => double.Parse(f, NumberStyles.Float, CultureInfo.InvariantCulture));
                }
                catch (FormatException)
                {
                    await Console.Error.WriteLineAsync($"eval nab: --lofo-factors '{factorText}' is not a comma-separated list of numbers (or 'none').").ConfigureAwait(false);
                    return 2;
                }
                var candidates = NabLofo.Neighbourhood(options, NabLofo.TunedSettings, factors);
                var lofoReport = NabLofo.Run(corpus, candidates);
                await Console.Out.WriteAsync(NabLofo.Markdown(lofoReport)).ConfigureAwait(false);
                if (outDir is not null)
                {
                    await File.WriteAllTextAsync(Path.Combine(outDir, "lofo.csv"), NabLofo.Csv(lofoReport), ct).ConfigureAwait(false);
                }
                await Console.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                    $"\n{candidates.Count} configurations in {started.Elapsed.TotalSeconds:0.0} s")).ConfigureAwait(false);
                return 0;
            }
            var report = NabEvaluator.Run(corpus, options, outDir);
            await Console.Out.WriteAsync(NabEvaluator.Markdown(report)).ConfigureAwait(false);
            await Console.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"\n{report.Rows} rows in {started.Elapsed.TotalSeconds:0.0} s{(outDir is null ? "" : $"; output in {outDir}")}")).ConfigureAwait(false);
            return 0;
        });
        var cmd = new Command("eval", "Evaluate the detectors on labelled data.");
        cmd.Subcommands.Add(nab);
        cmd.Subcommands.Add(EvalCmapssCommand.Create());
        cmd.Subcommands.Add(EvalForecastCommand.Create());
        return cmd;
    }
}
