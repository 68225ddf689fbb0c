namespace SmartMaintenance.Streams.Api.Http;

/// <summary>Checks of query-string and body values, each failing with a problem naming the field.</summary>
public static class Query
{
    public const int MaxLimit = 1000;
    public const int MaxText = 256;

    public static int Limit(int? limit, int fallback = 100) => limit switch
    {
        null => fallback,
        < 1 or > MaxLimit => throw ApiProblem.BadField("limit", $"must be within 1..{MaxLimit}"),
        _ => limit.Value,
    };

    public static int Offset(int? offset) => offset switch
    {
        null => 0,
        < 0 or > 1_000_000 => throw ApiProblem.BadField("offset", "must be within 0..1000000"),
        _ => offset.Value,
    };

    /// <summary>Optional text: null when absent or empty, else at most <see cref="MaxText"/> characters without controls.</summary>
    public static string? Text(string? value, string field, int max = MaxText)
    {
        if (string.IsNullOrEmpty(value))
        {
            return null;
        }
        if (value.Length > max)
        {
            throw ApiProblem.BadField(field, $"longer than {max} characters");
        }
        foreach (var c in value)
        {
            if (char.IsControl(c) || char.IsSurrogate(c) && !char.IsHighSurrogate(c) && !char.IsLowSurrogate(c))
            {
                throw ApiProblem.BadField(field, "contains control characters");
            }
        }
        return value;
    }

    public static string Required(string? value, string field, int max = MaxText) =>
        Text(value, field, max) ?? throw ApiProblem.BadField(field, "is required");

    public static DateTimeOffset? Time(string? value, string field)
    {
        if (string.IsNullOrEmpty(value))
        {
            return null;
        }
        if (DateTimeOffset.TryParse(value, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var t))
        {
            return t.ToUniversalTime();
        }
        throw ApiProblem.BadField(field, "must be an RFC 3339 time, e.g. 2026-12-08T10:00:00Z");
    }

    public static double? Finite(double? value, string field) =>
        value is { } v && !double.IsFinite(v) ? throw ApiProblem.BadField(field, "must be a finite number") : value;
}
