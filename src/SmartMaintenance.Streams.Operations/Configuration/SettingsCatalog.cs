using System.Collections;
using System.Reflection;
using SmartMaintenance.Streams.Contracts;

namespace SmartMaintenance.Streams.Operations.Configuration;

/// <summary>One configurable value: a property of an options class, reached from its section.</summary>
/// <param name="Path">Configuration key, e.g. <c>Notifier:Channels:&lt;name&gt;:Url</c>.</param>
/// <param name="Attribute">Its [Setting], or null when the property lacks one (a documentation error).</param>
/// <param name="DefaultValue">Value of a freshly constructed options object.</param>
public sealed record SettingInfo(string Section, string Path, PropertyInfo Property, SettingAttribute? Attribute, object? DefaultValue)
{
    /// <summary>SMSTREAM_SECTION__KEY with the path's placeholders kept.</summary>
    public string EnvironmentVariable => "SMSTREAM_" + Path.Replace(":", "__", StringComparison.Ordinal).ToUpperInvariant();
}

/// <summary>An options class marked [SettingsSection] and every setting below it (nested option types included).</summary>
public sealed record SettingsSectionInfo(string Section, Type Type, IReadOnlyList<SettingInfo> Settings);

/// <summary>Finds every settings section by reflection over the SmartMaintenance.Streams.* assemblies.</summary>
public static class SettingsCatalog
{
    public const string AssemblyPrefix = "SmartMaintenance.Streams.";
    public const string CliAssembly = "smstream";

    /// <summary>Loads every SmartMaintenance.Streams.*.dll (and smstream.dll) in <paramref name="directory"/> (default: the application's).</summary>
    public static IReadOnlyList<Assembly> LoadAssemblies(string? directory = null)
    {
        var dir = directory ?? AppContext.BaseDirectory;
        var result = new List<Assembly>();
        // The CLI's assembly is named smstream (namespace SmartMaintenance.Streams.Cli); its options count too.
        var files = Directory.GetFiles(dir, AssemblyPrefix + "*.dll").Append(Path.Combine(dir, CliAssembly + ".dll")).Where(File.Exists);
        foreach (var file in files.Order(StringComparer.Ordinal))
        {
            var name = AssemblyName.GetAssemblyName(file);
            // Test and benchmark assemblies sit beside smstream.dll in test output folders; they configure nothing.
            if (name.Name is { } n && (n.EndsWith(".Tests", StringComparison.Ordinal) || n.EndsWith(".Testing", StringComparison.Ordinal) || n.EndsWith(".Benchmarks", StringComparison.Ordinal)))
            {
                continue;
            }
            result.Add(Assembly.Load(name));
        }
        return result;
    }

    /// <summary>Every [SettingsSection] class of the assemblies, ordered by section name.</summary>
    public static IReadOnlyList<SettingsSectionInfo> Discover(IEnumerable<Assembly> assemblies)
    {
        ArgumentNullException.ThrowIfNull(assemblies);
        var sections = new List<SettingsSectionInfo>();
        foreach (var assembly in assemblies)
        {
            foreach (var type in assembly.GetTypes())
            {
                if (type.GetCustomAttribute<SettingsSectionAttribute>() is { } attr)
                {
                    sections.Add(Describe(attr.Section, type));
                }
            }
        }
        sections.Sort((a, b) => string.CompareOrdinal(a.Section, b.Section));
        return sections;
    }

    /// <summary>The settings of one options class bound at <paramref name="section"/>.</summary>
    public static SettingsSectionInfo Describe(string section, Type type)
    {
        ArgumentNullException.ThrowIfNull(type);
        var settings = new List<SettingInfo>();
        Walk(section, section, type, settings, depth: 0);
        return new SettingsSectionInfo(section, type, settings);
    }

    /// <summary>"Section:Path" of every configurable property without a [Setting] description.</summary>
    public static IReadOnlyList<string> Undocumented(IEnumerable<SettingsSectionInfo> sections)
    {
        ArgumentNullException.ThrowIfNull(sections);
        var result = new List<string>();
        foreach (var s in sections)
        {
            foreach (var setting in s.Settings)
            {
                if (setting.Attribute is null || string.IsNullOrWhiteSpace(setting.Attribute.Description))
                {
                    result.Add($"{setting.Path} ({s.Type.FullName}.{setting.Property.Name})");
                }
            }
        }
        return result;
    }

    private static void Walk(string section, string prefix, Type type, List<SettingInfo> into, int depth)
    {
        if (depth > 4)
        {
            return; // Option types are trees; this only guards against a cycle.
        }
        object? instance = null;
        if (type.GetConstructor(Type.EmptyTypes) is not null)
        {
            instance = Activator.CreateInstance(type);
        }
        foreach (var p in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (!IsConfigurable(p))
            {
                continue;
            }
            var path = $"{prefix}:{p.Name}";
            into.Add(new SettingInfo(section, path, p, p.GetCustomAttribute<SettingAttribute>(), instance is null ? null : p.GetValue(instance)));
            if (NestedOptionsType(p.PropertyType) is { } nested)
            {
                Walk(section, nested.Placeholder is null ? path : $"{path}:{nested.Placeholder}", nested.Type, into, depth + 1);
            }
        }
    }

    // The binder sets public settable properties, and fills get-only collections.
    private static bool IsConfigurable(PropertyInfo p) =>
        p.GetIndexParameters().Length == 0 && p.GetMethod is { IsPublic: true }
        && (p.SetMethod is { IsPublic: true } || (p.PropertyType != typeof(string) && typeof(IEnumerable).IsAssignableFrom(p.PropertyType)));

    /// <summary>For a property whose values are option objects (a class, a list or a dictionary of them): that class and
    /// the placeholder its path takes (&lt;index&gt;, &lt;name&gt;, or none for a single object).</summary>
    public static (Type Type, string? Placeholder)? NestedOptionsType(Type t)
    {
        ArgumentNullException.ThrowIfNull(t);
        if (IsOptionsClass(t))
        {
            return (t, null);
        }
        if (t.IsArray && IsOptionsClass(t.GetElementType()!))
        {
            return (t.GetElementType()!, "<index>");
        }
        if (t.IsGenericType)
        {
            var args = t.GetGenericArguments();
            if (args.Length == 1 && IsOptionsClass(args[0]))
            {
                return (args[0], "<index>");
            }
            if (args.Length == 2 && args[0] == typeof(string) && IsOptionsClass(args[1]))
            {
                return (args[1], "<name>");
            }
        }
        return null;
    }

    private static bool IsOptionsClass(Type t) =>
        t.IsClass && t != typeof(string) && (t.Namespace?.StartsWith("SmartMaintenance.Streams", StringComparison.Ordinal) ?? false);
}
