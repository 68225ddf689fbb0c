using System.Globalization;
using System.Text;
using SmartMaintenance.Streams.Contracts;

namespace SmartMaintenance.Streams.Alerting.Notifier;

/// <summary>
/// A message template with <c>{placeholder}</c> fields (names in <see cref="Placeholders"/>); <c>{{</c> and <c>}}</c>
/// are literal braces. Parsed once at start-up; an unknown placeholder is a configuration error.
/// </summary>
public sealed class AlertTemplate
{
    /// <summary>Every placeholder a template may use.</summary>
    public static IReadOnlyList<string> Placeholders { get; } =
    [
        "alert_id", "event_key", "status", "revision", "severity", "severity_name", "sensor_id", "asset_id",
        "sensor_type", "detector", "score", "threshold", "value", "window_start", "window_end", "first_seen",
        "last_seen", "published_at", "correlation_id", "evidence",
    ];

    private readonly (string Literal, string? Field)[] _parts;

    private AlertTemplate((string, string?)[] parts, string text)
    {
        _parts = parts;
        Text = text;
    }

    public string Text { get; }

    /// <summary>Parses <paramref name="text"/>; throws <see cref="ConfigurationException"/> naming <paramref name="settingPath"/>.</summary>
    public static AlertTemplate Parse(string text, string settingPath)
    {
        ArgumentNullException.ThrowIfNull(text);
        var parts = new List<(string, string?)>();
        var literal = new StringBuilder();
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '{' && i + 1 < text.Length && text[i + 1] == '{')
            {
                literal.Append('{');
                i++;
            }
            else if (c == '}' && i + 1 < text.Length && text[i + 1] == '}')
            {
                literal.Append('}');
                i++;
            }
            else if (c == '{')
            {
                var end = text.IndexOf('}', i + 1);
                if (end < 0)
                {
                    throw new ConfigurationException(settingPath, $"unclosed '{{' at position {i}");
                }
                var name = text[(i + 1)..end].Trim();
                if (!Placeholders.Contains(name, StringComparer.Ordinal))
                {
                    throw new ConfigurationException(settingPath, $"unknown placeholder '{{{name}}}'; known: {string.Join(", ", Placeholders)}");
                }
                parts.Add((literal.ToString(), name));
                literal.Clear();
                i = end;
            }
            else if (c == '}')
            {
                throw new ConfigurationException(settingPath, $"unmatched '}}' at position {i} (write '}}}}' for a literal brace)");
            }
            else
            {
                literal.Append(c);
            }
        }
        if (literal.Length > 0)
        {
            parts.Add((literal.ToString(), null));
        }
        return new AlertTemplate([.. parts], text);
    }

    /// <summary>Parses <paramref name="text"/>, or <paramref name="fallback"/> when it is empty.</summary>
    public static AlertTemplate ParseOrDefault(string? text, string fallback, string settingPath) =>
        Parse(string.IsNullOrEmpty(text) ? fallback : text, settingPath);

    /// <summary>Renders for one event; <paramref name="encode"/> escapes field values (HTML, Slack mrkdwn), not literals.</summary>
    public string Render(AlertEvent alert, Func<string, string>? encode = null)
    {
        ArgumentNullException.ThrowIfNull(alert);
        var sb = new StringBuilder();
        foreach (var (lit, field) in _parts)
        {
            sb.Append(lit);
            if (field is not null)
            {
                var value = Value(alert, field);
                sb.Append(encode is null ? value : encode(value));
            }
        }
        return sb.ToString();
    }

    /// <summary>1 info, 2 low, 3 medium, 4 high, 5 critical.</summary>
    public static string SeverityName(int severity) => severity switch
    {
        <= 1 => "info",
        2 => "low",
        3 => "medium",
        4 => "high",
        _ => "critical",
    };

    /// <summary>Invariant, round-trippable-enough text of a number: up to 6 decimals, no exponent for normal readings.</summary>
    public static string Number(double v) => v.ToString("0.######", CultureInfo.InvariantCulture);

    /// <summary>RFC 3339 UTC with milliseconds.</summary>
    public static string Time(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    private static string Value(AlertEvent a, string field) => field switch
    {
        "alert_id" => a.AlertId,
        "event_key" => a.EventKey,
        "status" => a.Status,
        "revision" => a.Revision.ToString(CultureInfo.InvariantCulture),
        "severity" => a.Severity.ToString(CultureInfo.InvariantCulture),
        "severity_name" => SeverityName(a.Severity),
        "sensor_id" => a.SensorId,
        "asset_id" => a.AssetId ?? "-",
        "sensor_type" => a.SensorType ?? "-",
        "detector" => a.Detector,
        "score" => Number(a.Score),
        "threshold" => Number(a.Threshold),
        "value" => Number(a.Value),
        "window_start" => Time(a.WindowStart),
        "window_end" => Time(a.WindowEnd),
        "first_seen" => Time(a.FirstSeen),
        "last_seen" => Time(a.LastSeen),
        "published_at" => Time(a.PublishedAt),
        "correlation_id" => a.CorrelationId ?? "-",
        "evidence" => a.Evidence?.ToJsonString() ?? "{}",
        _ => throw new InvalidOperationException($"Placeholder '{field}' passed parsing but has no value."),
    };
}
