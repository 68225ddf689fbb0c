using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
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
            })),
        };
        await Task.Delay(TimeSpan.FromSeconds(10));
        foreach (var (name, p) in runs)
        {
            if (!p.HasExited)
            {
                await p.TerminateAsync(TimeSpan.FromSeconds(45));
            }
            var log = p.Output;
            output.WriteLine($"== {name}: exit {p.ExitCode}, {log.Length} chars of output\n{Truncate(log, 1500)}");
            Assert.True(log.Length > 0, $"{name}: no output at all, so the scan proves nothing");
            foreach (var s in secrets)
            {
                Assert.DoesNotContain(s, log, StringComparison.Ordinal);
            }
            p.Dispose();
        }
    }

    [Fact]
    public void Sql_is_never_built_from_input_every_interpolated_sql_hole_is_a_reviewed_identifier_or_constant()
    {
        var src = Path.Combine(RepoRoot(), "src");
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
        "AggregateStage", "AnomalyStage", "AlertStage", "ReadingStage", "RetractionStage",
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
    };

    private static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "SmartMaintenance.Streams.sln")))
        {
            dir = dir.Parent;
        }
        return dir?.FullName ?? throw new InvalidOperationException("repository root not found above " + AppContext.BaseDirectory);
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    private static string Truncate(string s, int max) => s.Length <= max ? s : s[..max] + "…";

    [GeneratedRegex("\\$+@?(\"\"\"(?<body>.*?)\"\"\"|\"(?<body>(?:[^\"\\\\\\n]|\\\\.)*)\")", RegexOptions.Singleline)]
    private static partial Regex InterpolatedLiteral();

    [GeneratedRegex(@"\b(SELECT|INSERT|UPDATE|DELETE|CREATE|ALTER|DROP|COPY|TRUNCATE|GRANT)\b")]
    private static partial Regex SqlKeyword();

    [GeneratedRegex(@"(?<!\{)\{(?!\{)([^{}:]+?)(?::[^{}]*)?\}")]
    private static partial Regex Hole();
}
