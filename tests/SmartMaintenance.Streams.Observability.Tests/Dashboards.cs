using System.Text.Json;

namespace SmartMaintenance.Streams.Observability.Tests;

/// <summary>The panels and queries of dashboards/*.json, with Grafana's variables replaced for a direct evaluation.</summary>
internal static class Dashboards
{
    public const string PrometheusUid = "smstream-prometheus";
    public const string DatabaseUid = "smstream-tsdb";

    public static IReadOnlyList<string> Files { get; } =
        [.. Directory.GetFiles(Repo.PathOf("dashboards"), "*.json").Order(StringComparer.Ordinal)];

    public static IEnumerable<PanelQuery> Queries()
    {
        foreach (var file in Files)
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(file));
            foreach (var panel in Panels(doc.RootElement))
            {
                if (!panel.TryGetProperty("targets", out var targets))
                {
                    continue;
                }
                var title = panel.GetProperty("title").GetString()!;
                var description = panel.TryGetProperty("description", out var d) ? d.GetString() ?? "" : "";
                foreach (var t in targets.EnumerateArray())
                {
                    var uid = t.GetProperty("datasource").GetProperty("uid").GetString()!;
                    var query = uid == PrometheusUid ? t.GetProperty("expr").GetString()! : t.GetProperty("rawSql").GetString()!;
                    yield return new PanelQuery(Path.GetFileName(file), title, description, uid, query);
                }
            }
        }
    }

    public static IEnumerable<JsonElement> Panels(JsonElement dashboard)
    {
        foreach (var p in dashboard.GetProperty("panels").EnumerateArray())
        {
            yield return p;
            if (p.TryGetProperty("panels", out var nested))
            {
                foreach (var n in nested.EnumerateArray())
                {
                    yield return n;
                }
            }
        }
    }

    /// <summary>Grafana's Prometheus variables as a live Grafana would expand them over the test's short history.</summary>
    public static string ExpandPromQl(string expr) => expr
        .Replace("$__rate_interval", "15s", StringComparison.Ordinal)
        .Replace("$__range", "5m", StringComparison.Ordinal)
        .Replace("$instance", ".*", StringComparison.Ordinal);

    /// <summary>Grafana's PostgreSQL macros for the last day, and the drill-down's sensor.</summary>
    public static string ExpandSql(string sql, string sensor)
    {
        var result = sql.Replace("$sensor", sensor.Replace("'", "''", StringComparison.Ordinal), StringComparison.Ordinal);
        const string macro = "$__timeFilter(";
        int i;
        while ((i = result.IndexOf(macro, StringComparison.Ordinal)) >= 0)
        {
            var end = result.IndexOf(')', i);
            var column = result[(i + macro.Length)..end];
            result = string.Concat(result.AsSpan(0, i), $"{column} BETWEEN now() - interval '1 day' AND now() + interval '1 day'", result.AsSpan(end + 1));
        }
        return result;
    }

    /// <summary>Panels that only show data during failures say so in their description.</summary>
    public static bool IsFailurePanel(PanelQuery q) => q.Description.StartsWith("Failure panel", StringComparison.Ordinal);
}

internal sealed record PanelQuery(string File, string Panel, string Description, string DatasourceUid, string Query)
{
    public override string ToString() => $"{File} / {Panel}: {Query}";
}
