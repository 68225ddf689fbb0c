using System.Collections;
using Microsoft.Extensions.Configuration;

namespace SmartMaintenance.Streams.Cli.Hosting;

/// <summary>
/// Reads <c>SMSTREAM_*</c> environment variables as configuration keys spelled like the keys the configuration files
/// already have. Configuration keys are case-insensitive, but a dictionary setting (channels, sensor types, ranges)
/// binds its entries under the spelling the configuration reports, and with one key spelled two ways that spelling
/// is whichever sorts first: <c>SMSTREAM_NOTIFIER__CHANNELS__MAIN__SECRET</c> beside a channel <c>main</c> in a file
/// could bind as a channel <c>MAIN</c> the routes do not know. Mapping each segment onto the file's spelling makes
/// the variable override the file's entry, always.
/// </summary>
internal static class EnvironmentKeys
{
    /// <summary>The variables starting with <paramref name="prefix"/> (case-insensitive), prefix removed, <c>__</c> read
    /// as <c>:</c>, each segment respelled as in <paramref name="files"/> where it has that key.</summary>
    public static Dictionary<string, string?> Read(IConfiguration files, string prefix, IDictionary? environment = null)
    {
        ArgumentNullException.ThrowIfNull(files);
        var result = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (DictionaryEntry entry in environment ?? Environment.GetEnvironmentVariables())
        {
            var name = (string)entry.Key;
            if (!name.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }
            var key = name[prefix.Length..].Replace("__", ConfigurationPath.KeyDelimiter, StringComparison.Ordinal);
            result[Canonical(files, key)] = (string?)entry.Value;
        }
        return result;
    }

    /// <summary><paramref name="key"/> with every segment that names an existing child spelled as that child.</summary>
    public static string Canonical(IConfiguration files, string key)
    {
        ArgumentNullException.ThrowIfNull(files);
        ArgumentNullException.ThrowIfNull(key);
        var segments = key.Split(ConfigurationPath.KeyDelimiter);
        IConfiguration node = files;
        for (var i = 0; i < segments.Length; i++)
        {
            IConfigurationSection? match = null;
            foreach (var child in node.GetChildren())
            {
                if (string.Equals(child.Key, segments[i], StringComparison.OrdinalIgnoreCase))
                {
                    match = child;
                    break;
                }
            }
            if (match is null)
            {
                break;
            }
            segments[i] = match.Key;
            node = match;
        }
        return string.Join(ConfigurationPath.KeyDelimiter, segments);
    }
}
