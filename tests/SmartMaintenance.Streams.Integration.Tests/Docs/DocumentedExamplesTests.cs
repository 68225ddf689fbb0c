using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Npgsql;
using SmartMaintenance.Streams.Storage;
using SmartMaintenance.Streams.Testing;
using Xunit;

namespace SmartMaintenance.Streams.Integration.Tests.Docs;

/// <summary>
/// The documentation's examples run against what a real engine wrote (<see cref="EngineWrittenData"/>): every SQL
/// query of docs/queries.md returns rows; the rollups, refreshed with the default settings, equal a recompute from the
/// 1-minute aggregates; every header, key and field docs/contracts and docs/alerting.md promise is on the records a
/// plain Kafka client reads. The docs are parsed, not copied, so a doc that drifts from the code fails here.
/// </summary>
[Collection(ServicesCollection.Name)]
public sealed partial class DocumentedExamplesTests(KafkaFixture kafka, PostgresFixture postgres)
{
    private static string Doc(params string[] path) => File.ReadAllText(Path.Combine([RepositoryPaths.Root(), "docs", .. path]));

    [Fact]
    public async Task Every_query_in_queries_md_returns_rows_from_engine_written_data()
    {
        var data = await EngineWrittenData.GetAsync(kafka, postgres);
        await using var conn = new NpgsqlConnection(data.Database);
        await conn.OpenAsync();
        await new RollupRefresher(data.Database, new StorageOptions { ConnectionString = data.Database })
            .RefreshAsync(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow);

        var queries = SqlBlock().Matches(Doc("queries.md")).Select(m => m.Groups[1].Value.Trim()).ToList();
        Assert.True(queries.Count >= 7, $"docs/queries.md has {queries.Count} sql blocks");
        foreach (var sql in queries)
        {
            await using var cmd = new NpgsqlCommand(sql, conn);
            foreach (var p in await ArgumentsAsync(conn, sql, data))
            {
                cmd.Parameters.Add(new NpgsqlParameter { Value = p });
            }
            var rows = 0;
            await using (var reader = await cmd.ExecuteReaderAsync())
            {
                while (await reader.ReadAsync())
                {
                    rows++;
                }
            }
            Assert.True(rows > 0, $"no rows from the documented query:\n{sql}");
        }
    }

    /// <summary>Values for $1, $2 that the engine's own data holds (the docs write them as parameters).</summary>
    private static async Task<object[]> ArgumentsAsync(NpgsqlConnection conn, string sql, EngineWrittenData data)
    {
        if (sql.Contains("$1::text[]", StringComparison.Ordinal))
        {
            return [new[] { "pump-0.s0", "pump-1.s2", "pump-3.s7" }];
        }
        if (sql.Contains("FROM stream_offsets", StringComparison.Ordinal))
        {
            return [data.Group, data.ReadingsTopic];
        }
        if (sql.Contains("FROM alerts", StringComparison.Ordinal))
        {
            return [await EngineWrittenData.ScalarAsync<string>(conn, "SELECT asset_id FROM alerts WHERE status <> 'resolved' LIMIT 1")];
        }
        if (sql.Contains("FROM anomalies", StringComparison.Ordinal))
        {
            return [await EngineWrittenData.ScalarAsync<string>(conn, "SELECT asset_id FROM anomalies ORDER BY ts DESC LIMIT 1")];
        }
        return sql.Contains("$1", StringComparison.Ordinal) ? ["pump-0.s0"] : [];
    }

    [Fact]
    public async Task Rollups_refreshed_with_the_default_settings_equal_a_recompute_from_the_one_minute_aggregates()
    {
        var data = await EngineWrittenData.GetAsync(kafka, postgres);
        await new RollupRefresher(data.Database, new StorageOptions { ConnectionString = data.Database })
            .RefreshAsync(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow);
        await using var conn = new NpgsqlConnection(data.Database);
        await conn.OpenAsync();

        var hourly = await EngineWrittenData.ScalarAsync<long>(conn, "SELECT count(*) FROM window_rollups_hourly");
        Assert.True(hourly >= EngineWrittenData.Sensors * 3, $"{hourly} hourly rollup rows");
        const string Recompute = """
            SELECT sensor_id, date_trunc('hour', window_start, 'UTC') AS bucket, sum(count)::bigint AS count,
                   round(sum(sum)::numeric, 6) AS sum, min(min) AS min, max(max) AS max
            FROM window_aggregates WHERE window_kind = 'tumbling:1m' GROUP BY 1, 2
            """;
        const string Stored = "SELECT sensor_id, bucket, count, round(sum::numeric, 6), min, max FROM window_rollups_hourly";
        Assert.Equal(0L, await EngineWrittenData.ScalarAsync<long>(conn, $"SELECT count(*) FROM (({Recompute}) EXCEPT ({Stored})) d"));
        Assert.Equal(0L, await EngineWrittenData.ScalarAsync<long>(conn, $"SELECT count(*) FROM (({Stored}) EXCEPT ({Recompute})) d"));
        Assert.Equal(
            await EngineWrittenData.ScalarAsync<long>(conn, "SELECT sum(count)::bigint FROM window_aggregates WHERE window_kind = 'tumbling:1m'"),
            await EngineWrittenData.ScalarAsync<long>(conn, "SELECT sum(count)::bigint FROM window_rollups_daily"));
    }

    [Fact]
    public async Task Alert_records_carry_the_documented_key_header_and_schema_fields()
    {
        var data = await EngineWrittenData.GetAsync(kafka, postgres);
        var records = await kafka.ConsumeAllAsync(data.AlertsTopic);
        Assert.NotEmpty(records);
        var schema = JsonDocument.Parse(Doc("contracts", "alert.schema.json")).RootElement;
        // alerting.md: header `alert.event_key` = `alert_id:status:revision`.
        var header = EventKeyHeader().Match(Doc("alerting.md"));
        Assert.True(header.Success, "docs/alerting.md no longer names the event-key header");
        var statuses = new HashSet<string>(StringComparer.Ordinal);
        foreach (var r in records)
        {
            using var doc = JsonDocument.Parse(r.Value);
            var alert = doc.RootElement;
            Assert.Empty(SchemaCheck.Violations(schema, alert));
            var id = alert.GetProperty("alert_id").GetString();
            var status = alert.GetProperty("status").GetString()!;
            statuses.Add(status);
            var revision = alert.GetProperty("revision").GetInt32().ToString(CultureInfo.InvariantCulture);
            Assert.Equal($"{id}:{status}:{revision}", r.Header(header.Groups[1].Value));
            // The schema's description: key = asset_id, or sensor_id when the asset is unknown.
            var asset = alert.TryGetProperty("asset_id", out var a) && a.ValueKind == JsonValueKind.String ? a.GetString() : null;
            Assert.Equal(string.IsNullOrEmpty(asset) ? alert.GetProperty("sensor_id").GetString() : asset, r.KeyText);
        }
        Assert.Contains("open", statuses);
    }

    [Fact]
    public async Task Dead_letters_carry_the_original_record_and_every_header_dlq_md_lists()
    {
        var data = await EngineWrittenData.GetAsync(kafka, postgres);
        var records = await kafka.ConsumeAsync(data.DlqTopic, data.Invalid.Count);
        var dlqDoc = Doc("contracts", "dlq.md");
        // Headers whose meaning starts with "only" are conditional (an envelope element, a record cut to fit).
        var headers = DocHeader().Matches(dlqDoc).Where(m => !m.Groups[2].Value.StartsWith("only", StringComparison.Ordinal)).Select(m => m.Groups[1].Value).ToList();
        var reasons = DocReason().Matches(dlqDoc).Select(m => m.Groups[1].Value).ToHashSet(StringComparer.Ordinal);
        Assert.Contains("dlq.reason", headers);
        Assert.Contains("too_large", reasons);
        foreach (var r in records)
        {
            Assert.True(r.Header("origin") is not null, $"DLQ record without the original headers: reason {r.Header("dlq.reason")} {r.Header("dlq.detail")} {r.ValueText} [{string.Join(",", r.Headers.Select(h => h.Key))}]");
            var origin = int.Parse(r.Header("origin")!, CultureInfo.InvariantCulture);
            var (sent, reason) = data.Invalid[origin];
            Assert.Equal(reason, r.Header("dlq.reason"));
            Assert.Contains(reason, reasons);
            var element = r.Header("dlq.source.index") is not null;
            Assert.Equal(EngineWrittenData.Text(sent.Key), r.KeyText);
            if (element)
            {
                // dlq.md: for a bad element of an envelope, that element's own bytes as they appeared.
                Assert.Contains(r.ValueText, EngineWrittenData.Text(sent.Value), StringComparison.Ordinal);
                Assert.Equal("1", r.Header("dlq.source.index"));
            }
            else
            {
                Assert.Equal(EngineWrittenData.Text(sent.Value), r.ValueText);
            }
            foreach (var h in headers)
            {
                Assert.True(r.Header(h) is { Length: > 0 }, $"DLQ record of origin {origin} lacks {h}");
            }
            Assert.Equal(data.ReadingsTopic, r.Header("dlq.source.topic"));
            Assert.Equal("0", r.Header("dlq.source.partition"));
            Assert.True(long.TryParse(r.Header("dlq.source.offset"), CultureInfo.InvariantCulture, out _));
            Assert.True(DateTimeOffset.TryParse(r.Header("dlq.time"), CultureInfo.InvariantCulture, DateTimeStyles.None, out _));
        }
        Assert.Equal(data.Invalid.Count, records.Select(r => r.Header("origin")).Distinct().Count());
    }

    [GeneratedRegex(@"```sql\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex SqlBlock();

    [GeneratedRegex(@"header `([^`]+)` = `alert_id:status:revision`")]
    private static partial Regex EventKeyHeader();

    [GeneratedRegex(@"^\| `(dlq\.[a-z0-9.]+)` \| ([^|]*)\|", RegexOptions.Multiline)]
    private static partial Regex DocHeader();

    [GeneratedRegex(@"^\| `([a-z_]+)` \|", RegexOptions.Multiline)]
    private static partial Regex DocReason();
}
