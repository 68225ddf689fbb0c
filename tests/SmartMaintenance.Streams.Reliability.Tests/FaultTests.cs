using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Confluent.Kafka;
using Npgsql;
using SmartMaintenance.Streams.Kafka;
using SmartMaintenance.Streams.Kafka.Embedded;
using SmartMaintenance.Streams.Storage;
using SmartMaintenance.Streams.Testing;
using Xunit;
using Xunit.Abstractions;

namespace SmartMaintenance.Streams.Reliability.Tests;

/// <summary>Database outage, scale out/in, broker errors and graceful shutdown, each against the real <c>smstream run</c>.</summary>
[Collection(ServicesCollection.Name)]
public sealed partial class FaultTests(KafkaFixture kafka, PostgresFixture postgres, ITestOutputHelper output)
{
    /// <summary>Resident memory the engine may reach while the database is down (it pauses; it does not buffer the topic).</summary>
    private const long RssBoundBytes = 768L * 1024 * 1024;

    [Fact]
    public async Task Database_outage_loses_nothing_keeps_memory_bounded_keeps_the_assignment_and_resumes_by_itself()
    {
        var total = Scale.Readings;
        var cluster = OwnCluster();
        try
        {
            var db = await MigratedDatabaseAsync(cluster, "outage");

            using var run = EngineRun.Create(kafka, db);
            var producing = Input.ProduceLiveAsync(kafka, run.Input, total, Scale.ProduceOver);
            using var engine = run.StartEngine();
            await EngineRun.WaitUntilAsync(async () => await run.Ledger.CountAsync() >= Math.Min(2_000, total / 4), Scale.Budget(60), engine);
            var rssBefore = engine.PeakRssBytes;
            var assignedBefore = AssignedLines(engine.Output);

            NpgsqlConnection.ClearAllPools();
            var down = Stopwatch.StartNew();
            await cluster.StopAsync();
            await Task.Delay(Scale.Outage);
            Assert.False(engine.HasExited, "the engine stopped during the outage:\n" + engine.Tail());
            await cluster.StartAsync();
            output.WriteLine($"PostgreSQL down for {down.Elapsed.TotalSeconds:F1} s");

            // Resumes by itself: no restart, no operator.
            var resumed = Stopwatch.StartNew();
            var atRestart = await run.Ledger.CountAsync();
            await EngineRun.WaitUntilAsync(async () => await run.Ledger.CountAsync() > atRestart, Scale.Budget(60), engine);
            output.WriteLine($"first commit {resumed.Elapsed.TotalSeconds:F1} s after PostgreSQL was back");
            await EngineRun.WaitUntilAsync(async () => await run.Ledger.CountAsync() >= total, Scale.Budget(120), engine);
            output.WriteLine($"all {total} stored {resumed.Elapsed.TotalSeconds:F1} s after PostgreSQL was back");
            await producing;
            // The log up to here: the graceful stop below revokes the partitions on purpose.
            var log = engine.Output;
            await engine.TerminateAsync(TimeSpan.FromSeconds(60));
            Assert.Equal(0, engine.ExitCode);

            await run.Ledger.AssertExactlyAsync(total);
            output.WriteLine(string.Join('\n', log.Split('\n').Where(l => l.Contains("Partitions", StringComparison.Ordinal) || l.Contains("pausing", StringComparison.Ordinal) || l.Contains("resuming", StringComparison.Ordinal)).Take(20)));
            output.WriteLine($"peak RSS {engine.PeakRssBytes / (1024 * 1024)} MiB (before the outage {rssBefore / (1024 * 1024)} MiB), bound {RssBoundBytes / (1024 * 1024)} MiB");
            Assert.InRange(engine.PeakRssBytes, 1, RssBoundBytes);
            // Stayed in its group: one assignment, nothing revoked or lost while the database was away.
            Assert.DoesNotContain("Partitions revoked", log, StringComparison.Ordinal);
            Assert.DoesNotContain("Partitions lost", log, StringComparison.Ordinal);
            Assert.Equal(assignedBefore, AssignedLines(log));
            Assert.Contains("pausing", log, StringComparison.Ordinal);
        }
        finally
        {
            NpgsqlConnection.ClearAllPools();
            await cluster.DestroyAsync();
        }
    }

    [Fact]
    public async Task Scaling_out_to_two_engines_and_back_to_one_mid_stream_stores_the_input_exactly_once()
    {
        var total = Scale.Readings;
        using var run = EngineRun.Create(kafka, await postgres.CreateDatabaseAsync(), partitions: 12);
        // Two writer connections per instance (the default is one): partitions move between instances while each
        // instance commits them over two connections, the case whose offset-row fencing this test pins too.
        run.Environment["SMSTREAM_STORAGE__WRITERCONNECTIONS"] = "2";
        var producing = Input.ProduceLiveAsync(kafka, run.Input, total, Scale.ProduceOver);
        using var first = run.StartEngine();
        await EngineRun.WaitUntilAsync(async () => await run.Ledger.CountAsync() >= total / 5, Scale.Budget(60), first);

        using var second = run.StartEngine();
        // Out: the second instance takes partitions over from the first.
        await EngineRun.WaitUntilAsync(() => Task.FromResult(AssignedLines(second.Output) >= 1 && first.Output.Contains("Partitions revoked", StringComparison.Ordinal)),
            Scale.Budget(60), first, second);
        var atScaleOut = await run.Ledger.CountAsync();
        await Task.Delay(TimeSpan.FromSeconds(2));

        // In: the first leaves gracefully; the second takes everything.
        var stop = await first.TerminateAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(0, first.ExitCode);
        var atScaleIn = await run.Ledger.CountAsync();
        await EngineRun.WaitUntilAsync(async () => await run.Ledger.CountAsync() >= total, Scale.Budget(120), second);
        await producing;
        await Task.Delay(5000);
        await second.TerminateAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(0, second.ExitCode);
        output.WriteLine($"scaled out at {atScaleOut} readings, in at {atScaleIn} (first stopped in {stop.TotalSeconds:F1} s), total {total}");

        await run.Ledger.AssertExactlyAsync(total);
        Assert.Equal(total, await run.Ledger.CommittedMessagesAsync(run.Group));
        await run.Ledger.AssertAggregatesRecomputeAsync();
        Assert.True(AssignedLines(second.Output) >= 2, "the second engine never took the first one's partitions over:\n" + second.Tail());
    }

    [Fact]
    public async Task Injected_produce_fetch_and_commit_errors_are_retried_and_the_result_is_exact()
    {
        var total = Math.Max(5_000, Scale.Readings / 2);
        // Error injection applies to the whole mock cluster: this test gets a broker of its own.
        await using var broker = await EmbeddedKafkaBroker.StartAsync(new EmbeddedBrokerOptions { BasePort = 0, Brokers = 3, InitialRebalanceDelayMs = 0 });
        var options = new KafkaOptions { BootstrapServers = broker.BootstrapServers, ClientId = "rel-broker-errors" };
        var input = "readings-" + Guid.NewGuid().ToString("N")[..8];
        var dlq = input + ".dlq";
        var alerts = input + ".alerts";
        broker.CreateTopic(input, 6);
        broker.CreateTopic(dlq, 2);
        broker.CreateTopic(alerts, 2);
        var db = await postgres.CreateDatabaseAsync();
        using var run = new EngineRun(broker.BootstrapServers, db, input, dlq, alerts);

        // Valid readings plus one invalid message per 100, so DLQ produce requests are exercised too.
        const int invalidEvery = 100;
        var start = Input.StartFor(total);
        using (var producer = new ProducerBuilder<byte[], byte[]>(options.BuildProducerConfig()).Build())
        {
            for (var i = 0; i < total; i++)
            {
                var m = Input.Reading(start, i);
                producer.Produce(input, new Message<byte[], byte[]> { Key = m.Key!, Value = m.Value });
                if (i % invalidEvery == 0)
                {
                    producer.Produce(input, new Message<byte[], byte[]> { Key = m.Key!, Value = System.Text.Encoding.UTF8.GetBytes("{\"sensor_id\":\"bad\",\"value\":\"NaN\"}") });
                }
            }
            producer.Flush(TimeSpan.FromSeconds(60));
        }
        var invalid = (total + invalidEvery - 1) / invalidEvery;

        using var engine = run.StartEngine();
        await EngineRun.WaitUntilAsync(async () => await run.Ledger.CountAsync() > 0, Scale.Budget(60), engine);
        // Bursts of retriable errors on Produce (0), Fetch (1) and OffsetCommit (8) while the engine works.
        var injected = 0;
        for (var round = 0; round < 10 && await run.Ledger.CountAsync() < total; round++)
        {
            broker.PushRequestErrors(0, ErrorCode.NotLeaderForPartition, ErrorCode.RequestTimedOut, ErrorCode.LeaderNotAvailable);
            broker.PushRequestErrors(1, ErrorCode.NotLeaderForPartition, ErrorCode.LeaderNotAvailable, ErrorCode.RequestTimedOut);
            broker.PushRequestErrors(8, ErrorCode.RebalanceInProgress, ErrorCode.GroupCoordinatorNotAvailable, ErrorCode.NotCoordinatorForGroup);
            injected += 9;
            await Task.Delay(300);
        }
        await EngineRun.WaitUntilAsync(async () => await run.Ledger.CountAsync() >= total, Scale.Budget(120), engine);
        await Task.Delay(3000);
        await engine.TerminateAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(0, engine.ExitCode);
        foreach (var key in new short[] { 0, 1, 8 })
        {
            broker.ClearRequestErrors(key);
        }
        output.WriteLine($"{injected} request errors injected; {total} readings, {invalid} invalid");

        await run.Ledger.AssertExactlyAsync(total);
        Assert.Equal(total + invalid, await run.Ledger.CommittedMessagesAsync(run.Group));
        Assert.Contains("Kafka error", engine.Output, StringComparison.Ordinal);
        // Every invalid message in the DLQ: none lost; a duplicate only where a partition was handed back and replayed.
        var (records, dlqHighWatermarks) = await ConsumeAllAsync(options, dlq, 2);
        var sources = records.Select(r => r.Source).ToList();
        var distinct = sources.Distinct(StringComparer.Ordinal).Count();
        var handedBack = engine.Output.Split('\n').Where(l => l.Contains("Partitions lost", StringComparison.Ordinal) || l.Contains("Partitions revoked", StringComparison.Ordinal)).ToList();
        output.WriteLine($"DLQ: {records.Count} records (high watermarks {dlqHighWatermarks}), {distinct} distinct source offsets; partitions handed back {handedBack.Count} times");
        if (distinct != invalid)
        {
            // Which ones: a record missing from the topic (high watermarks short) is a lost produce, not a slow read.
            output.WriteLine("Kafka errors the engine logged:\n" + string.Join('\n', engine.Output.Split('\n').Where(l => l.Contains("Kafka error", StringComparison.Ordinal)).Take(40)));
        }
        output.WriteLine(string.Join('\n', engine.Output.Split('\n').Where(l => l.Contains("Partitions", StringComparison.Ordinal)).Take(20)));
        Assert.Equal(invalid, distinct);
        Assert.All(records, r => Assert.Equal("non_finite_value", r.Reason));
        if (handedBack.Count <= 1)
        {
            Assert.Equal(invalid, records.Count);
        }
    }

    /// <summary>Every record of <paramref name="topic"/>: read up to the high watermarks queried first (however slow a
    /// partition's first fetch is on a loaded machine), then until nothing new arrives for a second.</summary>
    private static Task<(List<(string Source, string Reason)> Records, long HighWatermarks)> ConsumeAllAsync(KafkaOptions options, string topic, int partitions) => Task.Run(() =>
    {
        using var consumer = new ConsumerBuilder<byte[], byte[]>(options.BuildConsumerConfig("check-" + Guid.NewGuid().ToString("N")[..6])).Build();
        var next = new long[partitions];
        var targets = new long[partitions];
        long highs = 0;
        for (var p = 0; p < partitions; p++)
        {
            var w = consumer.QueryWatermarkOffsets(new TopicPartition(topic, p), TimeSpan.FromSeconds(30));
            targets[p] = w.High.Value;
            next[p] = w.Low.Value;
            highs += w.High.Value;
        }
        consumer.Assign(Enumerable.Range(0, partitions).Select(p => new TopicPartitionOffset(topic, p, Offset.Beginning)));
        var result = new List<(string, string)>();
        var deadline = Stopwatch.StartNew();
        var idle = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(60))
        {
            if (consumer.Consume(TimeSpan.FromMilliseconds(200)) is { } cr)
            {
                idle.Restart();
                next[cr.Partition.Value] = Math.Max(next[cr.Partition.Value], cr.Offset.Value + 1);
                string H(string name) => cr.Message.Headers.TryGetLastBytes(name, out var b) ? System.Text.Encoding.UTF8.GetString(b) : "";
                result.Add((H("dlq.source.partition") + "/" + H("dlq.source.offset"), H("dlq.reason")));
            }
            else if (idle.Elapsed >= TimeSpan.FromSeconds(1) && next.Zip(targets).All(t => t.First >= t.Second))
            {
                break;
            }
        }
        consumer.Close();
        return (result, highs);
    });

    [Fact]
    public async Task Sigterm_flushes_commits_and_leaves_the_group_within_the_deadline()
    {
        var total = Scale.Readings;
        using var run = EngineRun.Create(kafka, await postgres.CreateDatabaseAsync());
        var producing = Input.ProduceLiveAsync(kafka, run.Input, total, Scale.ProduceOver);
        using var engine = run.StartEngine();
        await EngineRun.WaitUntilAsync(async () => await run.Ledger.CountAsync() >= total / 4, Scale.Budget(60), engine);

        // Mid-stream, with a batch open and more input arriving.
        var took = await engine.TerminateAsync(TimeSpan.FromSeconds(45));
        Assert.Equal(0, engine.ExitCode);
        output.WriteLine($"SIGTERM to exit: {took.TotalMilliseconds:F0} ms");
        Assert.True(took < TimeSpan.FromSeconds(10), $"graceful stop took {took}");

        // Flushed and committed: everything it consumed is in the database, with its offsets.
        var stopped = StoppedLine().Match(engine.Output);
        Assert.True(stopped.Success, engine.Tail());
        var consumed = long.Parse(stopped.Groups[1].Value, CultureInfo.InvariantCulture);
        var stored = long.Parse(stopped.Groups[2].Value, CultureInfo.InvariantCulture);
        Assert.Equal(consumed, await run.Ledger.CommittedMessagesAsync(run.Group));
        Assert.Equal(stored, await run.Ledger.CountAsync());

        // Left the group: a successor is assigned without waiting out the session timeout of a silent member.
        var successorStarted = Stopwatch.StartNew();
        using var successor = run.StartEngine();
        await EngineRun.WaitUntilAsync(() => Task.FromResult(AssignedLines(successor.Output) >= 1), TimeSpan.FromSeconds(30), successor);
        output.WriteLine($"successor assigned {successorStarted.Elapsed.TotalMilliseconds:F0} ms after its start");
        await EngineRun.WaitUntilAsync(async () => await run.Ledger.CountAsync() >= total, Scale.Budget(120), successor);
        await producing;
        await successor.TerminateAsync(TimeSpan.FromSeconds(60));
        await run.Ledger.AssertExactlyAsync(total);
    }

    /// <summary>A cluster of the test's own (stopping the shared fixture would break the other tests); started by
    /// <see cref="MigratedDatabaseAsync"/>, destroyed by the test.</summary>
    private static PostgresCluster OwnCluster() => new(new PostgresClusterOptions
    {
        DataDirectory = Path.Combine(Path.GetTempPath(), $"smstream-rel-pg-{Guid.NewGuid():N}"[..36]),
        Port = 0,
    });

    private static async Task<string> MigratedDatabaseAsync(PostgresCluster cluster, string name)
    {
        await cluster.StartAsync();
        await using (var admin = new NpgsqlConnection(cluster.ConnectionString + ";Pooling=false"))
        {
            await admin.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE {name}", admin);
            await create.ExecuteNonQueryAsync();
        }
        var db = cluster.ConnectionStringFor(name);
        await SchemaMigrator.MigrateAsync(db + ";Pooling=false", new StorageOptions { UseTimescaleDb = false });
        return db;
    }

    [Fact]
    public async Task Sigterm_during_a_database_outage_waits_for_the_writer_and_exits_zero()
    {
        // Regression: the command line library abandoned a graceful stop after 2 s and the engine exited 130. Here the
        // stop must take longer: the writer retries the open batch against a stopped database until Engine:ShutdownTimeout.
        var cluster = OwnCluster();
        try
        {
            var db = await MigratedDatabaseAsync(cluster, "sigterm");
            using var run = EngineRun.Create(kafka, db, partitions: 2);
            run.Environment["SMSTREAM_ENGINE__SHUTDOWNTIMEOUT"] = "00:00:06";
            var readings = Input.Readings(400).ToList();
            await kafka.ProduceAsync(run.Input, readings.Take(200));
            using var engine = run.StartEngine();
            await EngineRun.WaitUntilAsync(async () => await run.Ledger.CountAsync() >= 200, Scale.Budget(60), engine);

            NpgsqlConnection.ClearAllPools();
            await cluster.StopAsync();
            await kafka.ProduceAsync(run.Input, readings.Skip(200));
            await EngineRun.WaitUntilAsync(() => Task.FromResult(engine.Output.Contains("failed transiently", StringComparison.Ordinal)), Scale.Budget(60), engine);
            var took = await engine.TerminateAsync(TimeSpan.FromSeconds(60));
            output.WriteLine($"SIGTERM to exit during a database outage: {took.TotalMilliseconds:F0} ms (Engine:ShutdownTimeout 6 s)");
            Assert.True(took > TimeSpan.FromSeconds(3), $"the stop took {took}: the writer did not wait for the database, so this pins nothing");
            Assert.Equal(0, engine.ExitCode);
        }
        finally
        {
            NpgsqlConnection.ClearAllPools();
            await cluster.DestroyAsync();
        }
    }

    [Fact]
    public async Task Sigterm_while_the_database_is_unreachable_at_assignment_stops_within_the_shutdown_timeout()
    {
        // Regression: the assignment callback retried loading offsets forever on the consume thread, so SIGTERM never completed.
        int closedPort;
        using (var l = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0))
        {
            l.Start();
            closedPort = ((System.Net.IPEndPoint)l.LocalEndpoint).Port;
        }
        using var run = EngineRun.Create(kafka, $"Host=127.0.0.1;Port={closedPort};Username=postgres;Database=nowhere;Timeout=2", partitions: 2);
        await kafka.ProduceAsync(run.Input, Input.Readings(100));
        run.Environment["SMSTREAM_ENGINE__SHUTDOWNTIMEOUT"] = "00:00:05";
        using var engine = run.StartEngine();
        // The retrying sink logs its attempts ("failed transiently"), the engine its own ("database unavailable").
        await EngineRun.WaitUntilAsync(() => Task.FromResult(engine.Output.Contains("failed transiently", StringComparison.Ordinal)
                                                             || engine.Output.Contains("database unavailable while", StringComparison.Ordinal)),
            TimeSpan.FromSeconds(60), engine);
        var took = await engine.TerminateAsync(TimeSpan.FromSeconds(40));
        output.WriteLine($"SIGTERM to exit with the database unreachable: {took.TotalMilliseconds:F0} ms (Engine:ShutdownTimeout 5 s)");
        Assert.Equal(0, engine.ExitCode);
        Assert.True(took < TimeSpan.FromSeconds(25), $"stop took {took}");
    }

    private static int AssignedLines(string log) => Regex.Matches(log, "Partitions assigned").Count;

    [GeneratedRegex(@"Engine stopped: (\d+) messages, (\d+) readings stored")]
    private static partial Regex StoppedLine();
}
