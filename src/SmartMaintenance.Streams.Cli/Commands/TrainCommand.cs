using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Npgsql;
using SmartMaintenance.Streams.Cli.Hosting;
using SmartMaintenance.Streams.Scoring;
using SmartMaintenance.Streams.Scoring.Models;
using SmartMaintenance.Streams.Storage;

namespace SmartMaintenance.Streams.Cli.Commands;

internal static class TrainCommand
{
    public static Command Create()
    {
        var models = new Option<DirectoryInfo?>("--models") { Description = "Model directory the engine watches (default: Scoring:ModelDirectory)." };
        var table = new Option<string>("--table") { Description = "Table of window aggregates to learn from.", DefaultValueFactory = _ => "window_aggregates" };
        var sensorType = new Option<string?>("--sensor-type") { Description = "Train only for this sensor type (default: one model per type found)." };
        var from = new Option<DateTimeOffset?>("--from") { Description = "Start of the training range (window_start, inclusive; default: 30 days before --to)." };
        var to = new Option<DateTimeOffset?>("--to") { Description = "End of the training range (exclusive; default: now)." };
        var labels = new Option<FileInfo?>("--labels") { Description = "Labelled anomaly windows {\"<sensor_id>\": [[start, end], ...]}; with labels a FastTree model is trained and exported to ONNX." };
        var windowKind = new Option<string?>("--window-kind") { Description = "Learn from windows of this kind only (e.g. 1m); default: all kinds." };
        var rank = new Option<int>("--rank") { Description = "Rank of the PCA model.", DefaultValueFactory = _ => 3 };
        var cmd = new Command("train", "Train anomaly models from final window aggregates in the database (ML.NET randomized PCA per sensor type; FastTree → ONNX when labels exist), write them to the model directory and record them in model_registry.");
        AppConfiguration.AddCommon(cmd); // --config, --database (Storage:ConnectionString, SMSTREAM_DATABASE)
        foreach (var o in new Option[] { models, table, sensorType, windowKind, from, to, labels, rank })
        {
            cmd.Options.Add(o);
        }
        cmd.Subcommands.Add(TrainRulCommand.Create());
        cmd.SetAction(async (parse, ct) =>
        {
            var end = parse.GetValue(to) ?? DateTimeOffset.UtcNow;
            var start = parse.GetValue(from) ?? end.AddDays(-30);
            var configuration = AppConfiguration.Build(parse);
            var storage = AppConfiguration.Bind<StorageOptions>(configuration, "Storage");
            var scoring = AppConfiguration.Bind<ScoringOptions>(configuration, "Scoring");
            var dir = parse.GetValue(models)?.FullName ?? Path.GetFullPath(scoring.ModelDirectory);
            var labelWindows = parse.GetValue(labels) is { } lf ? ReadLabels(lf.FullName) : null;
            await using var dataSource = NpgsqlDataSource.Create(storage.ConnectionString);
            var registry = new ModelRegistry(dataSource);
            var tableName = parse.GetValue(table)!;
            IReadOnlyList<string?> types = parse.GetValue(sensorType) is { } only
                ? [only]
                : await TrainingHistory.SensorTypesAsync(dataSource, tableName, start, end, parse.GetValue(windowKind), ct).ConfigureAwait(false);
            var trainer = new ModelTrainer();
            var trained = 0;
            foreach (var type in types)
            {
                var history = await TrainingHistory.LoadAsync(dataSource, tableName, type, start, end, parse.GetValue(windowKind), ct).ConfigureAwait(false);
                if (history.Features.Count < 10)
                {
                    await Console.Error.WriteLineAsync($"smstream train: sensor type '{type ?? "(none)"}' has {history.Features.Count} windows in range; skipped.").ConfigureAwait(false);
                    continue;
                }
                var stem = "window-" + (type ?? "any");
                List<bool>? rowLabels = labelWindows is null ? null
                    : [.. history.SensorIds.Select((id, i) => labelWindows.TryGetValue(id, out var ws) && ws.Any(w => history.WindowStarts[i] >= w.Start && history.WindowStarts[i] <= w.End))];
                var data = new TrainingSet(history.Features, rowLabels, start, end);
                var kinds = new List<string> { ModelKinds.Pca };
                if (rowLabels is not null && rowLabels.Contains(true) && rowLabels.Contains(false))
                {
                    kinds.Add(ModelKinds.FastTree);
                }
                foreach (var kind in kinds)
                {
                    var name = $"{stem}-{kind}";
                    var version = await registry.NextVersionAsync(name, ct).ConfigureAwait(false);
                    var model = trainer.TrainAndWrite(kind, data, name, version, type, dir, parse.GetValue(rank));
                    await registry.RegisterAsync(model.Metadata, model.ModelPath, ct).ConfigureAwait(false);
                    var metrics = string.Join(", ", (model.Metadata.Metrics ?? new Dictionary<string, double>()).Select(kv => string.Create(CultureInfo.InvariantCulture, $"{kv.Key}={kv.Value:0.####}")));
                    await Console.Out.WriteLineAsync($"{model.Metadata.Name} v{version} ({kind}, {history.Features.Count} windows): {model.ModelPath} [{metrics}]").ConfigureAwait(false);
                    trained++;
                }
            }
            return trained > 0 ? 0 : 1;
        });
        return cmd;
    }

    private static Dictionary<string, List<(DateTimeOffset Start, DateTimeOffset End)>> ReadLabels(string path)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
        var result = new Dictionary<string, List<(DateTimeOffset, DateTimeOffset)>>(StringComparer.Ordinal);
        foreach (var sensor in doc.RootElement.EnumerateObject())
        {
            var list = new List<(DateTimeOffset, DateTimeOffset)>();
            foreach (var w in sensor.Value.EnumerateArray())
            {
                list.Add((Parse(w[0].GetString()!), Parse(w[1].GetString()!)));
            }
            result[sensor.Name] = list;
        }
        return result;

        static DateTimeOffset Parse(string s) => DateTimeOffset.Parse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);
    }
}
