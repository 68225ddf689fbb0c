using System.CommandLine;
using Microsoft.Extensions.Configuration;
using SmartMaintenance.Streams.Contracts;

namespace SmartMaintenance.Streams.Cli.Hosting;

/// <summary>
/// Configuration for every command, lowest precedence first: appsettings.json (beside the binary, then the current
/// directory), the file given by --config, environment variables (SMSTREAM_SECTION__KEY, plus the shortcuts
/// SMSTREAM_DATABASE and SMSTREAM_BOOTSTRAP), then command-line flags.
/// </summary>
internal static class AppConfiguration
{
    public static readonly Option<FileInfo?> ConfigOption = new("--config") { Description = "JSON configuration file (same shape as appsettings.json)." };
    public static readonly Option<string?> BootstrapOption = new("--bootstrap") { Description = "Kafka bootstrap servers (Kafka:BootstrapServers; env SMSTREAM_BOOTSTRAP)." };
    public static readonly Option<string?> DatabaseOption = new("--database") { Description = "PostgreSQL/TimescaleDB connection string (Storage:ConnectionString; env SMSTREAM_DATABASE)." };

    public static IConfigurationRoot Build(ParseResult parse, IEnumerable<KeyValuePair<string, string?>>? overrides = null)
    {
        ArgumentNullException.ThrowIfNull(parse);
        var builder = new ConfigurationBuilder()
            .AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json"), optional: true)
            .AddJsonFile(Path.Combine(Directory.GetCurrentDirectory(), "appsettings.json"), optional: true);
        if (parse.GetValue(ConfigOption) is { } file)
        {
            if (!file.Exists)
            {
                throw new ConfigurationException("--config", $"file '{file.FullName}' does not exist");
            }
            builder.AddJsonFile(file.FullName, optional: false);
        }
        builder.AddInMemoryCollection(EnvironmentKeys.Read(builder.Build(), "SMSTREAM_"));
        var shortcuts = new Dictionary<string, string?>(StringComparer.Ordinal);
        if (Environment.GetEnvironmentVariable("SMSTREAM_DATABASE") is { Length: > 0 } db)
        {
            shortcuts["Storage:ConnectionString"] = db;
        }
        if (Environment.GetEnvironmentVariable("SMSTREAM_BOOTSTRAP") is { Length: > 0 } bs)
        {
            shortcuts["Kafka:BootstrapServers"] = bs;
        }
        if (parse.GetValue(DatabaseOption) is { Length: > 0 } dbFlag)
        {
            shortcuts["Storage:ConnectionString"] = dbFlag;
        }
        if (parse.GetValue(BootstrapOption) is { Length: > 0 } bsFlag)
        {
            shortcuts["Kafka:BootstrapServers"] = bsFlag;
        }
        if (overrides is not null)
        {
            foreach (var (k, v) in overrides)
            {
                shortcuts[k] = v;
            }
        }
        builder.AddInMemoryCollection(shortcuts);
        return builder.Build();
    }

    /// <summary>Binds one section; unknown keys and unconvertible values fail naming the setting.</summary>
    public static T Bind<T>(IConfiguration configuration, string section) where T : new()
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var options = new T();
        try
        {
            configuration.GetSection(section).Bind(options, o => o.ErrorOnUnknownConfiguration = true);
        }
        catch (InvalidOperationException ex)
        {
            throw new ConfigurationException(section, ex.Message);
        }
        return options;
    }

    public static void AddCommon(Command command)
    {
        ArgumentNullException.ThrowIfNull(command);
        command.Options.Add(ConfigOption);
        command.Options.Add(BootstrapOption);
        command.Options.Add(DatabaseOption);
    }
}
