using System.Globalization;
using System.Text;
using SmartMaintenance.Streams.Testing;

namespace SmartMaintenance.Streams.Reliability.Tests;

/// <summary>One hostile message and what must become of it: a DLQ reason code, "stored", or "duplicate".</summary>
/// <param name="Marker">Identifies the message in the DLQ and the database: its key, or (empty key) the sensor id in its body.</param>
public sealed record HostileMessage(string Kind, string Marker, TestMessage Message, string Expected);

/// <summary>
/// A seeded corpus of hostile messages for the engine's input topic. Every message carries a marker
/// <c>h-N</c> (as its key, or as sensor id when the key is empty) so its fate can be checked one by one.
/// Valid messages advance event time in corpus order, so nothing valid is ever late.
/// </summary>
public static class HostileCorpus
{
    /// <summary>Validation limits the corpus is built against (set them on the engine under test).</summary>
    public const int MaxMessageBytes = 64 * 1024;
    public const int MaxReadingsPerMessage = 50;

    public const string Stored = "stored";

    private static readonly string[] Kinds =
    [
        "random_bytes", "truncated_json", "wrong_type", "missing_field", "huge", "deep_nesting", "nan_infinity",
        "far_future", "far_past", "unknown_fields", "empty_key", "duplicate", "oversized_envelope", "out_of_range", "not_an_object",
    ];

    public static IReadOnlyList<HostileMessage> Generate(int count, int seed, DateTimeOffset now)
    {
        var random = new Random(seed);
        var start = now.AddHours(-1);
        var list = new List<HostileMessage>(count + count / 10);
        var n = 0;
        while (list.Count < count)
        {
            var id = $"h-{n}";
            var ts = start.AddMilliseconds(n * 100L);
            var kind = Kinds[n % Kinds.Length];
            // Huge messages are few (broker retention is 5 MiB per partition); the rest rotate evenly.
            if (kind == "huge" && n % (Kinds.Length * 7) != Array.IndexOf(Kinds, "huge"))
            {
                kind = "wrong_type";
            }
            switch (kind)
            {
                case "random_bytes":
                {
                    var bytes = new byte[random.Next(1, 512)];
                    random.NextBytes(bytes);
                    bytes[0] = (byte)random.Next(0x80, 0x100); // never a JSON start, so never accidentally valid
                    list.Add(new(kind, id, new TestMessage(Key(id), bytes), "malformed_json"));
                    break;
                }
                case "truncated_json":
                {
                    var full = Reading(id, ts, "12.5", extra: ",\"attributes\":{\"line\":\"A\",\"shift\":3}");
                    list.Add(new(kind, id, TestMessage.Utf8(id, full[..random.Next(1, full.Length - 1)]), "malformed_json"));
                    break;
                }
                case "wrong_type":
                {
                    var (json, reason) = (n / Kinds.Length % 7) switch
                    {
                        0 => (Reading(id, ts, "\"12\""), "invalid_field"),
                        1 => (Reading(id, ts, "true"), "invalid_field"),
                        2 => (Reading(id, ts, "{\"v\":1}"), "invalid_field"),
                        3 => ($$"""{"sensor_id":{{n}},"ts":"{{Ts(ts)}}","value":1,"marker":"{{id}}"}""", "invalid_field"),
                        4 => ($$"""{"sensor_id":"{{id}}","ts":true,"value":1}""", "invalid_field"),
                        5 => ($$"""{"sensor_id":"{{id}}","ts":"yesterday","value":1}""", "invalid_field"),
                        _ => (Reading(id, ts, "1", extra: ",\"quality\":\"good\""), "invalid_field"),
                    };
                    list.Add(new(kind, id, TestMessage.Utf8(id, json), reason));
                    break;
                }
                case "missing_field":
                {
                    var json = (n % 3) switch
                    {
                        0 => $$"""{"ts":"{{Ts(ts)}}","value":1,"marker":"{{id}}"}""",
                        1 => $$"""{"sensor_id":"{{id}}","value":1}""",
                        _ => $$"""{"sensor_id":"{{id}}","ts":"{{Ts(ts)}}","value":null}""",
                    };
                    list.Add(new(kind, id, TestMessage.Utf8(id, json), "missing_field"));
                    break;
                }
                case "huge":
                {
                    var padding = new byte[random.Next(MaxMessageBytes + 1, MaxMessageBytes + 30_000) / 4 * 3];
                    random.NextBytes(padding);
                    var json = Reading(id, ts, "1", extra: $",\"attributes\":{{\"blob\":\"{Convert.ToBase64String(padding)}\"}}");
                    list.Add(new(kind, id, TestMessage.Utf8(id, json), "too_large"));
                    break;
                }
                case "deep_nesting":
                {
                    var depth = random.Next(9, 200);
                    var nested = new StringBuilder();
                    nested.Append('{', 0);
                    for (var d = 0; d < depth; d++)
                    {
                        nested.Append("{\"a\":");
                    }
                    nested.Append('1').Append('}', depth);
                    list.Add(new(kind, id, TestMessage.Utf8(id, Reading(id, ts, "1", extra: ",\"attributes\":" + nested)), "malformed_json"));
                    break;
                }
                case "nan_infinity":
                {
                    var (value, reason) = (n / Kinds.Length % 5) switch
                    {
                        0 => ("NaN", "malformed_json"), // bare NaN is not JSON
                        1 => ("\"NaN\"", "non_finite_value"),
                        2 => ("\"-Infinity\"", "non_finite_value"),
                        3 => ("1e999", "non_finite_value"),
                        _ => ("Infinity", "malformed_json"),
                    };
                    list.Add(new(kind, id, TestMessage.Utf8(id, Reading(id, ts, value)), reason));
                    break;
                }
                case "far_future":
                {
                    var (tsText, reason) = (n / Kinds.Length % 3) switch
                    {
                        0 => ("\"9999-12-31T23:59:59Z\"", "future_timestamp"),
                        1 => ("\"" + Ts(now.AddDays(random.Next(1, 3650))) + "\"", "future_timestamp"),
                        _ => ("99999999999999999", "invalid_field"), // epoch ms beyond year 9999
                    };
                    list.Add(new(kind, id, TestMessage.Utf8(id, $$"""{"sensor_id":"{{id}}","ts":{{tsText}},"value":1}"""), reason));
                    break;
                }
                case "far_past":
                {
                    var tsText = (n / Kinds.Length % 3) switch
                    {
                        0 => "\"0001-01-01T00:00:00Z\"",
                        1 => "\"1970-01-01T00:00:00Z\"",
                        _ => "0",
                    };
                    list.Add(new(kind, id, TestMessage.Utf8(id, $$"""{"sensor_id":"{{id}}","ts":{{tsText}},"value":1}"""), "past_timestamp"));
                    break;
                }
                case "unknown_fields":
                {
                    // Unknown fields are ignored by contract: a reading that is otherwise valid is stored; one that is not goes to the DLQ.
                    var extra = ",\"firmware\":\"1.2.3\",\"x_vendor\":{\"a\":[1,2,3]},\"zzz\":null";
                    var bad = n / Kinds.Length % 2 == 0;
                    list.Add(new(kind, id, TestMessage.Utf8(id, Reading(id, ts, bad ? "\"high\"" : "3.5", extra)), bad ? "invalid_field" : Stored));
                    break;
                }
                case "empty_key":
                {
                    // The key is not part of validation: a valid body is stored, an invalid one dead-lettered, with either empty key.
                    var nullKey = n / Kinds.Length % 2 == 0;
                    var bad = n / Kinds.Length % 4 < 2;
                    var body = Reading(id, ts, bad ? "\"NaN\"" : "4.25");
                    list.Add(new(kind, id, new TestMessage(nullKey ? null : [], Encoding.UTF8.GetBytes(body)), bad ? "non_finite_value" : Stored));
                    break;
                }
                case "duplicate":
                {
                    var body = Reading(id, ts, "7.5", extra: $",\"seq\":{n}");
                    list.Add(new(kind, id, TestMessage.Utf8(id, body), Stored));
                    list.Add(new(kind, id, TestMessage.Utf8(id, body), "duplicate"));
                    break;
                }
                case "oversized_envelope":
                {
                    var readings = random.Next(MaxReadingsPerMessage + 1, MaxReadingsPerMessage * 3);
                    var sb = new StringBuilder("{\"readings\":[");
                    for (var r = 0; r < readings; r++)
                    {
                        sb.Append(r == 0 ? "" : ",").Append(Reading(id, ts.AddMilliseconds(r), "1"));
                    }
                    sb.Append("]}");
                    list.Add(new(kind, id, TestMessage.Utf8(id, sb.ToString()), "too_many_readings"));
                    break;
                }
                case "out_of_range":
                    list.Add(new(kind, id, TestMessage.Utf8(id, Reading(id, ts, "-500")), "out_of_range"));
                    break;
                default: // not_an_object
                {
                    var json = (n / Kinds.Length % 4) switch
                    {
                        0 => "[1,2,3]",
                        1 => "\"" + id + "\"",
                        2 => "42",
                        _ => "null",
                    };
                    list.Add(new(kind, id, TestMessage.Utf8(id, json), "malformed_json"));
                    break;
                }
            }
            n++;
        }
        return list;
    }

    private static byte[] Key(string id) => Encoding.UTF8.GetBytes(id);

    private static string Ts(DateTimeOffset t) => t.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture);

    private static string Reading(string id, DateTimeOffset ts, string value, string extra = "") =>
        $$"""{"sensor_id":"{{id}}","ts":"{{Ts(ts)}}","value":{{value}},"sensor_type":"temperature"{{extra}}}""";
}
