using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace SmartMaintenance.Streams.Integration.Tests.Docs;

/// <summary>Checks a JSON value against the keywords the contract schemas in docs/contracts use (type, enum, pattern,
/// minLength, minimum, maximum, format date-time, required, properties). Anything else in a schema is reported, so a
/// schema that grows a keyword this checker ignores fails the test instead of passing unchecked.</summary>
internal static class SchemaCheck
{
    private static readonly HashSet<string> Understood =
        ["$schema", "$id", "title", "description", "type", "enum", "pattern", "minLength", "minimum", "maximum", "format", "required", "properties"];

    public static List<string> Violations(JsonElement schema, JsonElement value, string path = "$")
    {
        var found = new List<string>();
        Check(schema, value, path, found);
        return found;
    }

    private static void Check(JsonElement schema, JsonElement value, string path, List<string> found)
    {
        foreach (var keyword in schema.EnumerateObject())
        {
            if (!Understood.Contains(keyword.Name))
            {
                found.Add($"{path}: schema keyword '{keyword.Name}' is not checked by this test");
            }
        }
        if (schema.TryGetProperty("type", out var type) && !TypeMatches(type, value))
        {
            found.Add($"{path}: {value.ValueKind} is not {type}");
            return;
        }
        if (schema.TryGetProperty("enum", out var allowed) && !allowed.EnumerateArray().Any(a => a.ToString() == value.ToString() && a.ValueKind == value.ValueKind))
        {
            found.Add($"{path}: {value} is not one of {allowed}");
        }
        if (value.ValueKind == JsonValueKind.String)
        {
            var s = value.GetString()!;
            if (schema.TryGetProperty("pattern", out var pattern) && !Regex.IsMatch(s, pattern.GetString()!))
            {
                found.Add($"{path}: '{s}' does not match {pattern}");
            }
            if (schema.TryGetProperty("minLength", out var minLength) && s.Length < minLength.GetInt32())
            {
                found.Add($"{path}: shorter than {minLength}");
            }
            if (schema.TryGetProperty("format", out var format) && format.GetString() == "date-time" &&
                !DateTimeOffset.TryParseExact(s, "yyyy-MM-dd'T'HH:mm:ss.FFFFFFFK", CultureInfo.InvariantCulture, DateTimeStyles.None, out _))
            {
                found.Add($"{path}: '{s}' is not an RFC 3339 date-time");
            }
        }
        if (value.ValueKind == JsonValueKind.Number)
        {
            var d = value.GetDouble();
            if (schema.TryGetProperty("minimum", out var min) && d < min.GetDouble())
            {
                found.Add($"{path}: {d} < minimum {min}");
            }
            if (schema.TryGetProperty("maximum", out var max) && d > max.GetDouble())
            {
                found.Add($"{path}: {d} > maximum {max}");
            }
        }
        if (value.ValueKind == JsonValueKind.Object)
        {
            if (schema.TryGetProperty("required", out var required))
            {
                foreach (var r in required.EnumerateArray())
                {
                    if (!value.TryGetProperty(r.GetString()!, out _))
                    {
                        found.Add($"{path}: required '{r}' is missing");
                    }
                }
            }
            if (schema.TryGetProperty("properties", out var properties))
            {
                foreach (var p in value.EnumerateObject())
                {
                    if (properties.TryGetProperty(p.Name, out var sub))
                    {
                        Check(sub, p.Value, $"{path}.{p.Name}", found);
                    }
                    else
                    {
                        found.Add($"{path}: '{p.Name}' is not in the schema");
                    }
                }
            }
        }
    }

    private static bool TypeMatches(JsonElement type, JsonElement value) => type.ValueKind == JsonValueKind.Array
        ? type.EnumerateArray().Any(t => Is(t.GetString()!, value))
        : Is(type.GetString()!, value);

    private static bool Is(string type, JsonElement value) => type switch
    {
        "object" => value.ValueKind == JsonValueKind.Object,
        "array" => value.ValueKind == JsonValueKind.Array,
        "string" => value.ValueKind == JsonValueKind.String,
        "number" => value.ValueKind == JsonValueKind.Number,
        "integer" => value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out _),
        "boolean" => value.ValueKind is JsonValueKind.True or JsonValueKind.False,
        "null" => value.ValueKind == JsonValueKind.Null,
        _ => false,
    };
}
