using System.Globalization;
using System.Text;

namespace SmartMaintenance.Streams.Api.Tests;

/// <summary>Seeded generator of hostile requests: bad paths and ids, query strings, headers and bodies (truncated,
/// deep, wrong types, huge numbers, random bytes), around the API's real endpoints so most reach a handler.</summary>
public sealed class HostileRequests(int seed)
{
    private readonly Random _random = new(seed);

    // Each path with the methods it serves (most requests use one, so they reach a handler).
    private static readonly (string Path, string[] Methods)[] Templates =
    [
        ("/api/v1/alerts", ["GET"]), ("/api/v1/alerts/{id}", ["GET"]), ("/api/v1/alerts/{id}/acknowledge", ["POST"]), ("/api/v1/alerts/{id}/resolve", ["POST"]),
        ("/api/v1/silences", ["GET", "POST"]), ("/api/v1/silences/{id}", ["GET", "DELETE"]), ("/api/v1/sensors", ["GET"]),
        ("/api/v1/sensors/{id}", ["GET", "PUT", "DELETE"]), ("/api/v1/readings", ["POST"]), ("/api/v1/score", ["POST"]),
        ("/api/v1/state/sensors/{id}", ["GET"]), ("/api/v1/models", ["GET"]), ("/api/v1/keys", ["GET", "POST"]), ("/api/v1/keys/{id}", ["DELETE"]),
        ("/api/v1/audit", ["GET"]), ("/api/v1/whoami", ["GET"]), ("/api/v1/openapi.json", ["GET"]), ("/api/v1/{id}", ["GET"]), ("/api/{id}", ["GET"]),
    ];

    private static readonly string[] Methods = ["GET", "GET", "POST", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"];

    private static readonly string[] QueryKeys = ["limit", "offset", "status", "min_severity", "asset", "sensor", "since", "until", "q", "type", "active", "name", "sensor_type", "actor", "action"];

    private static readonly string[] Values =
    [
        "", "0", "-1", "1", "5", "1000", "1001", "99999999999999999999", "abc", "1e309", "NaN", "true", "open", "resolved", "%00", "%ff%fe", "'; DROP TABLE alerts; --",
        "2026-12-08T10:00:00Z", "0001-01-01", "9999-12-31T23:59:59Z", "\u202e\u0000", "{\"a\":1}", "pump-*", "../../etc/passwd",
    ];

    private static readonly string[] Fields = ["sensor_id", "ts", "value", "asset_id", "sensor_type", "unit", "quality", "seq", "attributes", "readings", "note",
        "reason", "ends_at", "starts_at", "detector", "range_min", "range_max", "description", "name", "role", "rate_limit"];

    /// <summary>One request: method, path and query, headers (name, value), body (or null), content type.</summary>
    public sealed record Hostile(string Method, string PathAndQuery, List<(string Name, string Value)> Headers, byte[]? Body, string? ContentType);

    public Hostile Next(IReadOnlyList<string> keys)
    {
        var template = Pick(Templates);
        var method = _random.Next(5) == 0 ? Pick(Methods) : Pick(template.Methods);
        var path = template.Path.Replace("{id}", Id(), StringComparison.Ordinal);
        var query = new StringBuilder();
        for (var i = _random.Next(0, 4); i > 0; i--)
        {
            query.Append(query.Length == 0 ? '?' : '&').Append(Uri.EscapeDataString(Pick(QueryKeys))).Append('=').Append(Uri.EscapeDataString(Pick(Values)));
        }
        var headers = new List<(string, string)>();
        switch (_random.Next(10))
        {
            case 0:
                break;
            case 1:
                headers.Add(("X-Api-Key", Garbage(_random.Next(0, 300))));
                break;
            case 2:
                headers.Add(("Authorization", "Bearer " + Garbage(_random.Next(0, 400))));
                break;
            case 3:
                headers.Add(("Authorization", "Bearer " + Base64Url() + "." + Base64Url() + "." + Base64Url()));
                break;
            case 4:
                headers.Add(("Authorization", "ApiKey " + Pick(keys)));
                break;
            default:
                headers.Add(("X-Api-Key", Pick(keys)));
                break;
        }
        if (_random.Next(8) == 0)
        {
            headers.Add(("X-Smstream-Forwarded", Garbage(5)));
        }
        byte[]? body = null;
        string? contentType = null;
        if (method is "POST" or "PUT" or "PATCH" || _random.Next(10) == 0)
        {
            body = Body();
            contentType = _random.Next(6) switch
            {
                0 => "text/plain",
                1 => "application/json; charset=utf-16",
                2 => "multipart/form-data; boundary=x",
                _ => "application/json",
            };
        }
        return new Hostile(method, path + query, headers, body, contentType);
    }

    private string Id() => _random.Next(8) switch
    {
        0 => "",
        1 => new string('a', _random.Next(100, 3000)),
        2 => Uri.EscapeDataString(Garbage(_random.Next(1, 40))),
        3 => "%2e%2e%2f%2e%2e%2f",
        4 => "al_" + Convert.ToHexStringLower(Bytes(16)),
        5 => "sensor-" + _random.Next(100),
        6 => Uri.EscapeDataString("😀\u0000\u202e"),
        _ => _random.Next().ToString(CultureInfo.InvariantCulture),
    };

    private byte[] Body() => _random.Next(12) switch
    {
        0 => Bytes(_random.Next(0, 2000)),
        1 => Encoding.UTF8.GetBytes(new string('[', _random.Next(10, 5000))),
        2 => Encoding.UTF8.GetBytes("{\"readings\":[" + string.Join(',', Enumerable.Range(0, _random.Next(0, 50)).Select(_ => Reading())) + "]}"),
        3 => Encoding.UTF8.GetBytes(Reading()),
        4 => Truncated(Reading()),
        5 => Encoding.UTF8.GetBytes("null"),
        6 => Encoding.UTF8.GetBytes("\"just a string\""),
        7 => Encoding.UTF8.GetBytes("{\"" + Pick(Fields) + "\":1e400}"),
        _ => Encoding.UTF8.GetBytes(ObjectOfFields()),
    };

    private byte[] Truncated(string text) => Encoding.UTF8.GetBytes(text[..Math.Max(1, _random.Next(text.Length))]);

    private string Reading()
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var ts = _random.Next(6) switch
        {
            0 => "\"not a time\"",
            1 => "-1",
            2 => (now + 10_000_000).ToString(CultureInfo.InvariantCulture),
            3 => "\"2026-13-45T99:99:99Z\"",
            _ => now.ToString(CultureInfo.InvariantCulture),
        };
        var value = _random.Next(6) switch
        {
            0 => "\"NaN\"",
            1 => "1e308",
            2 => "null",
            3 => "[1,2]",
            _ => (_random.NextDouble() * 100).ToString("R", CultureInfo.InvariantCulture),
        };
        return $$"""{"sensor_id":"fuzz-{{_random.Next(50)}}","ts":{{ts}},"value":{{value}},"sensor_type":"{{Pick(["temperature", "vibration", "x"])}}"}""";
    }

    private string ObjectOfFields()
    {
        var sb = new StringBuilder("{");
        for (var i = _random.Next(0, 8); i > 0; i--)
        {
            sb.Append('"').Append(Pick(Fields)).Append("\":").Append(_random.Next(7) switch
            {
                0 => "null",
                1 => "123456789012345678901234567890",
                2 => "\"" + Pick(Values).Replace("\"", "", StringComparison.Ordinal) + "\"",
                3 => "{\"nested\":[1,{\"deeper\":true}]}",
                4 => "-0.0",
                5 => "\"" + new string('x', _random.Next(0, 5000)) + "\"",
                _ => "true",
            }).Append(i > 1 ? "," : "");
        }
        return sb.Append('}').ToString();
    }

    private string Garbage(int length)
    {
        var sb = new StringBuilder(length);
        for (var i = 0; i < length; i++)
        {
            sb.Append((char)_random.Next(0x21, 0x7f));
        }
        return sb.ToString();
    }

    private string Base64Url() => Convert.ToBase64String(Bytes(_random.Next(0, 60))).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private byte[] Bytes(int n)
    {
        var b = new byte[n];
        _random.NextBytes(b);
        return b;
    }

    private T Pick<T>(IReadOnlyList<T> list) => list[_random.Next(list.Count)];
}
