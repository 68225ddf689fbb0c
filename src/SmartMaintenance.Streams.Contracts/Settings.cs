using System.Globalization;
using System.Reflection;

namespace SmartMaintenance.Streams.Contracts;

/// <summary>Documents one configuration setting; docs/configuration.md is generated from these.</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class SettingAttribute(string description) : Attribute
{
    public string Description { get; } = description;
    /// <summary>Unit of the value (e.g. "ms", "rows", "bytes"), empty when dimensionless.</summary>
    public string Unit { get; init; } = "";
    /// <summary>Inclusive lower bound for numeric settings (NaN: none).</summary>
    public double Min { get; init; } = double.NaN;
    /// <summary>Inclusive upper bound for numeric settings (NaN: none).</summary>
    public double Max { get; init; } = double.NaN;
    /// <summary>Secrets are never logged or echoed; docs say where they may come from.</summary>
    public bool Secret { get; init; }
}

/// <summary>Marks an options class bound from one configuration section.</summary>
[AttributeUsage(AttributeTargets.Class)]
public sealed class SettingsSectionAttribute(string section) : Attribute
{
    public string Section { get; } = section;
}

/// <summary>A configuration value that failed validation. The message names the setting.</summary>
public sealed class ConfigurationException(string setting, string message)
    : Exception($"Invalid setting '{setting}': {message}")
{
    public string Setting { get; } = setting;
}

/// <summary>Checks the [Setting] ranges of an options object; throws naming the first bad setting.</summary>
public static class SettingsValidator
{
    public static void Validate(object options, string sectionPath)
    {
        ArgumentNullException.ThrowIfNull(options);
        foreach (var p in options.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            var attr = p.GetCustomAttribute<SettingAttribute>();
            if (attr is null || !p.CanRead)
            {
                continue;
            }
            var value = p.GetValue(options);
            var path = sectionPath.Length == 0 ? p.Name : $"{sectionPath}:{p.Name}";
            double? number = value switch
            {
                int i => i,
                long l => l,
                double d => d,
                TimeSpan t => t.TotalMilliseconds,
                _ => null,
            };
            if (number is { } n)
            {
                if (double.IsNaN(n) || double.IsInfinity(n))
                {
                    throw new ConfigurationException(path, "must be a finite number");
                }
                if (!double.IsNaN(attr.Min) && n < attr.Min)
                {
                    throw new ConfigurationException(path, $"{Format(value)} is below the minimum {attr.Min.ToString(CultureInfo.InvariantCulture)}{Suffix(attr)}");
                }
                if (!double.IsNaN(attr.Max) && n > attr.Max)
                {
                    throw new ConfigurationException(path, $"{Format(value)} is above the maximum {attr.Max.ToString(CultureInfo.InvariantCulture)}{Suffix(attr)}");
                }
            }
        }
    }

    private static string Format(object? v) => Convert.ToString(v, CultureInfo.InvariantCulture) ?? "null";
    private static string Suffix(SettingAttribute a) => a.Unit.Length == 0 ? "" : " " + a.Unit;
}
