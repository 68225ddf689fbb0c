using System.Text.Json;
using Npgsql;
using NpgsqlTypes;
using SmartMaintenance.Streams.Contracts;
using Xunit;

namespace SmartMaintenance.Streams.Api.Tests;

/// <summary>Alerts through the API: acknowledge and resolve are recorded (with the audit log) and published on the
/// alerts topic; the alert's revisions and actions are listed; silences are created and ended.</summary>
[Collection(ApiCollection.Name)]
public sealed class AlertEndpointTests(ApiFixture fx)
{
    /// <summary>Stores an open alert as the engine's sink does (its upsert into alerts).</summary>
    private async Task<AlertEvent> StoreAlertAsync(string sensor)
    {
        var now = DateTimeOffset.UtcNow;
        var alert = new AlertEvent
        {
            AlertId = AlertIds.For(sensor, "spike", now.ToUnixTimeMilliseconds()),
            Status = AlertStatus.Open,
            Severity = 4,
            SensorId = sensor,
            AssetId = "pump-9",
            SensorType = "vibration",
            Detector = "spike",
            Score = 0.9,
            Threshold = 0.5,
            Value = 42,
            WindowStart = now.AddMinutes(-1),
            WindowEnd = now,
            FirstSeen = now,
            LastSeen = now,
            PublishedAt = now,
            Evidence = new System.Text.Json.Nodes.JsonObject { ["z"] = 7.5 },
        };
        await using var ds = NpgsqlDataSource.Create(fx.Database);
        await using var cmd = ds.CreateCommand("""
            INSERT INTO alerts (alert_id, status, revision, severity, sensor_id, asset_id, sensor_type, detector, score, threshold, value,
                                window_start, window_end, first_seen, last_seen, published_at, payload)
            VALUES ($1, 'open', 0, 4, $2, 'pump-9', 'vibration', 'spike', 0.9, 0.5, 42, $3, $4, $4, $4, $4, $5)
            """);
        cmd.Parameters.AddWithValue(alert.AlertId);
        cmd.Parameters.AddWithValue(sensor);
        cmd.Parameters.AddWithValue(alert.WindowStart);
        cmd.Parameters.AddWithValue(now);
        cmd.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Jsonb, Value = JsonSerializer.Serialize(alert, ContractsJsonContext.Default.AlertEvent) });
        await cmd.ExecuteNonQueryAsync();
        return alert;
    }

    [Fact]
    public async Task Acknowledge_and_resolve_are_recorded_audited_and_published_on_the_alerts_topic()
    {
        var alert = await StoreAlertAsync("alert-s-" + Guid.NewGuid().ToString("N")[..6]);

        var (status, body, _) = await fx.SendAsync(HttpMethod.Post, $"/api/v1/alerts/{alert.AlertId}/acknowledge", "operator", """{"note":"on my way"}""");
        Assert.Equal(200, status);
        Assert.StartsWith("key:", (string?)body!["acknowledged_by"], StringComparison.Ordinal);
        Assert.Equal("on my way", (string?)body["ack_note"]);
        Assert.Equal("open", (string?)body["status"]);

        (status, body, _) = await fx.SendAsync(HttpMethod.Post, $"/api/v1/alerts/{alert.AlertId}/resolve", "admin", """{"note":"bearing replaced"}""");
        Assert.Equal(200, status);
        Assert.Equal("resolved", (string?)body!["status"]);
        Assert.Equal(1, (int?)body["revision"]);

        (status, _, _) = await fx.SendAsync(HttpMethod.Post, $"/api/v1/alerts/{alert.AlertId}/resolve", "admin", "{}");
        Assert.Equal(409, status);

        (status, body, _) = await fx.SendAsync(HttpMethod.Get, $"/api/v1/alerts/{alert.AlertId}", "viewer");
        Assert.Equal(200, status);
        var revisions = body!["revisions"]!.AsArray().Select(r => ((int?)r!["revision"], (string?)r["status"])).ToList();
        Assert.Equal([(0, "open"), (1, "resolved")], revisions);
        var actions = body["actions"]!.AsArray().Select(a => (string?)a!["action"]).ToList();
        Assert.Equal(["acknowledge", "resolve"], actions);

        var events = (await fx.Kafka.ConsumeAllAsync(fx.Topics.Alerts, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(30)))
            .Select(m => JsonSerializer.Deserialize(m.Value, ContractsJsonContext.Default.AlertEvent)!)
            .Where(e => e.AlertId == alert.AlertId).ToList();
        Assert.Equal([(AlertStatus.Acknowledged, 0), (AlertStatus.Resolved, 1)], events.Select(e => (e.Status, e.Revision)).ToList());
        Assert.Equal("on my way", (string?)events[0].Evidence!["note"]);
        Assert.Equal(7.5, (double?)events[0].Evidence!["z"]);

        (status, body, _) = await fx.SendAsync(HttpMethod.Get, "/api/v1/audit?limit=50", "admin");
        Assert.Equal(200, status);
        var audit = body!.AsArray().Where(a => (string?)a!["target"] == alert.AlertId).ToList();
        Assert.Equal(["alert.resolve", "alert.acknowledge"], audit.Select(a => (string?)a!["action"]).ToList());
        Assert.All(audit, a => Assert.Equal("127.0.0.1", (string?)a!["remote"]));
        Assert.Equal(["admin", "operator"], audit.Select(a => (string?)a!["role"]).ToList());
    }

    [Fact]
    public async Task Alerts_are_listed_by_status_and_asset()
    {
        var alert = await StoreAlertAsync("alert-l-" + Guid.NewGuid().ToString("N")[..6]);
        var (status, body, _) = await fx.SendAsync(HttpMethod.Get, $"/api/v1/alerts?status=open&asset=pump-9&sensor={alert.SensorId}&min_severity=4", "viewer");
        Assert.Equal(200, status);
        Assert.Equal(alert.AlertId, (string?)body!["items"]![0]!["alert_id"]);
        (status, body, _) = await fx.SendAsync(HttpMethod.Get, $"/api/v1/alerts?status=resolved&sensor={alert.SensorId}", "viewer");
        Assert.Equal(200, status);
        Assert.Empty(body!["items"]!.AsArray());
    }

    [Theory]
    [InlineData("/api/v1/alerts?status=closed", "status")]
    [InlineData("/api/v1/alerts?min_severity=9", "min_severity")]
    [InlineData("/api/v1/alerts?limit=abc", "limit")]
    [InlineData("/api/v1/alerts?limit=0", "limit")]
    [InlineData("/api/v1/alerts?since=yesterday", "since")]
    [InlineData("/api/v1/sensors?offset=-1", "offset")]
    public async Task A_bad_query_value_is_a_400_naming_it(string path, string field)
    {
        var (status, body, _) = await fx.SendAsync(HttpMethod.Get, path, "viewer");
        Assert.Equal(400, status);
        Assert.Equal(field, (string?)body!["field"]);
    }

    [Fact]
    public async Task A_silence_is_created_listed_and_ended()
    {
        var ends = DateTimeOffset.UtcNow.AddHours(2);
        var (status, body, response) = await fx.SendAsync(HttpMethod.Post, "/api/v1/silences", "operator",
            $$"""{"asset_id":"pump-*","detector":"spike","ends_at":"{{ends:O}}","reason":"planned maintenance"}""");
        Assert.Equal(201, status);
        var id = (string)body!["silence_id"]!;
        Assert.True((bool)body["active"]!);
        Assert.Equal($"/api/v1/silences/{id}", response.Headers.Location?.ToString());

        (status, body, _) = await fx.SendAsync(HttpMethod.Get, "/api/v1/silences?active=true", "viewer");
        Assert.Contains(body!.AsArray(), s => (string?)s!["silence_id"] == id);

        (status, _, _) = await fx.SendAsync(HttpMethod.Delete, $"/api/v1/silences/{id}", "operator");
        Assert.Equal(204, status);
        (status, body, _) = await fx.SendAsync(HttpMethod.Get, $"/api/v1/silences/{id}", "viewer");
        Assert.False((bool)body!["active"]!);
        (status, _, _) = await fx.SendAsync(HttpMethod.Delete, $"/api/v1/silences/{id}", "operator");
        Assert.Equal(404, status);
    }

    [Theory]
    [InlineData("""{"ends_at":"2030-01-01T00:00:00Z","reason":"x"}""", "asset_id")]
    [InlineData("""{"sensor_id":"a","reason":"x"}""", "ends_at")]
    [InlineData("""{"sensor_id":"a","ends_at":"2030-01-01T00:00:00Z"}""", "reason")]
    [InlineData("""{"sensor_id":"a","ends_at":"2000-01-01T00:00:00Z","reason":"x"}""", "ends_at")]
    [InlineData("""{"sensor_id":"a","ends_at":"soon","reason":"x"}""", "ends_at")]
    [InlineData("""{"sensor_id":"a","ends_at":"2030-01-01T00:00:00Z","reason":"x","colour":"red"}""", "colour")]
    [InlineData("""{"sensor_id":7,"ends_at":"2030-01-01T00:00:00Z","reason":"x"}""", "sensor_id")]
    [InlineData("[1,2]", "body")]
    public async Task A_bad_silence_is_a_400_naming_the_field(string json, string field)
    {
        var (status, body, _) = await fx.SendAsync(HttpMethod.Post, "/api/v1/silences", "operator", json);
        Assert.True(status == 400, body?.ToJsonString());
        Assert.Equal(field, (string?)body!["field"]);
    }
}
