using System.Text.Json;
using Xunit;

namespace SmartMaintenance.Streams.Observability.Tests;

/// <summary>The Prometheus, Grafana and compose files: valid for their tools, consistent with each other.</summary>
public sealed class ConfigurationFilesTests
{
    [Fact]
    public async Task Promtool_accepts_the_prometheus_configuration_and_its_rule_files()
    {
        var promtool = Tools.Require("promtool", "prometheus");
        var config = await Tools.RunAsync(promtool, ["check", "config", Repo.PathOf("prometheus", "prometheus.yml")]);
        Assert.True(config.ExitCode == 0, config.Output);
        Assert.Contains("SUCCESS", config.Output, StringComparison.Ordinal);
        var rules = await Tools.RunAsync(promtool, ["check", "rules", .. Directory.GetFiles(Repo.PathOf("prometheus", "rules"), "*.yml")]);
        Assert.True(rules.ExitCode == 0, rules.Output);
    }

    [Fact]
    public async Task Docker_compose_file_is_valid_for_docker_compose_v1()
    {
        var compose = Tools.Require("docker-compose", "docker-compose");
        var result = await Tools.RunAsync(compose, ["-f", Repo.PathOf("docker-compose.yml"), "config", "-q"]);
        Assert.True(result.ExitCode == 0, result.Output);
        var services = await Tools.RunAsync(compose, ["-f", Repo.PathOf("docker-compose.yml"), "config", "--services"]);
        Assert.Equal(
            ["engine", "grafana", "kafka", "kafka-init", "migrate", "notifier", "prometheus", "simulator", "timescaledb"],
            services.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Every_dashboard_has_a_unique_uid_a_purpose_and_described_panels_on_provisioned_datasources()
    {
        var provisioned = File.ReadAllText(Repo.PathOf("dashboards", "provisioning", "datasources", "smstream.yml"));
        Assert.Contains("uid: " + Dashboards.PrometheusUid, provisioned, StringComparison.Ordinal);
        Assert.Contains("uid: " + Dashboards.DatabaseUid, provisioned, StringComparison.Ordinal);
        Assert.Equal(6, Dashboards.Files.Count);
        var uids = new HashSet<string>();
        foreach (var file in Dashboards.Files)
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(file));
            var root = doc.RootElement;
            Assert.True(uids.Add(root.GetProperty("uid").GetString()!), file);
            Assert.False(string.IsNullOrWhiteSpace(root.GetProperty("description").GetString()), file);
            foreach (var panel in Dashboards.Panels(root).Where(p => p.GetProperty("type").GetString() != "row"))
            {
                var title = panel.GetProperty("title").GetString();
                Assert.False(string.IsNullOrWhiteSpace(panel.GetProperty("description").GetString()), $"{file}: {title}");
                foreach (var t in panel.GetProperty("targets").EnumerateArray())
                {
                    Assert.Contains(t.GetProperty("datasource").GetProperty("uid").GetString(), new[] { Dashboards.PrometheusUid, Dashboards.DatabaseUid });
                }
            }
        }
    }

    [Fact]
    public void Prometheus_scrape_jobs_match_the_names_the_rules_and_tests_use()
    {
        var config = File.ReadAllText(Repo.PathOf("prometheus", "prometheus.yml"));
        Assert.Contains("job_name: smstream-engine", config, StringComparison.Ordinal);
        Assert.Contains("job_name: smstream-notifier", config, StringComparison.Ordinal);
        Assert.Contains("engine:9464", config, StringComparison.Ordinal);
        Assert.Contains("notifier:9465", config, StringComparison.Ordinal);
    }
}
