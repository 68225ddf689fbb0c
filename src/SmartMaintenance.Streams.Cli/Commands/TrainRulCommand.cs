using System.CommandLine;
using System.Globalization;
using Npgsql;
using SmartMaintenance.Streams.Cli.Hosting;
using SmartMaintenance.Streams.Prediction.Cmapss;
using SmartMaintenance.Streams.Prediction.Rul;
using SmartMaintenance.Streams.Prediction.Training;
using SmartMaintenance.Streams.Scoring;
using SmartMaintenance.Streams.Scoring.Models;
using SmartMaintenance.Streams.Storage;

namespace SmartMaintenance.Streams.Cli.Commands;

/// <summary><c>smstream train rul</c>: an RUL model from run-to-failure history (the database's readings, or C-MAPSS files),
/// cross-validated by asset, written to MODELS/rul and recorded in model_registry.</summary>
internal static class TrainRulCommand
{
    public static Command Create()
    {
        var models = new Option<DirectoryInfo?>("--models") { Description = "Model directory (the model goes to its rul folder; default: Scoring:ModelDirectory)." };
        var assets = new Option<string>("--assets") { Description = "Train on assets whose id starts with this (each one's last cycle in range is its failure).", DefaultValueFactory = _ => "" };
        var from = new Option<DateTimeOffset?>("--from") { Description = "Start of the history (inclusive; default: 365 days before --to)." };
        var to = new Option<DateTimeOffset?>("--to") { Description = "End of the history (exclusive; default: now)." };
        var data = new Option<FileInfo?>("--data") { Description = "Train from a C-MAPSS training file (train_FD00x.txt) instead of the database; the model is registered only with --register." };
        var register = new Option<bool>("--register") { Description = "With --data: record the model in model_registry too." };
        var name = new Option<string>("--name") { Description = "Model name.", DefaultValueFactory = _ => "rul" };
        var cmd = new Command("rul", "Train the RUL model (FastTree, target capped at 125 cycles) with cross-validation by asset; write it to MODELS/rul and record it in model_registry.");
        AppConfiguration.AddCommon(cmd);
        foreach (var o in new Option[] { models, assets, from, to, data, register, name })
        {
            cmd.Options.Add(o);
        }
        cmd.SetAction(async (parse, ct) =>
        {
            var configuration = AppConfiguration.Build(parse);
            var storage = AppConfiguration.Bind<StorageOptions>(configuration, "Storage");
            var scoring = AppConfiguration.Bind<ScoringOptions>(configuration, "Scoring");
            var dir = parse.GetValue(models)?.FullName ?? Path.GetFullPath(scoring.ModelDirectory);
            var end = parse.GetValue(to) ?? DateTimeOffset.UtcNow;
            var start = parse.GetValue(from) ?? end.AddDays(-365);
            var modelName = parse.GetValue(name)!;
            var useDb = parse.GetValue(data) is null || parse.GetValue(register);
            await using var dataSource = useDb ? NpgsqlDataSource.Create(storage.ConnectionString) : null;
            IReadOnlyList<CmapssUnit> units;
            if (parse.GetValue(data) is { } file)
            {
                units = CmapssData.Read(file.FullName);
            }
            else
            {
                units = await RulHistory.LoadAsync(dataSource!, parse.GetValue(assets)!, start, end, ct).ConfigureAwait(false);
            }
            var options = new RulTrainerOptions();
            if (units.Count < options.Folds)
            {
                await Console.Error.WriteLineAsync($"smstream train rul: {units.Count} run-to-failure assets found; at least {options.Folds} are needed.").ConfigureAwait(false);
                return 1;
            }
            var registry = dataSource is null ? null : new ModelRegistry(dataSource);
            var version = registry is null ? NextLocalVersion(dir, modelName) : await registry.NextVersionAsync(modelName, ct).ConfigureAwait(false);
            var trained = RulTraining.TrainAndWrite(units, new RulFeatureSpec(), options, dir, modelName, version,
                parse.GetValue(data) is null ? start : null, parse.GetValue(data) is null ? end : null);
            if (registry is not null)
            {
                await registry.RegisterAsync(trained.Metadata, trained.ModelPath, ct).ConfigureAwait(false);
            }
            await Console.Out.WriteLineAsync(CmapssEvaluator.Markdown(trained.CrossValidation)).ConfigureAwait(false);
            await Console.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"{trained.Metadata.Name} v{version} ({RulModel.Kind}, {units.Count} assets): {trained.ModelPath}{(registry is null ? "" : "; recorded in model_registry")}")).ConfigureAwait(false);
            return 0;
        });
        return cmd;
    }

    private static int NextLocalVersion(string modelDirectory, string name)
    {
        var dir = Path.Combine(modelDirectory, RulModel.Folder);
        if (!Directory.Exists(dir))
        {
            return 1;
        }
        var max = 0;
        foreach (var path in Directory.EnumerateFiles(dir, name + ".v*" + ModelMetadata.Suffix))
        {
            var meta = ModelMetadata.Read(path);
            if (meta.Name == name)
            {
                max = Math.Max(max, meta.Version);
            }
        }
        return max + 1;
    }
}
