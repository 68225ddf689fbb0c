using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using SmartMaintenance.Streams.Observability;
using SmartMaintenance.Streams.Testing;
using Xunit;
using Xunit.Abstractions;

namespace SmartMaintenance.Streams.Reliability.Tests;

[Collection(ServicesCollection.Name)]
public sealed partial class SecurityTests(KafkaFixture kafka, PostgresFixture postgres, ITestOutputHelper output)
{
    private static string Secret(string what) => $"{what}-{Guid.NewGuid():N}";

    [Fact]
    public async Task Secrets_given_to_run_and_notify_never_appear_in_their_output()
    {
        var dbPassword = Secret("dbpw");
        var saslPassword = Secret("saslpw");
        var webhookSecret = Secret("hmac");
        var urlToken = Secret("urltoken");
        var keyPassword = Secret("keypw");
        var secrets = new[] { dbPassword, saslPassword, webhookSecret, urlToken, keyPassword };
        var db = await postgres.CreateDatabaseAsync();
        // The throwaway cluster trusts loopback, so the password is carried everywhere but never needed.
        var dbWithPassword = db + ";Password=" + dbPassword;
        var closedPort = FreePort();
        var unreachableDb = $"Host=127.0.0.1;Port={closedPort};Username=postgres;Password={dbPassword};Database=nowhere;Timeout=2";
        var input = kafka.CreateUniqueTopic("sec-readings", 2);
        await kafka.ProduceAsync(input, Input.Readings(200));
        // One alert, so the notifier with the unreachable delivery log has to use it.
        var alertTopic = kafka.CreateUniqueTopic("sec-alerts", 1);
        await kafka.ProduceAsync(alertTopic, TestMessage.Utf8("asset-1", NotifierCrashTests.AlertJson(1, DateTimeOffset.UtcNow)));

        var runs = new List<(string Name, SmstreamProcess Process)>
        {
            // 1. SASL against a broker that does not speak it: Kafka errors are logged, the password must not be.
            ("run, SASL PLAIN + TLS key password", SmstreamProcess.Start(["run", "--bootstrap", kafka.BootstrapServers, "--database", dbWithPassword], new Dictionary<string, string>
            {
                ["SMSTREAM_TOPICS__READINGS"] = input,
                ["SMSTREAM_HTTP__LISTEN"] = "127.0.0.1:0",
                ["SMSTREAM_KAFKA__SECURITYPROTOCOL"] = "SaslPlaintext",
                ["SMSTREAM_KAFKA__SASLMECHANISM"] = "Plain",
                ["SMSTREAM_KAFKA__SASLUSERNAME"] = "smstream",
                ["SMSTREAM_KAFKA__SASLPASSWORD"] = saslPassword,
                ["SMSTREAM_KAFKA__SSLKEYPASSWORD"] = keyPassword,
            })),
            // 2. A database that refuses connections: storage errors are logged with the connection string's password in it.
            ("run, unreachable database", SmstreamProcess.Start(["run", "--bootstrap", kafka.BootstrapServers], new Dictionary<string, string>
            {
                ["SMSTREAM_DATABASE"] = unreachableDb,
                ["SMSTREAM_ENGINE__SHUTDOWNTIMEOUT"] = "00:00:05",
                ["SMSTREAM_HTTP__LISTEN"] = "127.0.0.1:0",
                ["SMSTREAM_TOPICS__READINGS"] = input,
                ["SMSTREAM_ENGINE__CONSUMERGROUP"] = "sec-" + Guid.NewGuid().ToString("N")[..6],
            })),
            // 3. The notifier: SASL properties, delivery-log password, webhook secret and a credential-bearing URL.
            ("notify, SASL + webhook secrets", SmstreamProcess.Start(["notify", "--bootstrap", kafka.BootstrapServers, "--database", dbWithPassword], new Dictionary<string, string>
            {
                ["SMSTREAM_HTTP__LISTEN"] = "127.0.0.1:0",
                ["SMSTREAM_NOTIFIER__KAFKA__security.protocol"] = "SASL_PLAINTEXT",
                ["SMSTREAM_NOTIFIER__KAFKA__sasl.mechanism"] = "PLAIN",
                ["SMSTREAM_NOTIFIER__KAFKA__sasl.username"] = "notifier",
                ["SMSTREAM_NOTIFIER__KAFKA__sasl.password"] = saslPassword,
                ["SMSTREAM_NOTIFIER__CHANNELS__hook__TYPE"] = "webhook",
                ["SMSTREAM_NOTIFIER__CHANNELS__hook__URL"] = $"http://127.0.0.1:{closedPort}/hooks/{urlToken}",
                ["SMSTREAM_NOTIFIER__CHANNELS__hook__SECRET"] = webhookSecret,
                ["SMSTREAM_NOTIFIER__ROUTES__0__CHANNELS__0"] = "hook",
            })),
            // 4. The notifier with an unreachable delivery-log database.
            ("notify, unreachable database", SmstreamProcess.Start(["notify", "--bootstrap", kafka.BootstrapServers, "--database", unreachableDb], new Dictionary<string, string>
            {
                ["SMSTREAM_HTTP__LISTEN"] = "127.0.0.1:0",
                ["SMSTREAM_NOTIFIER__CHANNELS__out__TYPE"] = "console",
                ["SMSTREAM_NOTIFIER__ROUTES__0__CHANNELS__0"] = "out",
                ["SMSTREAM_NOTIFIER__TOPIC"] = alertTopic,
            })),
        };
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(10));
            foreach (var (name, p) in runs)
            {
                if (!p.HasExited)
                {
                    await p.TerminateAsync(TimeSpan.FromSeconds(60));
                }
                var log = p.Output;
                output.WriteLine($"== {name}: exit {p.ExitCode}, {log.Length} chars of output\n{Truncate(log, 1500)}");
                Assert.True(log.Length > 0, $"{name}: no output at all, so the scan proves nothing");
                Assert.DoesNotContain("Invalid setting", log, StringComparison.Ordinal);
                foreach (var s in secrets)
                {
                    Assert.DoesNotContain(s, log, StringComparison.Ordinal);
                }
            }
        }
        finally
        {
            foreach (var (_, p) in runs)
            {
                p.Dispose();
            }
        }
    }

    [Fact]
    public void Http_endpoints_default_to_loopback()
    {
        Assert.Equal(HttpOptions.EngineDefault, new HttpOptions().Listen);
        Assert.True(IPAddress.IsLoopback(HttpOptions.ParseListen(HttpOptions.EngineDefault, "Http:Listen").Address));
        Assert.True(IPAddress.IsLoopback(HttpOptions.ParseListen(HttpOptions.NotifierDefault, "Http:Listen").Address));
    }

    [Theory]
    [InlineData("run")]
    [InlineData("notify")]
    public async Task Running_processes_listen_on_loopback_only(string command)
    {
        // Host from the default (loopback); port 0 so parallel runs on this machine do not collide on 9464/9465.
        using var p = SmstreamProcess.Start([command, "--bootstrap", kafka.BootstrapServers, "--database", await postgres.CreateDatabaseAsync()],
            new Dictionary<string, string>
            {
                ["SMSTREAM_HTTP__LISTEN"] = "127.0.0.1:0",
                // The notifier refuses to start without a channel.
                ["SMSTREAM_NOTIFIER__CHANNELS__out__TYPE"] = "console",
                ["SMSTREAM_NOTIFIER__ROUTES__0__CHANNELS__0"] = "out",
            });
        var listeners = new List<string>();
        for (var i = 0; i < 150 && listeners.Count == 0; i++)
        {
            await Task.Delay(200);
            listeners = ListeningAddressesOf(p.Id);
        }
        Assert.False(p.HasExited, $"{command} exited early:\n{p.Tail()}");
        await p.TerminateAsync(TimeSpan.FromSeconds(60));
        output.WriteLine($"{command} listens on {string.Join(", ", listeners)}");
        Assert.NotEmpty(listeners);
        Assert.All(listeners, a => Assert.True(IPAddress.IsLoopback(IPEndPoint.Parse(a).Address), $"{command} listens on {a}"));
    }

    [Fact]
    public void Sql_is_never_built_from_input_every_interpolated_sql_hole_is_a_reviewed_identifier_or_constant()
    {
        var src = Path.Combine(RepositoryPaths.Root(), "src");
        var found = new List<string>();
        foreach (var file in Directory.EnumerateFiles(src, "*.cs", SearchOption.AllDirectories))
        {
            var text = File.ReadAllText(file);
            foreach (Match literal in InterpolatedLiteral().Matches(text))
            {
                var body = literal.Groups["body"].Value;
                if (!SqlKeyword().IsMatch(body))
                {
                    continue;
                }
                foreach (Match hole in Hole().Matches(body))
                {
                    var expr = hole.Groups[1].Value.Trim();
                    if (!ReviewedHoles.Contains(expr))
                    {
                        var line = text[..literal.Index].Count(c => c == '\n') + 1;
                        found.Add($"{Path.GetRelativePath(src, file)}:{line}: {{{expr}}}");
                    }
                }
            }
        }
        Assert.True(found.Count == 0,
            "SQL text interpolates expressions not reviewed as code-owned identifiers/constants (pass values as parameters or COPY; " +
            "if it is an identifier from code, review it and list it in docs/security.md and ReviewedHoles):\n" + string.Join('\n', found));
    }

    /// <summary>Interpolation holes in SQL text, each reviewed in docs/security.md: schema identifiers and constants from code, never input.</summary>
    private static readonly HashSet<string> ReviewedHoles = new(StringComparer.Ordinal)
    {
        // PostgresSink staging tables (const names)
        "AggregateStage", "AnomalyStage", "AlertStage", "ReadingStage", "RetractionStage", "StateStage",
        // Schema constant: the detector state table (Schema.cs migration 6, PostgresSink's state upsert and load)
        "Schema.DetectorStateTable", "DetectorStateTable",
        // Schema / PartitionMaintenance: table and column names from Schema's constant lists, partition names it generates,
        // bounds rendered by Literal()/Interval() from DateTimeOffset/TimeSpan values
        "table", "column", "name", "p.Name", "fromLit", "toLit", "Literal(table)", "Literal(column)", "Interval(o.ChunkInterval)",
        "Interval(o.CompressAfter)", "Interval(o.Retention)", "Literal(HourlyRollup)", "Literal(DailyRollup)", "HourlyRollup", "DailyRollup",
        "RollupColumns", "MaintenanceLockKey", "MigrationLockKey",
        // ModelRegistry: the training table name from configuration, quoted as an identifier
        "Quote(table)",
        // Private SQL template builders (Schema.ContinuousRollup, RollupRefresher.NativeRollupSql, Schema.Partitioned) whose
        // parameters are only ever passed string literals and Schema constants at their call sites
        "Schema.AggregatesTable", "target", "source", "unit", "time", "sumSquares", "filter", "view", "bucket",
        "Schema.PooledStdDev(\"sq\", \"s\", \"n\")", "PooledStdDev(sumSquares, \"sum(sum)\", \"sum(count)\")",
        "Partitioned(\"ts\")", "Partitioned(\"window_start\")",
        // Operations ReplayLedger: one of two constant ON CONFLICT clauses; DbCommand bench: a database name made from a Guid
        "conflict", "benchDatabase",
        // Schema constants of the operator API's tables (Schema.OperatorApi.cs, migration 7) and the API's stores; the stores'
        // const column lists and join
        "ApiKeysTable", "AuditTable", "AlertAcksTable", "AlertRevisionsTable", "SilencesTable", "SensorRegistryTable", "InstancesTable",
        "Schema.ApiKeysTable", "Schema.AuditTable", "Schema.AlertAcksTable", "Schema.AlertRevisionsTable", "Schema.SilencesTable",
        "Schema.SensorRegistryTable", "Schema.InstancesTable", "Columns", "AckJoin", "Known",
        // Schema constant: the RUL estimates table (migration 8)
        "RulEstimatesTable", "Literal(RulEstimatesTable)",
    };

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    /// <summary>Local endpoints of the LISTEN sockets process <paramref name="pid"/> owns: its socket inodes matched in /proc/net/tcp and tcp6.</summary>
    private static List<string> ListeningAddressesOf(int pid)
    {
        var inodes = new HashSet<string>(StringComparer.Ordinal);
        try
        {
            foreach (var fd in Directory.EnumerateFileSystemEntries($"/proc/{pid}/fd"))
            {
                var target = new FileInfo(fd).LinkTarget;
                if (target is not null && target.StartsWith("socket:[", StringComparison.Ordinal))
                {
                    inodes.Add(target[8..^1]);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return [];
        }
        var result = new List<string>();
        foreach (var (file, v6) in new[] { ("/proc/net/tcp", false), ("/proc/net/tcp6", true) })
        {
            foreach (var line in File.ReadLines(file).Skip(1))
            {
                var cols = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (cols[3] != "0A" || !inodes.Contains(cols[9]))
                {
                    continue;
                }
                var local = cols[1].Split(':');
                var raw = Convert.FromHexString(local[0]);
                // /proc prints each 32-bit word in host (little-endian) order.
                for (var i = 0; i < raw.Length; i += 4)
                {
                    Array.Reverse(raw, i, 4);
                }
                var address = new IPAddress(raw);
                var port = int.Parse(local[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                result.Add(new IPEndPoint(v6 && address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address, port).ToString());
            }
        }
        return result;
    }

    private static string Truncate(string s, int max) => s.Length <= max ? s : s[..max] + "…";

    [GeneratedRegex("\\$+@?(\"\"\"(?<body>.*?)\"\"\"|\"(?<body>(?:[^\"\\\\\\n]|\\\\.)*)\")", RegexOptions.Singleline)]
    private static partial Regex InterpolatedLiteral();

    [GeneratedRegex(@"\b(SELECT|INSERT|UPDATE|DELETE|CREATE|ALTER|DROP|COPY|TRUNCATE|GRANT)\b")]
    private static partial Regex SqlKeyword();

    [GeneratedRegex(@"(?<!\{)\{(?!\{)([^{}:]+?)(?::[^{}]*)?\}")]
    private static partial Regex Hole();
}
