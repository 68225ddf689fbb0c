using System.Collections;
using System.Globalization;
using System.Text;

namespace SmartMaintenance.Streams.Operations.Configuration;

/// <summary>How setting types and values are written in the reference and by <c>config check</c>: the forms the binder accepts.</summary>
public static class SettingFormat
{
    public static string TypeName(Type t)
    {
        ArgumentNullException.ThrowIfNull(t);
        if (Nullable.GetUnderlyingType(t) is { } inner)
        {
            return TypeName(inner) + " (optional)";
        }
        if (t.IsEnum)
        {
            return "enum: " + string.Join(", ", Enum.GetNames(t));
        }
        if (t == typeof(string))
        {
            return "string";
        }
        if (t == typeof(int) || t == typeof(long))
        {
            return "integer";
        }
        if (t == typeof(double) || t == typeof(float) || t == typeof(decimal))
        {
            return "number";
        }
        if (t == typeof(bool))
        {
            return "bool";
        }
        if (t == typeof(TimeSpan))
        {
            return "duration";
        }
        if (t == typeof(DateTimeOffset) || t == typeof(DateTime))
        {
            return "timestamp (RFC 3339)";
        }
        if (t.IsArray)
        {
            return "list of " + TypeName(t.GetElementType()!);
        }
        if (t.IsGenericType)
        {
            var args = t.GetGenericArguments();
            if (args.Length == 2)
            {
                return $"map of {TypeName(args[0])} to {TypeName(args[1])}";
            }
            if (args.Length == 1)
            {
                return "list of " + TypeName(args[0]);
            }
        }
        return "object (" + t.Name + ")";
    }

    /// <summary>A value as configuration text: TimeSpan "c" format, invariant numbers, collections inline.</summary>
    public static string Value(object? value) => value switch
    {
        null => "(none)",
        string { Length: 0 } => "(empty)",
        string s => s,
        bool b => b ? "true" : "false",
        TimeSpan t => t.ToString("c", CultureInfo.InvariantCulture),
        DateTimeOffset d => d.ToString("O", CultureInfo.InvariantCulture),
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        float f => f.ToString("R", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        IDictionary d => Dictionary(d),
        IEnumerable e => List(e),
        _ => value.ToString() ?? "",
    };

    private static string Dictionary(IDictionary d)
    {
        if (d.Count == 0)
        {
            return "(empty)";
        }
        var entries = new List<string>(d.Count);
        foreach (DictionaryEntry e in d)
        {
            entries.Add($"{e.Key}={(IsScalar(e.Value) ? Value(e.Value) : "{…}")}");
        }
        entries.Sort(StringComparer.Ordinal);
        return string.Join("; ", entries);
    }

    private static string List(IEnumerable e)
    {
        var sb = new StringBuilder();
        var n = 0;
        foreach (var item in e)
        {
            if (n++ > 0)
            {
                sb.Append(", ");
            }
            sb.Append(IsScalar(item) ? Value(item) : "{…}");
        }
        return n == 0 ? "(empty)" : sb.ToString();
    }

    public static bool IsScalar(object? v) => v is null or string or bool or TimeSpan or DateTimeOffset or IFormattable or Enum;

    public static string Range(Contracts.SettingAttribute? a)
    {
        if (a is null)
        {
            return "";
        }
        var min = double.IsNaN(a.Min) ? null : Number(a.Min);
        var max = double.IsNaN(a.Max) ? null : Number(a.Max);
        return (min, max) switch
        {
            (null, null) => "",
            ({ } lo, null) => $"≥ {lo}",
            (null, { } hi) => $"≤ {hi}",
            ({ } lo, { } hi) => $"{lo} … {hi}",
        };
    }

    private static string Number(double d) => d.ToString("#,0.########", CultureInfo.InvariantCulture);
}
