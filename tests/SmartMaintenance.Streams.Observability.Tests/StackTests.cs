using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Npgsql;
using Xunit;

namespace SmartMaintenance.Streams.Observability.Tests;

[Collection(StackCollection.Name)]
public sealed partial class StackTests(StackFixture stack)
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(20) };

    [Fact]
    public async Task Engine_is_live_and_ready_with_kafka_partitions_database_and_progress_checks_passing()
    {
        using var live = await Http.GetAsync(new Uri(stack.EngineEndpoint.BaseAddress, "health/live"));
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        Assert.Equal("live", JsonDocument.Parse(await live.Content.ReadAsStringAsync()).RootElement.GetProperty("status").GetString());

        using var ready = await Http.GetAsync(new Uri(stack.EngineEndpoint.BaseAddress, "health/ready"));
        var body = await ready.Content.ReadAsStringAsync();
        Assert.True(ready.StatusCode == HttpStatusCode.OK, body);
        var json = JsonDocument.Parse(body).RootElement;
        Assert.Equal("ready", json.GetProperty("status").GetString());
        var checks = json.GetProperty("checks").EnumerateArray().ToDictionary(c => c.GetProperty("name").GetString()!, c => c.GetProperty("ok").GetBoolean());
        Assert.Equal(["database", "kafka", "partitions", "progress"], checks.Keys.Order(StringComparer.Ordinal));
        Assert.All(checks.Values, Assert.True);
    }

    [Fact]
    public async Task Notifier_is_live_and_ready_with_kafka_and_database_checks_passing()
    {
        using var live = await Http.GetAsync(new Uri(stack.NotifierEndpoint.BaseAddress, "health/live"));
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        using var ready = await Http.GetAsync(new Uri(stack.NotifierEndpoint.BaseAddress, "health/ready"));
        var body = await ready.Content.ReadAsStringAsync();
        Assert.True(ready.StatusCode == HttpStatusCode.OK, body);
        var checks = JsonDocument.Parse(body).RootElement.GetProperty("checks").EnumerateArray().Select(c => c.GetProperty("name").GetString()).ToList();
        Assert.Equal(["kafka", "database"], checks);
    }

    [Fact]
    public async Task Metrics_endpoint_exposes_exactly_the_documented_metrics_with_their_types()
    {
        var text = await Http.GetStringAsync(new Uri(stack.EngineEndpoint.BaseAddress, "metrics"));
        var exposed = TypeLine().Matches(text).ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value);
        var documented = DocumentedMetrics();
        Assert.NotEmpty(documented);
        foreach (var (name, type) in exposed.Where(e => e.Key.StartsWith("smstream_", StringComparison.Ordinal)))
        {
            Assert.True(documented.ContainsKey(name), $"{name} is exposed but not documented in docs/observability.md");
            Assert.Equal(documented[name].Type, type);
        }
        foreach (var (name, doc) in documented.Where(d => !d.Value.Conditional))
        {
            Assert.True(exposed.ContainsKey(name), $"{name} is documented but not exposed");
        }
        // Process and runtime metrics come with the default registry.
        Assert.Contains("process_cpu_seconds_total", exposed.Keys);
        Assert.Contains("dotnet_collection_count_total", exposed.Keys);
    }

    [Fact]
    public async Task Per_partition_consumed_counters_add_up_to_the_messages_the_engine_consumed()
    {
        var result = await stack.Prometheus.WaitForAsync(
            $"sum(smstream_records_consumed_total{{job=\"smstream-engine\", topic=~\"obs-readings-.*\"}})",
            v => v >= stack.Engine.Counters.Messages, TimeSpan.FromSeconds(15));
        Assert.Equal(stack.Engine.Counters.Messages, result.Series.Single().Value);
        var partitions = await stack.Prometheus.QuerySeriesAsync("count(smstream_records_consumed_total{job=\"smstream-engine\", topic=~\"obs-readings-.*\"})");
        Assert.Equal(6, partitions.Series.Single().Value);
        var rejected = await stack.Prometheus.QuerySeriesAsync("sum(smstream_records_rejected_total{job=\"smstream-engine\"})");
        Assert.True(rejected.Series.Single().Value >= stack.Engine.Counters.RejectedTotal && stack.Engine.Counters.RejectedTotal > 0,
            "the simulator's malformed records are counted by reason");
    }

    [Fact]
    public async Task Window_firings_alert_events_and_stored_latency_are_recorded_by_the_engine()
    {
        // Waited for rather than queried once: a scrape that times out on a loaded machine (scrape_timeout 900 ms) marks
        // the target's series stale, and an instant query right after it finds none.
        var within = TimeSpan.FromSeconds(15);
        foreach (var kind in new[] { "early", "on_time", "final" })
        {
            await stack.Prometheus.WaitForAsync($"sum(smstream_window_firings_total{{job=\"smstream-engine\", kind=\"{kind}\"}})", v => v > 0, within);
        }
        // Counted at the handoff, before the batch's aggregates move to the writer's parts.
        foreach (var state in new[] { "partial", "final" })
        {
            await stack.Prometheus.WaitForAsync($"sum(smstream_window_aggregates_emitted_total{{job=\"smstream-engine\", state=\"{state}\"}})", v => v > 0, within);
        }
        await stack.Prometheus.WaitForAsync("sum(smstream_alert_events_total{job=\"smstream-engine\", status=\"open\"})", v => v >= 1, within);
        await stack.Prometheus.WaitForAsync("sum(smstream_e2e_event_to_stored_seconds_count{job=\"smstream-engine\"})", v => v >= stack.Engine.Counters.Stored, within);
        await stack.Prometheus.WaitForAsync("sum(smstream_notifier_deliveries_total{job=\"smstream-notifier\", channel=\"console\", outcome=\"delivered\"})", v => v >= 1, within);
    }

    [Fact]
    public async Task Every_dashboard_prometheus_query_evaluates_and_returns_at_least_one_series()
    {
        var failures = new List<string>();
        var queries = Dashboards.Queries().Where(q => q.DatasourceUid == Dashboards.PrometheusUid).ToList();
        Assert.True(queries.Count >= 40, $"only {queries.Count} Prometheus queries found");
        var documented = DocumentedMetrics();
        foreach (var q in queries)
        {
            var result = await stack.Prometheus.QuerySeriesAsync(Dashboards.ExpandPromQl(q.Query));
            if (result.Error is not null)
            {
                failures.Add($"{q}: {result.Error}");
            }
            else if (result.Series.Count == 0 && !OnlyConditional(q.Query, documented))
            {
                failures.Add($"{q}: no series");
            }
        }
        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures));
    }

    [Fact]
    public async Task Every_drilldown_sql_query_returns_rows_for_a_sensor_with_alerts()
    {
        await using var conn = new NpgsqlConnection(stack.Database);
        await conn.OpenAsync();
        await using var pick = new NpgsqlCommand("SELECT sensor_id FROM alerts GROUP BY sensor_id ORDER BY count(*) DESC, sensor_id LIMIT 1", conn);
        var sensor = (string?)await pick.ExecuteScalarAsync();
        Assert.False(string.IsNullOrEmpty(sensor), "the run produced no alerts");

        var queries = Dashboards.Queries().Where(q => q.DatasourceUid == Dashboards.DatabaseUid).ToList();
        Assert.True(queries.Count >= 5);
        using var doc = JsonDocument.Parse(File.ReadAllText(Repo.PathOf("dashboards", "sensor-drilldown.json")));
        var variable = doc.RootElement.GetProperty("templating").GetProperty("list").EnumerateArray().Single(v => v.GetProperty("name").GetString() == "sensor");
        var all = queries.Select(q => (Name: q.ToString(), Sql: Dashboards.ExpandSql(q.Query, sensor!)))
            .Append(("variable sensor", variable.GetProperty("query").GetString()!));
        foreach (var (name, sql) in all)
        {
            await using var cmd = new NpgsqlCommand(sql, conn);
            await using var reader = await cmd.ExecuteReaderAsync();
            Assert.True(await reader.ReadAsync(), $"no rows: {name}");
        }
    }

    [Fact]
    public async Task Every_rule_is_loaded_and_evaluates_without_error()
    {
        var file = await File.ReadAllTextAsync(Repo.PathOf("prometheus", "rules", "smstream.rules.yml"));
        var declared = RuleName().Matches(file).Select(m => m.Groups[2].Value).ToHashSet();
        Assert.Contains("SmstreamEngineDown", declared);

        // Wait for one full evaluation round of every group.
        await Task.Delay(1500);
        var json = JsonDocument.Parse(await stack.Prometheus.Http.GetStringAsync(new Uri("api/v1/rules", UriKind.Relative))).RootElement;
        var loaded = new HashSet<string>();
        var failures = new List<string>();
        foreach (var group in json.GetProperty("data").GetProperty("groups").EnumerateArray())
        {
            foreach (var rule in group.GetProperty("rules").EnumerateArray())
            {
                var name = rule.GetProperty("name").GetString()!;
                loaded.Add(name);
                var health = rule.GetProperty("health").GetString();
                if (health != "ok")
                {
                    failures.Add($"{name}: health {health} {rule.GetProperty("lastError")}");
                }
                var result = await stack.Prometheus.QueryAsync(rule.GetProperty("query").GetString()!);
                if (result.Error is not null)
                {
                    failures.Add($"{name}: {result.Error}");
                }
            }
        }
        Assert.Equal(declared.Order(StringComparer.Ordinal), loaded.Order(StringComparer.Ordinal));
        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures));
    }

    [Fact]
    public async Task Engine_down_rule_stays_quiet_while_the_engine_is_scraped()
    {
        var up = await stack.Prometheus.QueryAsync("up{job=\"smstream-engine\"}");
        Assert.Equal(1, up.Series.Single().Value);
        var down = await stack.Prometheus.QueryAsync("up{job=\"smstream-engine\"} == 0 or absent(up{job=\"smstream-engine\"})");
        Assert.Empty(down.Series);
    }

    /// <summary>A panel over metrics exposed only under a condition (†: e.g. prediction switched on) must evaluate, and may
    /// be empty on this stack; any other metric in it must have series.</summary>
    private static bool OnlyConditional(string query, Dictionary<string, (string Type, bool Conditional)> documented)
    {
        var any = false;
        foreach (Match m in MetricName().Matches(query))
        {
            var name = m.Value;
            var baseName = documented.ContainsKey(name) ? name : Regex.Replace(name, "_(bucket|sum|count)$", "");
            if (!documented.TryGetValue(baseName, out var doc) || !doc.Conditional)
            {
                return false;
            }
            any = true;
        }
        return any;
    }

    [GeneratedRegex(@"smstream_[a-z0-9_]+")]
    private static partial Regex MetricName();

    internal static Dictionary<string, (string Type, bool Conditional)> DocumentedMetrics()
    {
        var result = new Dictionary<string, (string, bool)>();
        foreach (var line in File.ReadLines(Repo.PathOf("docs", "observability.md")))
        {
            var m = DocRow().Match(line);
            if (m.Success)
            {
                result[m.Groups[1].Value] = (m.Groups[3].Value, m.Groups[2].Value.Length > 0);
            }
        }
        return result;
    }

    [GeneratedRegex(@"^# TYPE (\S+) (\S+)$", RegexOptions.Multiline)]
    private static partial Regex TypeLine();

    // | `smstream_x_total` | counter | labels | meaning |   († after the name: exposed only under a condition)
    [GeneratedRegex(@"^\| `(smstream_[a-z0-9_]+)`( †)? \| (counter|gauge|histogram) \|")]
    private static partial Regex DocRow();

    [GeneratedRegex(@"-\s+(alert|record):\s+(\S+)")]
    private static partial Regex RuleName();

    internal static double Parse(string s) => double.Parse(s, CultureInfo.InvariantCulture);
}
