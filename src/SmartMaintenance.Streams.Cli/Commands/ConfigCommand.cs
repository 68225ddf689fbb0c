using System.CommandLine;
using System.Text.RegularExpressions;
using SmartMaintenance.Streams.Cli.Hosting;
using SmartMaintenance.Streams.Operations.Configuration;

namespace SmartMaintenance.Streams.Cli.Commands;

/// <summary><c>smstream config reference | check</c>: the settings reference (docs/configuration.md) and a validation of the effective configuration.</summary>
internal static partial class ConfigCommand
{
    /// <summary>Environment shortcuts AppConfiguration.Build maps onto settings.</summary>
    private static readonly Dictionary<string, string> s_shortcuts = new(StringComparer.Ordinal)
    {
        ["Kafka:BootstrapServers"] = "SMSTREAM_BOOTSTRAP",
        ["Storage:ConnectionString"] = "SMSTREAM_DATABASE",
    };

    public static Command Create()
    {
        var cmd = new Command("config", "Configuration: the generated reference of every setting (reference) and a check of the effective configuration (check).");
        var reference = new Command("reference", "Print docs/configuration.md (Markdown) generated from the options classes: every setting, its environment variable, flag, default, unit and range.");
        reference.SetAction(parse =>
        {
            var sections = SettingsCatalog.Discover(SettingsCatalog.LoadAssemblies());
            var undocumented = SettingsCatalog.Undocumented(sections);
            foreach (var u in undocumented)
            {
                Console.Error.WriteLine($"smstream config reference: setting without a [Setting] description: {u}");
            }
            Console.Out.Write(ConfigurationReference.Generate(sections, FindFlags(parse.RootCommandResult.Command), s_shortcuts));
            return undocumented.Count == 0 ? 0 : 1;
        });
        var check = new Command("check", "Load and validate every section from appsettings.json, --config, SMSTREAM_* variables and flags; print the effective configuration with secrets masked.");
        AppConfiguration.AddCommon(check);
        check.SetAction(parse =>
        {
            var configuration = AppConfiguration.Build(parse);
            var sections = SettingsCatalog.Discover(SettingsCatalog.LoadAssemblies());
            var settings = ConfigurationCheck.Run(configuration, sections);
            var width = settings.Count == 0 ? 0 : settings.Max(s => s.Path.Length);
            foreach (var s in settings)
            {
                Console.WriteLine($"{s.Path.PadRight(width)} = {s.Value}{(s.IsDefault ? "" : "   (set)")}");
            }
            Console.WriteLine($"configuration OK: {sections.Count} sections, {settings.Count} settings, {settings.Count(s => !s.IsDefault)} set, {settings.Count(s => s.Masked)} masked");
            return 0;
        });
        cmd.Subcommands.Add(reference);
        cmd.Subcommands.Add(check);
        return cmd;
    }

    /// <summary>Flags whose description names the setting they set, "(Section:Key" (e.g. "Consumer group (Engine:ConsumerGroup).").</summary>
    private static List<SettingFlag> FindFlags(Command root)
    {
        var found = new SortedDictionary<(string Flag, string Path), SortedSet<string>>();
        Visit(root, "");
        var result = new List<SettingFlag>(found.Count);
        foreach (var ((flag, path), commands) in found)
        {
            result.Add(new SettingFlag(flag, path, [.. commands]));
        }
        return result;

        void Visit(Command command, string prefix)
        {
            var name = command == root ? "" : (prefix.Length == 0 ? command.Name : $"{prefix} {command.Name}");
            foreach (var option in command.Options)
            {
                if (option.Description is { } d && SettingInDescription().Match(d) is { Success: true } m)
                {
                    var key = (option.Name, m.Groups[1].Value);
                    if (!found.TryGetValue(key, out var commands))
                    {
                        commands = new SortedSet<string>(StringComparer.Ordinal);
                        found[key] = commands;
                    }
                    commands.Add(name.Length == 0 ? "smstream" : name);
                }
            }
            foreach (var sub in command.Subcommands)
            {
                Visit(sub, name);
            }
        }
    }

    [GeneratedRegex(@"\(([A-Z][A-Za-z]+(?::[A-Z][A-Za-z]+)+)[;).]")]
    private static partial Regex SettingInDescription();
}
