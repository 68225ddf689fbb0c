using System.Diagnostics;
using Npgsql;
using NpgsqlTypes;
using SmartMaintenance.Streams.Testing;
using Xunit;
using Xunit.Abstractions;

namespace SmartMaintenance.Streams.Storage.Tests;

/// <summary>The test service's own promises: COPY FROM STDIN, SSL refused cleanly, a clean session per client, and a
/// data directory (compressed chunks included) that survives a restart.</summary>
[Collection(TimescaleDbFixture.Collection)]
public sealed class TimescaleDbServiceTests(TimescaleDbFixture fx, ITestOutputHelper output)
{
    [Fact]
    public async Task Text_and_binary_COPY_FROM_STDIN_store_every_row()
    {
        var cs = await fx.CreateSchemaAsync(migrated: false);
        await using var conn = new NpgsqlConnection(cs + ";Pooling=false");
        await conn.OpenAsync();
        await using (var create = new NpgsqlCommand("CREATE TABLE copied (id bigint, name text, value float8)", conn))
        {
            await create.ExecuteNonQueryAsync();
        }
        const int rows = 50_000;
        var watch = Stopwatch.StartNew();
        await using (var importer = await conn.BeginBinaryImportAsync("COPY copied (id, name, value) FROM STDIN (FORMAT BINARY)"))
        {
            for (var i = 0; i < rows; i++)
            {
                await importer.StartRowAsync();
                await importer.WriteAsync((long)i, NpgsqlDbType.Bigint);
                await importer.WriteAsync($"ünï-{i}", NpgsqlDbType.Text);
                await importer.WriteAsync(i * 0.5, NpgsqlDbType.Double);
            }
            await importer.CompleteAsync();
        }
        output.WriteLine($"binary COPY: {rows / watch.Elapsed.TotalSeconds:N0} rows/s");
        await using (var writer = await conn.BeginTextImportAsync("COPY copied FROM STDIN"))
        {
            for (var i = rows; i < 2 * rows; i++)
            {
                await writer.WriteAsync($"{i}\tt-{i}\t{i * 0.5}\n");
            }
        }

        Assert.Equal(2L * rows, await TestData.ScalarAsync<long>(cs, "SELECT count(*) FROM copied"));
        Assert.Equal(Enumerable.Range(0, 2 * rows).Sum(i => i * 0.5), await TestData.ScalarAsync<double>(cs, "SELECT sum(value) FROM copied"), 3);
        Assert.Equal("ünï-7", await TestData.ScalarAsync<string>(cs, "SELECT name FROM copied WHERE id = 7"));
    }

    [Fact]
    public async Task An_SSL_request_is_refused_cleanly_and_a_connection_that_requires_SSL_fails_with_a_clear_error()
    {
        var preferred = new NpgsqlConnectionStringBuilder(fx.AdminConnectionString) { SslMode = SslMode.Prefer }.ConnectionString;
        await using (var conn = new NpgsqlConnection(preferred))
        {
            await conn.OpenAsync();
            await using var cmd = new NpgsqlCommand("SELECT 1", conn);
            Assert.Equal(1, await cmd.ExecuteScalarAsync());
        }
        var required = new NpgsqlConnectionStringBuilder(fx.AdminConnectionString) { SslMode = SslMode.Require }.ConnectionString;
        await using var refused = new NpgsqlConnection(required);
        var error = await Assert.ThrowsAnyAsync<NpgsqlException>(() => refused.OpenAsync());
        Assert.Contains("SSL", error.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task A_client_that_leaves_mid_transaction_is_rolled_back_and_the_next_client_gets_a_clean_session()
    {
        var cs = await fx.CreateSchemaAsync(migrated: false);
        await TestData.ExecAsync(cs, "CREATE TABLE kept (id int)");
        NpgsqlConnection.ClearAllPools();
        await using (var first = new NpgsqlConnection(cs + ";Pooling=false"))
        {
            await first.OpenAsync();
            await using var cmd = new NpgsqlCommand(
                "CREATE TEMP TABLE scratch (x int); SET statement_timeout = 1234; BEGIN; INSERT INTO kept VALUES (1)", first);
            await cmd.ExecuteNonQueryAsync();
        }

        await using var next = new NpgsqlConnection(cs + ";Pooling=false");
        await next.OpenAsync();
        await using var check = new NpgsqlCommand(
            "SELECT (SELECT count(*) FROM kept) || ' ' || (to_regclass('pg_temp.scratch') IS NULL) || ' ' || current_setting('statement_timeout') || ' ' || current_schema()", next);
        var schema = new NpgsqlConnectionStringBuilder(cs).SearchPath!.Split(',')[0];
        Assert.Equal($"0 true 0 {schema}", await check.ExecuteScalarAsync());
    }

    [Fact]
    public async Task Compressed_hypertable_rows_survive_a_restart_of_the_service()
    {
        await using var service = new TimescaleDbService(new TimescaleDbServiceOptions
        {
            DataDirectory = Path.Combine(Path.GetTempPath(), $"smstream-tsdb-restart-{Guid.NewGuid():N}"),
        });
        try
        {
            var cs = await service.StartAsync() + ";Pooling=false";
            await TestData.ExecAsync(cs, """
                CREATE TABLE m (ts timestamptz NOT NULL, sensor text, v float8);
                SELECT create_hypertable('m', by_range('ts', INTERVAL '1 day'));
                INSERT INTO m SELECT t, 's-' || (extract(minute FROM t)::int % 3), 1.5 FROM generate_series(now() - INTERVAL '10 days', now() - INTERVAL '8 days', INTERVAL '1 minute') t;
                ALTER TABLE m SET (timescaledb.compress, timescaledb.compress_segmentby = 'sensor');
                SELECT count(compress_chunk(c)) FROM show_chunks('m') c;
                """);
            var before = await TestData.ScalarAsync<long>(cs, "SELECT count(*) FROM m");
            await service.StopAsync();

            cs = await service.StartAsync() + ";Pooling=false";

            Assert.Equal(2881L, before);
            Assert.Equal(before, await TestData.ScalarAsync<long>(cs, "SELECT count(*) FROM m"));
            Assert.True(await TestData.ScalarAsync<long>(cs, "SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_name = 'm' AND is_compressed") >= 2);
        }
        finally
        {
            NpgsqlConnection.ClearAllPools();
            await service.DestroyAsync();
        }
    }
}
