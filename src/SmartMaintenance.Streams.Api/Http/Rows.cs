using Npgsql;

namespace SmartMaintenance.Streams.Api.Http;

/// <summary>Nullable columns of a row, read once the same way everywhere.</summary>
internal static class Rows
{
    public static string? Text(this NpgsqlDataReader r, int i) => r.IsDBNull(i) ? null : r.GetString(i);
    public static double? Double(this NpgsqlDataReader r, int i) => r.IsDBNull(i) ? null : r.GetDouble(i);
    public static DateTimeOffset? Time(this NpgsqlDataReader r, int i) => r.IsDBNull(i) ? null : r.GetFieldValue<DateTimeOffset>(i);
}
