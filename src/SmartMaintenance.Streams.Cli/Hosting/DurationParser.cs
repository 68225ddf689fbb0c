using System.CommandLine.Parsing;
using System.Globalization;
using SmartMaintenance.Streams.Contracts;

namespace SmartMaintenance.Streams.Cli.Hosting;

/// <summary>Parses durations like 60s, 2m, 1h30m, 500ms or a TimeSpan (00:01:00).</summary>
internal static class DurationParser
{
    /// <summary>For settings given as text: zero is allowed (it means "until stopped" where a command says so).</summary>
    public static TimeSpan Parse(string text, string setting)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Trim() == "0")
        {
            return TimeSpan.Zero;
        }
        return TryParse(text.Trim(), out var value)
            ? value
            : throw new ConfigurationException(setting, $"'{text}' is not a duration (e.g. 30, 500ms, 10s, 5m, 1h)");
    }

    public static TimeSpan Parse(ArgumentResult result)
    {
        var text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
        if (TryParse(text, out var value))
        {
            return value;
        }
        result.AddError($"'{text}' is not a duration (e.g. 60s, 2m, 1h, 500ms) for {result.Argument.Name}");
        return default;
    }

    public static bool TryParse(string text, out TimeSpan value)
    {
        value = default;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }
        if (TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out value) && text.Contains(':', StringComparison.Ordinal))
        {
            return value > TimeSpan.Zero;
        }
        var total = TimeSpan.Zero;
        var i = 0;
        while (i < text.Length)
        {
            var start = i;
            while (i < text.Length && (char.IsDigit(text[i]) || text[i] == '.'))
            {
                i++;
            }
            if (start == i || !double.TryParse(text.AsSpan(start, i - start), NumberStyles.Float, CultureInfo.InvariantCulture, out var n))
            {
                return false;
            }
            var unitStart = i;
            while (i < text.Length && char.IsLetter(text[i]))
            {
                i++;
            }
            var unit = text[unitStart..i];
            total += unit switch
            {
                "ms" => TimeSpan.FromMilliseconds(n),
                "s" or "" => TimeSpan.FromSeconds(n),
                "m" or "min" => TimeSpan.FromMinutes(n),
                "h" => TimeSpan.FromHours(n),
                "d" => TimeSpan.FromDays(n),
                _ => TimeSpan.MinValue,
            };
            if (total < TimeSpan.Zero)
            {
                return false;
            }
        }
        value = total;
        return value > TimeSpan.Zero;
    }
}
