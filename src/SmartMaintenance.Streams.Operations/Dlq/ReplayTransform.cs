using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using SmartMaintenance.Streams.Contracts;

namespace SmartMaintenance.Streams.Operations.Dlq;

/// <summary>
/// A declarative fix applied to each replayed JSON payload (docs/operations.md, "Replaying the DLQ"): an ordered list
/// of steps, each one of rename, set, scale, convert, drop, optionally guarded by <c>when</c>. Data only: nothing in
/// a transform file can execute code.
/// </summary>
/// <example><code>
/// {"steps":[
///   {"op":"rename","field":"val","to":"value"},
///   {"op":"convert","field":"value","from":"degF","to":"degC","unit_field":"unit"},
///   {"op":"scale","field":"value","factor":0.1,"offset":0,"when":{"field":"sensor_type","equals":"pressure"}},
///   {"op":"set","field":"quality","value":1},
///   {"op":"drop","field":"attributes.debug"}]}
/// </code></example>
public sealed class ReplayTransform
{
    private readonly List<Step> _steps;

    private ReplayTransform(List<Step> steps) => _steps = steps;

    public int StepCount => _steps.Count;

    private enum Op { Rename, Set, Scale, Convert, Drop }

    private sealed record Step(Op Op, string[] Field, string[]? To, JsonNode? Value, double Factor, double Offset,
        string? FromUnit, string? ToUnit, string[]? UnitField, string[]? WhenField, JsonNode? WhenEquals);

    /// <summary>Parses and checks a transform; errors name the step and the problem (<see cref="ConfigurationException"/>, setting "--transform").</summary>
    public static ReplayTransform Parse(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (JsonException ex)
        {
            throw new ConfigurationException("--transform", "not valid JSON: " + ex.Message);
        }
        if (root is not JsonObject obj || obj["steps"] is not JsonArray steps)
        {
            throw new ConfigurationException("--transform", "expected an object {\"steps\":[...]}");
        }
        foreach (var (key, _) in obj)
        {
            if (key is not ("steps" or "description"))
            {
                throw new ConfigurationException("--transform", $"unknown property '{key}' (allowed: steps, description)");
            }
        }
        var list = new List<Step>(steps.Count);
        for (var i = 0; i < steps.Count; i++)
        {
            list.Add(ParseStep(steps[i] as JsonObject ?? throw Error(i, "a step must be an object"), i));
        }
        return new ReplayTransform(list);
    }

    public static ReplayTransform Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path))
        {
            throw new ConfigurationException("--transform", $"file '{path}' does not exist");
        }
        return Parse(File.ReadAllText(path));
    }

    private static ConfigurationException Error(int step, string message) =>
        new("--transform", string.Create(CultureInfo.InvariantCulture, $"step {step}: {message}"));

    private static Step ParseStep(JsonObject s, int i)
    {
        var opText = String(s, "op", i) ?? throw Error(i, "'op' is required (rename, set, scale, convert, drop)");
        var op = opText switch
        {
            "rename" => Op.Rename,
            "set" => Op.Set,
            "scale" => Op.Scale,
            "convert" => Op.Convert,
            "drop" => Op.Drop,
            _ => throw Error(i, $"unknown op '{opText}' (rename, set, scale, convert, drop)"),
        };
        string[] allowed = op switch
        {
            Op.Rename => ["op", "field", "to", "when"],
            Op.Set => ["op", "field", "value", "when"],
            Op.Scale => ["op", "field", "factor", "offset", "when"],
            Op.Convert => ["op", "field", "from", "to", "unit_field", "when"],
            _ => ["op", "field", "when"],
        };
        foreach (var (key, _) in s)
        {
            if (Array.IndexOf(allowed, key) < 0)
            {
                throw Error(i, $"'{key}' is not a property of {opText} (allowed: {string.Join(", ", allowed)})");
            }
        }
        var field = Path(String(s, "field", i) ?? throw Error(i, "'field' is required"), i);
        string[]? whenField = null;
        JsonNode? whenEquals = null;
        if (s["when"] is { } when)
        {
            if (when is not JsonObject w || String(w, "field", i) is not { } wf || !w.ContainsKey("equals") || w.Count != 2)
            {
                throw Error(i, "'when' must be {\"field\": \"...\", \"equals\": <value>}");
            }
            whenField = Path(wf, i);
            whenEquals = w["equals"]?.DeepClone();
        }
        switch (op)
        {
            case Op.Rename:
                return new Step(op, field, Path(String(s, "to", i) ?? throw Error(i, "'to' is required"), i), null, 1, 0, null, null, null, whenField, whenEquals);
            case Op.Set:
                if (!s.ContainsKey("value"))
                {
                    throw Error(i, "'value' is required");
                }
                return new Step(op, field, null, s["value"]?.DeepClone(), 1, 0, null, null, null, whenField, whenEquals);
            case Op.Scale:
                var factor = Number(s, "factor", i) ?? 1;
                var offset = Number(s, "offset", i) ?? 0;
                if (s["factor"] is null && s["offset"] is null)
                {
                    throw Error(i, "scale needs 'factor' and/or 'offset'");
                }
                return new Step(op, field, null, null, factor, offset, null, null, null, whenField, whenEquals);
            case Op.Convert:
                var from = String(s, "from", i) ?? throw Error(i, "'from' is required");
                var to = String(s, "to", i) ?? throw Error(i, "'to' is required");
                foreach (var u in new[] { from, to })
                {
                    if (!Units.IsKnown(u))
                    {
                        throw Error(i, $"unknown unit '{u}' (known: {string.Join(", ", Units.Names.Order(StringComparer.Ordinal))})");
                    }
                }
                if (!Units.SameDimension(from, to))
                {
                    throw Error(i, $"cannot convert {from} to {to}");
                }
                var unitField = String(s, "unit_field", i) is { } uf ? Path(uf, i) : null;
                return new Step(op, field, null, null, 1, 0, from, to, unitField, whenField, whenEquals);
            default:
                return new Step(op, field, null, null, 1, 0, null, null, null, whenField, whenEquals);
        }
    }

    private static string? String(JsonObject o, string name, int i) => o[name] switch
    {
        null => null,
        JsonValue v when v.TryGetValue<string>(out var s) && s.Length > 0 => s,
        _ => throw Error(i, $"'{name}' must be a non-empty string"),
    };

    private static double? Number(JsonObject o, string name, int i) => o[name] switch
    {
        null => null,
        JsonValue v when v.TryGetValue<double>(out var d) && double.IsFinite(d) => d,
        _ => throw Error(i, $"'{name}' must be a finite number"),
    };

    private static string[] Path(string dotted, int i)
    {
        var parts = dotted.Split('.');
        if (Array.Exists(parts, p => p.Length == 0))
        {
            throw Error(i, $"'{dotted}' is not a field path (name or a.b.c)");
        }
        return parts;
    }

    /// <summary>Applies the steps to one payload. Returns false (with the reason) when the payload is not a JSON object or a
    /// step cannot apply (e.g. scaling a non-numeric value); the record is then left in the DLQ, unclaimed.</summary>
    public bool TryApply(ReadOnlySpan<byte> payload, out byte[] result, out string error)
    {
        result = [];
        JsonObject obj;
        try
        {
            if (JsonNode.Parse(payload) is not JsonObject o)
            {
                error = "payload is not a JSON object";
                return false;
            }
            obj = o;
        }
        catch (JsonException ex)
        {
            error = "payload is not valid JSON: " + ex.Message;
            return false;
        }
        for (var i = 0; i < _steps.Count; i++)
        {
            if (!Apply(_steps[i], obj, out error))
            {
                error = string.Create(CultureInfo.InvariantCulture, $"step {i} ({_steps[i].Op.ToString().ToLowerInvariant()} {string.Join('.', _steps[i].Field)}): {error}");
                return false;
            }
        }
        result = JsonSerializer.SerializeToUtf8Bytes(obj);
        error = "";
        return true;
    }

    private static bool Apply(Step step, JsonObject root, out string error)
    {
        error = "";
        if (step.WhenField is { } wf && !JsonNode.DeepEquals(Get(root, wf), step.WhenEquals))
        {
            return true;
        }
        var (parent, name) = Parent(root, step.Field, create: step.Op is Op.Set);
        switch (step.Op)
        {
            case Op.Rename:
                if (parent is null || !parent.TryGetPropertyValue(name, out var moved))
                {
                    return true; // Nothing to rename: a transform may cover records that are already right.
                }
                parent.Remove(name);
                var (target, targetName) = Parent(root, step.To!, create: true);
                target![targetName] = moved;
                return true;
            case Op.Set:
                parent![name] = step.Value?.DeepClone();
                return true;
            case Op.Drop:
                parent?.Remove(name);
                return true;
            case Op.Scale:
            case Op.Convert:
                if (parent is null || !parent.TryGetPropertyValue(name, out var node) || node is null)
                {
                    return true;
                }
                if (!TryNumber(node, out var value))
                {
                    error = $"value {node.ToJsonString()} is not a number";
                    return false;
                }
                if (step.Op is Op.Scale)
                {
                    parent[name] = value * step.Factor + step.Offset;
                    return true;
                }
                if (step.UnitField is { } uf)
                {
                    // Only records that say they are in the source unit; the unit field follows the value.
                    if (Get(root, uf) is not JsonValue unit || !unit.TryGetValue<string>(out var u) || !Units.IsKnown(u) || !Units.Same(u, step.FromUnit!))
                    {
                        return true;
                    }
                    var (unitParent, unitName) = Parent(root, uf, create: true);
                    unitParent![unitName] = step.ToUnit;
                }
                var converted = Units.Convert(value, step.FromUnit!, step.ToUnit!);
                parent[name] = Math.Round(converted, 9);
                return true;
            default:
                return true;
        }
    }

    // Numeric strings count as numbers, so "value":"12" (invalid_field) can be repaired with scale factor 1.
    private static bool TryNumber(JsonNode node, out double value)
    {
        value = 0;
        if (node is not JsonValue v)
        {
            return false;
        }
        if (v.GetValueKind() == JsonValueKind.Number)
        {
            value = v.GetValue<double>();
            return double.IsFinite(value);
        }
        return v.TryGetValue<string>(out var s)
            && double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out value) && double.IsFinite(value);
    }

    private static JsonNode? Get(JsonObject root, string[] path)
    {
        JsonNode? node = root;
        foreach (var p in path)
        {
            node = node is JsonObject o && o.TryGetPropertyValue(p, out var child) ? child : null;
            if (node is null)
            {
                return null;
            }
        }
        return node;
    }

    private static (JsonObject? Parent, string Name) Parent(JsonObject root, string[] path, bool create)
    {
        var current = root;
        for (var i = 0; i < path.Length - 1; i++)
        {
            if (current[path[i]] is JsonObject next)
            {
                current = next;
            }
            else if (create)
            {
                next = [];
                current[path[i]] = next;
                current = next;
            }
            else
            {
                return (null, path[^1]);
            }
        }
        return (current, path[^1]);
    }
}
