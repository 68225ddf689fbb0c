using System.Collections;
using System.Reflection;
using Microsoft.Extensions.Configuration;
using SmartMaintenance.Streams.Contracts;

namespace SmartMaintenance.Streams.Operations.Configuration;

/// <summary>One effective setting as <c>config check</c> prints it (secrets already masked).</summary>
public sealed record EffectiveSetting(string Path, string Value, bool IsDefault, bool Masked);

/// <summary>
/// Binds and validates every settings section exactly as the commands do (unknown keys fail, ranges checked, each
/// class's own Validate), and lists the effective values with secrets masked (<c>smstream config check</c>).
/// </summary>
public static class ConfigurationCheck
{
    public const string Mask = "******";

    /// <summary>Sections only <c>smstream notify</c> reads; validated when configured, since they have no usable defaults.</summary>
    public static IReadOnlySet<string> OptionalSections { get; } = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { "Notifier" };

    /// <summary>Binds and validates each section; throws <see cref="ConfigurationException"/> naming the first bad setting.</summary>
    public static IReadOnlyList<EffectiveSetting> Run(IConfiguration configuration, IReadOnlyList<SettingsSectionInfo> sections)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(sections);
        var result = new List<EffectiveSetting>();
        foreach (var s in sections)
        {
            var section = configuration.GetSection(s.Section);
            if (OptionalSections.Contains(s.Section) && !section.Exists())
            {
                continue;
            }
            var options = Activator.CreateInstance(s.Type) ?? throw new InvalidOperationException(s.Type.FullName);
            try
            {
                section.Bind(options, o => o.ErrorOnUnknownConfiguration = true);
            }
            catch (InvalidOperationException ex)
            {
                throw new ConfigurationException(s.Section, ex.Message);
            }
            ApplyNotifierFallbacks(s.Section, options, configuration);
            Validate(options, s.Section);
            var defaults = Activator.CreateInstance(s.Type)!;
            List(s.Section, options, defaults, result, 0);
        }
        return result;
    }

    // `smstream notify` takes the shared Kafka/Storage endpoints unless the Notifier section sets its own.
    private static void ApplyNotifierFallbacks(string section, object options, IConfiguration configuration)
    {
        if (!string.Equals(section, "Notifier", StringComparison.Ordinal))
        {
            return;
        }
        var n = configuration.GetSection("Notifier");
        Fallback("BootstrapServers", "Kafka:BootstrapServers");
        Fallback("ConnectionString", "Storage:ConnectionString");

        void Fallback(string property, string shared)
        {
            if (n[property] is null && configuration[shared] is { Length: > 0 } value && options.GetType().GetProperty(property) is { } p)
            {
                p.SetValue(options, value);
            }
        }
    }

    private static void Validate(object options, string section)
    {
        var methods = options.GetType().GetMethods(BindingFlags.Public | BindingFlags.Instance);
        MethodInfo? best = null;
        foreach (var m in methods)
        {
            if (m.Name == "Validate" && Array.TrueForAll(m.GetParameters(), p => p.HasDefaultValue) && (best is null || m.GetParameters().Length > best.GetParameters().Length))
            {
                best = m;
            }
        }
        try
        {
            if (best is null)
            {
                SettingsValidator.Validate(options, section);
                return;
            }
            var args = Array.ConvertAll(best.GetParameters(), p => p.ParameterType == typeof(string) ? section : p.DefaultValue);
            best.Invoke(options, args);
        }
        catch (TargetInvocationException ex) when (ex.InnerException is ConfigurationException inner)
        {
            throw inner;
        }
        catch (TargetInvocationException ex) when (ex.InnerException is ArgumentException or InvalidOperationException or FormatException)
        {
            throw new ConfigurationException(section, ex.InnerException.Message);
        }
    }

    private static void List(string prefix, object options, object? defaults, List<EffectiveSetting> into, int depth)
    {
        foreach (var p in options.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (p.GetIndexParameters().Length != 0 || p.GetCustomAttribute<SettingAttribute>() is not { } attr)
            {
                continue;
            }
            var path = $"{prefix}:{p.Name}";
            var value = p.GetValue(options);
            var defaultValue = defaults is null ? null : p.GetValue(defaults);
            var nested = SettingsCatalog.NestedOptionsType(p.PropertyType);
            if (nested is { } n && value is not null && depth < 4)
            {
                if (n.Placeholder is null)
                {
                    List(path, value, defaultValue, into, depth + 1);
                }
                else if (value is IDictionary dict)
                {
                    foreach (DictionaryEntry e in dict)
                    {
                        List($"{path}:{e.Key}", e.Value!, Activator.CreateInstance(n.Type), into, depth + 1);
                    }
                }
                else if (value is IEnumerable list)
                {
                    var i = 0;
                    foreach (var item in list)
                    {
                        List($"{path}:{i++}", item, Activator.CreateInstance(n.Type), into, depth + 1);
                    }
                }
                continue;
            }
            var text = SettingFormat.Value(value);
            var isDefault = string.Equals(text, SettingFormat.Value(defaultValue), StringComparison.Ordinal);
            var masked = false;
            if (attr.Secret && value is string { Length: > 0 })
            {
                text = Mask;
                masked = true;
            }
            else if (value is IDictionary d && HasSecretKey(d))
            {
                text = MaskEntries(d);
                masked = true;
            }
            into.Add(new EffectiveSetting(path, text, isDefault, masked));
        }
    }

    // Free-form maps (Kafka:Client, Notifier:Kafka) may carry librdkafka credentials such as sasl.password.
    private static bool IsSecretKey(string key) =>
        key.Contains("password", StringComparison.OrdinalIgnoreCase) || key.Contains("secret", StringComparison.OrdinalIgnoreCase)
        || key.Contains("token", StringComparison.OrdinalIgnoreCase) || key.Contains("sasl.oauthbearer.config", StringComparison.OrdinalIgnoreCase);

    private static bool HasSecretKey(IDictionary d)
    {
        foreach (DictionaryEntry e in d)
        {
            if (IsSecretKey(e.Key.ToString() ?? ""))
            {
                return true;
            }
        }
        return false;
    }

    private static string MaskEntries(IDictionary d)
    {
        var entries = new List<string>();
        foreach (DictionaryEntry e in d)
        {
            var key = e.Key.ToString() ?? "";
            entries.Add($"{key}={(IsSecretKey(key) ? Mask : SettingFormat.Value(e.Value))}");
        }
        entries.Sort(StringComparer.Ordinal);
        return string.Join("; ", entries);
    }
}
