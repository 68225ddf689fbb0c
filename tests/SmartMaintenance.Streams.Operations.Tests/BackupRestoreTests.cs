using System.Diagnostics;
using Npgsql;
using SmartMaintenance.Streams.Storage;
using SmartMaintenance.Streams.Testing;
using Xunit;

namespace SmartMaintenance.Streams.Operations.Tests;

/// <summary>docs/backup-restore.md: a pg_dump restored into a fresh database resumes at the dump's stored offsets.</summary>
[Collection(ServicesCollection.Name)]
public sealed class BackupRestoreTests(KafkaFixture kafka, PostgresFixture postgres) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("smstream-backup-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private const string Duplicates = "SELECT count(*) FROM (SELECT 1 FROM readings GROUP BY kafka_partition, kafka_offset, kafka_index HAVING count(*) > 1) d";

    [Fact]
    public async Task A_restored_dump_resumes_exactly_at_its_stored_offsets_and_stores_every_later_reading_once()
    {
        var topics = TestTopics.Create(kafka);
        var original = await postgres.CreateDatabaseAsync();
        const int before = 600;
        const int after = 400;
        await kafka.ProduceAsync(topics.Input, Enumerable.Range(0, before).Select(i => Readings.Valid(i % 10, i)));
        await using (var engine = new EngineHost(kafka, topics, original))
        {
            await engine.WaitForOutcomes(before, "first part stored");
        }

        var dump = Path.Combine(_dir, "smstream.dump");
        await Tool("pg_dump", "--format=custom", "--file=" + dump, "--dbname=" + Url(original));

        // The original database moves on past the dump, as production would until the failure.
        await kafka.ProduceAsync(topics.Input, Enumerable.Range(before, after).Select(i => Readings.Valid(i % 10, i)));
        await using (var engine = new EngineHost(kafka, topics, original))
        {
            await engine.WaitForOutcomes(after, "second part stored in the original");
        }
        Assert.Equal(before + after, await Db.Scalar<long>(original, "SELECT count(*) FROM readings"));

        // Restore into a fresh, empty database: rows and stored offsets are those of the dump.
        var restored = await postgres.CreateDatabaseAsync(migrated: false);
        await Tool("pg_restore", "--no-owner", "--exit-on-error", "--dbname=" + Url(restored), dump);
        Assert.Equal(before, await Db.Scalar<long>(restored, "SELECT count(*) FROM readings"));
        Assert.Equal(before, await Db.Scalar<long>(restored, $"SELECT sum(next_offset) FROM stream_offsets WHERE consumer_group = '{topics.Group}'"));

        // The engine seeks to the restored offsets (not Kafka's committed ones, which are past them) and re-reads the rest.
        await using (var engine = new EngineHost(kafka, topics, restored))
        {
            await engine.WaitForOutcomes(after, "readings after the dump re-read");
            Assert.Equal(after, engine.Engine.Counters.Stored);
        }
        Assert.Equal(before + after, await Db.Scalar<long>(restored, "SELECT count(*) FROM readings"));
        Assert.Equal(0L, await Db.Scalar<long>(restored, Duplicates));
        Assert.Equal(Enumerable.Range(0, before + after).Sum(i => (long)i), await Db.Scalar<long>(restored, "SELECT sum(seq) FROM readings"));
        Assert.Equal(before + after, await Db.Scalar<long>(restored, $"SELECT sum(next_offset) FROM stream_offsets WHERE consumer_group = '{topics.Group}'"));
    }

    private static string Url(string connectionString)
    {
        var b = new NpgsqlConnectionStringBuilder(connectionString);
        return $"postgresql://{b.Username}@{b.Host}:{b.Port}/{b.Database}";
    }

    private static async Task Tool(string name, params string[] args)
    {
        var bin = PostgresCluster.FindBinDirectory() ?? throw new InvalidOperationException("PostgreSQL binaries not found: " + PostgresNotInstalledException.InstallCommand);
        var psi = new ProcessStartInfo(Path.Combine(bin, name)) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await p.WaitForExitAsync(timeout.Token);
        Assert.True(p.ExitCode == 0, $"{name} exited {p.ExitCode}: {await stderr}{await stdout}");
    }
}
