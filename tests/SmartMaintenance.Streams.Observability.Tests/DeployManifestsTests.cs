using SmartMaintenance.Streams.Testing;
using Xunit;

namespace SmartMaintenance.Streams.Observability.Tests;

/// <summary>deploy/ (kustomize): renders, validates against the schemas, and agrees with the engine's configuration reference.</summary>
public sealed class DeployManifestsTests
{
    private static readonly string[] Components = ["smstream-engine", "smstream-notifier"];

    [Fact]
    public async Task Every_kustomization_renders_and_validates_against_the_Kubernetes_KEDA_and_Prometheus_operator_schemas()
    {
        var (exit, _, stderr) = await DeployManifests.ValidateAsync([]);
        Assert.True(exit == 0, stderr);
        Assert.Contains("in 3 set(s): all valid", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_schema_check_rejects_a_mistyped_value_a_misspelt_field_and_an_unknown_kind()
    {
        const string broken = """
            apiVersion: keda.sh/v1alpha1
            kind: ScaledObject
            metadata: {name: engine}
            spec: {scaleTargetRef: {name: engine}, maxReplicaCount: "twelve", cooldown: 300, triggers: []}
            ---
            apiVersion: example.invalid/v1
            kind: Nothing
            metadata: {name: x}
            """;
        var (exit, _, stderr) = await DeployManifests.ValidateAsync(["--stdin"], broken);
        Assert.Equal(1, exit);
        Assert.Contains("maxReplicaCount must be integer", stderr, StringComparison.Ordinal);
        Assert.Contains("unknown field ScaledObject.spec.cooldown", stderr, StringComparison.Ordinal);
        Assert.Contains("no schema for example.invalid/v1 Nothing", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Probes_ports_and_environment_variables_match_the_configuration_reference()
    {
        var reference = DeployManifests.ReferenceVariables();
        foreach (var (set, objects) in await DeployManifests.RenderAsync())
        {
            foreach (var deployment in objects.OfKind("Deployment"))
            {
                var where = $"{set}: {deployment.Name()}";
                var pod = deployment.GetProperty("spec").GetProperty("template").GetProperty("spec");
                var container = pod.GetProperty("containers").EnumerateArray().Single();
                var env = DeployManifests.Environment(container, objects);

                // Every variable is one the engine reads; none carries a credential in plain text.
                foreach (var (name, value) in env)
                {
                    Assert.True(reference.Any(r => r.IsMatch(name)), $"{where}: {name} is not in docs/configuration.md");
                    Assert.DoesNotContain("password=", value ?? "", StringComparison.OrdinalIgnoreCase);
                }
                Assert.Contains(container.GetProperty("envFrom").EnumerateArray(),
                    s => s.TryGetProperty("secretRef", out var r) && r.GetProperty("name").GetString() == "smstream-secrets");

                // The HTTP port the process binds is the container port the probes, Service and ServiceMonitor use.
                var port = DeployManifests.PortOf(env["SMSTREAM_HTTP__LISTEN"]!);
                Assert.StartsWith("0.0.0.0:", env["SMSTREAM_HTTP__LISTEN"]!, StringComparison.Ordinal);
                var http = container.GetProperty("ports").EnumerateArray().Single();
                Assert.Equal("http", http.GetProperty("name").GetString());
                Assert.Equal(port, http.GetProperty("containerPort").GetInt32());
                foreach (var (probe, path) in new[] { ("startupProbe", "/health/live"), ("livenessProbe", "/health/live"), ("readinessProbe", "/health/ready") })
                {
                    var get = container.GetProperty(probe).GetProperty("httpGet");
                    Assert.Equal(path, get.GetProperty("path").GetString());
                    Assert.Equal("http", get.GetProperty("port").GetString());
                }
                var readinessTimeout = container.GetProperty("readinessProbe").GetProperty("timeoutSeconds").GetInt32();
                Assert.True(readinessTimeout > TimeSpan.Parse(DeployManifests.ReferenceDefault("Http:CheckTimeout"), System.Globalization.CultureInfo.InvariantCulture).TotalSeconds, where);
                var service = objects.Named("Service", deployment.Name());
                var servicePort = service.GetProperty("spec").GetProperty("ports").EnumerateArray().Single();
                Assert.Equal(port, servicePort.GetProperty("port").GetInt32());
                Assert.Equal("http", servicePort.GetProperty("targetPort").GetString());

                // Non-root, read-only root filesystem with a writable /tmp, no service-account token.
                var security = container.GetProperty("securityContext");
                Assert.True(security.GetProperty("readOnlyRootFilesystem").GetBoolean(), where);
                Assert.False(security.GetProperty("allowPrivilegeEscalation").GetBoolean(), where);
                Assert.True(pod.GetProperty("securityContext").GetProperty("runAsNonRoot").GetBoolean(), where);
                Assert.NotEqual(0, pod.GetProperty("securityContext").GetProperty("runAsUser").GetInt32());
                Assert.False(pod.GetProperty("automountServiceAccountToken").GetBoolean(), where);
                Assert.Contains(container.GetProperty("volumeMounts").EnumerateArray(), m => m.GetProperty("mountPath").GetString() == "/tmp");
            }
            Assert.Empty(objects.OfKind("Secret"));
        }
    }

    [Fact]
    public async Task Every_rendered_container_environment_passes_smstream_config_check()
    {
        foreach (var (set, objects) in await DeployManifests.RenderAsync())
        {
            foreach (var deployment in objects.OfKind("Deployment"))
            {
                var container = deployment.GetProperty("spec").GetProperty("template").GetProperty("spec").GetProperty("containers")[0];
                var env = DeployManifests.Environment(container, objects).Where(kv => kv.Value is not null).ToDictionary(kv => kv.Key, kv => kv.Value!, StringComparer.Ordinal);
                // What the Secret adds (deploy/README.md); placeholder values, only their presence is checked.
                env["SMSTREAM_DATABASE"] = "Host=tsdb;Database=maintenance;Username=smstream;Password=placeholder";
                if (env.ContainsKey("SMSTREAM_KAFKA__SASLMECHANISM"))
                {
                    env["SMSTREAM_KAFKA__SASLPASSWORD"] = "placeholder";
                }
                if (env.ContainsKey("SMSTREAM_NOTIFIER__KAFKA__sasl.mechanism"))
                {
                    env["SMSTREAM_NOTIFIER__KAFKA__sasl.password"] = "placeholder";
                }
                var args = new List<string> { "config", "check" };
                var file = Path.Combine(Path.GetTempPath(), $"smstream-deploy-{Guid.NewGuid():N}.json");
                try
                {
                    // A --config file the container mounts from a ConfigMap is checked from the rendered ConfigMap.
                    var configArg = container.GetProperty("args").EnumerateArray().Select(a => a.GetString()!).SkipWhile(a => a != "--config").Skip(1).FirstOrDefault();
                    if (configArg is not null)
                    {
                        var volume = deployment.GetProperty("spec").GetProperty("template").GetProperty("spec").GetProperty("volumes").EnumerateArray()
                            .Single(v => v.TryGetProperty("configMap", out _) && configArg.StartsWith("/" + v.GetProperty("name").GetString() + "/", StringComparison.Ordinal));
                        var map = objects.Named("ConfigMap", volume.GetProperty("configMap").GetProperty("name").GetString()!);
                        await File.WriteAllTextAsync(file, map.GetProperty("data").GetProperty(Path.GetFileName(configArg)).GetString());
                        args.AddRange(["--config", file]);
                    }
                    var (exit, stdout, stderr) = await SmstreamCli.RunAsync(env, TimeSpan.FromMinutes(1), [.. args]);
                    Assert.True(exit == 0, $"{set}: {deployment.Name()}: smstream config check exited {exit}:\n{stderr}\n{stdout}");
                    Assert.Contains($"Http:Listen", stdout, StringComparison.Ordinal);
                    Assert.DoesNotContain("placeholder", stdout, StringComparison.Ordinal);
                }
                finally
                {
                    File.Delete(file);
                }
            }
        }
    }

    [Fact]
    public async Task The_engine_stops_within_its_grace_period_and_a_drain_takes_one_instance_at_a_time()
    {
        foreach (var (set, objects) in await DeployManifests.RenderAsync())
        {
            if (!objects.OfKind("Deployment").Any())
            {
                continue;
            }
            var engine = objects.Named("Deployment", "smstream-engine");
            var pod = engine.GetProperty("spec").GetProperty("template").GetProperty("spec");
            var env = DeployManifests.Environment(pod.GetProperty("containers")[0], objects);
            var shutdown = TimeSpan.Parse(env.GetValueOrDefault("SMSTREAM_ENGINE__SHUTDOWNTIMEOUT") ?? DeployManifests.ReferenceDefault("Engine:ShutdownTimeout"),
                System.Globalization.CultureInfo.InvariantCulture);
            var drain = TimeSpan.Parse(env.GetValueOrDefault("SMSTREAM_ENGINE__REVOKEDRAINTIMEOUT") ?? DeployManifests.ReferenceDefault("Engine:RevokeDrainTimeout"),
                System.Globalization.CultureInfo.InvariantCulture);
            var grace = pod.GetProperty("terminationGracePeriodSeconds").GetInt32();
            // SIGTERM → last batch committed (ShutdownTimeout) → group left; SIGKILL only after that, with 10 s to spare.
            Assert.True(grace >= shutdown.TotalSeconds + 10, $"{set}: grace {grace} s, Engine:ShutdownTimeout {shutdown}");
            Assert.True(drain < shutdown, $"{set}: Engine:RevokeDrainTimeout {drain} must end before the shutdown timeout {shutdown}");
            Assert.False(engine.GetProperty("spec").TryGetProperty("replicas", out _), $"{set}: the HPA owns the engine's replica count");
            // A surge pod at N = partitions holds no partition, is never ready, and would stall the rollout.
            var rolling = engine.GetProperty("spec").GetProperty("strategy").GetProperty("rollingUpdate");
            Assert.Equal(0, rolling.GetProperty("maxSurge").GetInt32());
            Assert.Equal(1, rolling.GetProperty("maxUnavailable").GetInt32());

            foreach (var name in Components)
            {
                var pdb = objects.Named("PodDisruptionBudget", name).GetProperty("spec");
                Assert.Equal(name, pdb.GetProperty("selector").GetProperty("matchLabels").GetProperty("app.kubernetes.io/name").GetString());
            }
            Assert.Equal(1, objects.Named("PodDisruptionBudget", "smstream-engine").GetProperty("spec").GetProperty("maxUnavailable").GetInt32());
        }
    }

    [Fact]
    public async Task Keda_scales_the_engines_group_on_its_topics_lag_up_to_the_partition_count_and_slowly_back_in()
    {
        foreach (var (set, objects) in await DeployManifests.RenderAsync())
        {
            if (!objects.OfKind("ScaledObject").Any())
            {
                continue;
            }
            var scaled = objects.Named("ScaledObject", "smstream-engine");
            var spec = scaled.GetProperty("spec");
            var engine = objects.Named("Deployment", "smstream-engine");
            Assert.Equal(engine.Name(), spec.GetProperty("scaleTargetRef").GetProperty("name").GetString());
            var partitions = int.Parse(scaled.GetProperty("metadata").GetProperty("annotations").GetProperty("smstream/readings-partitions").GetString()!,
                System.Globalization.CultureInfo.InvariantCulture);
            Assert.Equal(partitions, spec.GetProperty("maxReplicaCount").GetInt32());

            var env = DeployManifests.Environment(engine.GetProperty("spec").GetProperty("template").GetProperty("spec").GetProperty("containers")[0], objects);
            var trigger = spec.GetProperty("triggers").EnumerateArray().Single();
            Assert.Equal("kafka", trigger.GetProperty("type").GetString());
            var meta = trigger.GetProperty("metadata");
            Assert.Equal(env.GetValueOrDefault("SMSTREAM_ENGINE__CONSUMERGROUP") ?? DeployManifests.ReferenceDefault("Engine:ConsumerGroup"), meta.GetProperty("consumerGroup").GetString());
            Assert.Equal(env.GetValueOrDefault("SMSTREAM_TOPICS__READINGS") ?? DeployManifests.ReferenceDefault("Topics:Readings"), meta.GetProperty("topic").GetString());
            Assert.Equal(env["SMSTREAM_BOOTSTRAP"], meta.GetProperty("bootstrapServers").GetString());
            Assert.Equal("false", meta.GetProperty("allowIdleConsumers").GetString());
            if (env.ContainsKey("SMSTREAM_KAFKA__SASLUSERNAME"))
            {
                var auth = trigger.GetProperty("authenticationRef").GetProperty("name").GetString()!;
                objects.Named("TriggerAuthentication", auth);
            }

            // Against rebalance storms: scale-in waits out 10 minutes of low lag and then removes one instance per period.
            var down = spec.GetProperty("advanced").GetProperty("horizontalPodAutoscalerConfig").GetProperty("behavior").GetProperty("scaleDown");
            Assert.True(down.GetProperty("stabilizationWindowSeconds").GetInt32() >= 300, set);
            Assert.All(down.GetProperty("policies").EnumerateArray(), p =>
            {
                Assert.Equal("Pods", p.GetProperty("type").GetString());
                Assert.Equal(1, p.GetProperty("value").GetInt32());
            });
        }
    }

    [Fact]
    public async Task Every_dashboard_ships_unchanged_in_the_grafana_config_map_and_both_components_are_scraped()
    {
        var objects = (await DeployManifests.RenderAsync())["base"];
        var map = objects.Named("ConfigMap", "smstream-dashboards");
        Assert.Equal("1", map.GetProperty("metadata").GetProperty("labels").GetProperty("grafana_dashboard").GetString());
        var data = map.GetProperty("data");
        Assert.Equal(Dashboards.Files.Count, data.EnumerateObject().Count());
        foreach (var file in Dashboards.Files)
        {
            Assert.Equal(File.ReadAllText(file), data.GetProperty(Path.GetFileName(file)).GetString());
        }

        var monitor = objects.Named("ServiceMonitor", "smstream").GetProperty("spec");
        var endpoint = monitor.GetProperty("endpoints").EnumerateArray().Single();
        Assert.Equal("http", endpoint.GetProperty("port").GetString());
        Assert.Equal("/metrics", endpoint.GetProperty("path").GetString());
        // The job label is the Service's name label: the alert rules select job="smstream-engine" / "smstream-notifier".
        Assert.Equal("app.kubernetes.io/name", monitor.GetProperty("jobLabel").GetString());
        var selected = monitor.GetProperty("selector").GetProperty("matchExpressions")[0].GetProperty("values").EnumerateArray().Select(v => v.GetString()).ToList();
        foreach (var name in Components)
        {
            Assert.Contains(name, selected);
            Assert.Equal(name, objects.Named("Service", name).GetProperty("metadata").GetProperty("labels").GetProperty("app.kubernetes.io/name").GetString());
            Assert.Contains($"job=\"{name}\"", File.ReadAllText(Repo.PathOf("prometheus", "rules", "smstream.rules.yml")), StringComparison.Ordinal);
        }
    }
}
