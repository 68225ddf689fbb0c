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
        var nab = new Command("nab", "Replay every series through the engine's detectors and compute the NAB score (three profiles, per series and total).");
        nab.Options.Add(data);
        nab.Options.Add(output);
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
