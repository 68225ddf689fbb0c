using System.Text;
using System.Text.Json.Nodes;
using Npgsql;
using Xunit;

namespace SmartMaintenance.Streams.Api.Tests;

/// <summary>Ingest, score and the sensor registry through the API, against the running engine.</summary>
[Collection(ApiCollection.Name)]
public sealed class IngestEndpointTests(ApiFixture fx)
{
    private static long Now => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

    private static string Reading(string sensor, double value, string? type = "temperature", long? ts = null) =>
        $$"""{"sensor_id":"{{sensor}}","ts":{{ts ?? Now}},"value":{{value.ToString(System.Globalization.CultureInfo.InvariantCulture)}}{{(type is null ? "" : $",\"sensor_type\":\"{type}\"")}}}""";

    private async Task<long> StoredAsync(string sensor)
    {
        await using var ds = NpgsqlDataSource.Create(fx.Database);
        await using var cmd = ds.CreateCommand("SELECT count(*) FROM readings WHERE sensor_id = $1");
        cmd.Parameters.AddWithValue(sensor);
        return (long)(await cmd.ExecuteScalarAsync())!;
    }

    private async Task WaitStoredAsync(string sensor, long count)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (await StoredAsync(sensor) < count)
        {
            Assert.True(DateTime.UtcNow < deadline, $"{sensor}: {count} readings not stored within 60 s");
            await Task.Delay(100);
        }
    }

    [Fact]
    public async Task An_ingested_reading_is_acknowledged_then_stored_by_the_engine_and_served_as_live_state()
    {
        var sensor = "ingest-" + Guid.NewGuid().ToString("N")[..8];
        var (status, body, _) = await fx.SendAsync(HttpMethod.Post, "/api/v1/readings", "operator", Reading(sensor, 21.5));
        Assert.Equal(202, status);
        Assert.Equal(1, (int?)body!["readings"]);
        Assert.Equal(sensor, (string?)body["messages"]![0]!["key"]);
        Assert.True((long?)body["messages"]![0]!["offset"] >= 0);
        await WaitStoredAsync(sensor, 1);

        (status, body, _) = await fx.SendAsync(HttpMethod.Get, $"/api/v1/state/sensors/{sensor}", "viewer");
        Assert.True(status == 200, body?.ToJsonString());
        Assert.Equal(21.5, (double?)body!["latest"]!["value"]);
        Assert.Equal(fx.Main.Services.Engine!.InstanceId, (string?)body["instance"]);
    }

    [Fact]
    public async Task An_envelope_is_split_into_one_message_per_sensor_keyed_by_it()
    {
        var a = "env-a-" + Guid.NewGuid().ToString("N")[..6];
        var b = "env-b-" + Guid.NewGuid().ToString("N")[..6];
        var envelope = $$"""{"readings":[{{Reading(a, 1)}},{{Reading(b, 2)}},{{Reading(a, 3, ts: Now + 1)}}]}""";
        var (status, body, _) = await fx.SendAsync(HttpMethod.Post, "/api/v1/readings", "operator", envelope);
        Assert.Equal(202, status);
        Assert.Equal(3, (int?)body!["readings"]);
        var messages = body["messages"]!.AsArray().ToDictionary(m => (string)m!["key"]!, m => (int)m!["readings"]!);
        Assert.Equal(new Dictionary<string, int> { [a] = 2, [b] = 1 }, messages);
        await WaitStoredAsync(a, 2);
        await WaitStoredAsync(b, 1);
    }

    [Theory]
    [InlineData("""{"sensor_id":"x","value":1}""", "missing_field", "ts")]
    [InlineData("""{"sensor_id":"x","ts":"noon","value":1}""", "invalid_field", "ts")]
    [InlineData("""{"sensor_id":"x","ts":1,"value":1}""", "past_timestamp", "ts")]
    [InlineData("""{"sensor_id":"x","ts":99999999999999,"value":1}""", "future_timestamp", "ts")]
    [InlineData("""{"sensor_id":"x","ts":NOW,"value":5000,"sensor_type":"temperature"}""", "out_of_range", "value")]
    [InlineData("""{"sensor_id":"x","ts":NOW,"value":"warm"}""", "invalid_field", "value")]
    [InlineData("""{"sensor_id":"x","ts":NOW,"value":1""", "malformed_json", "body")]
    [InlineData("""{"readings":[{"sensor_id":"x","ts":NOW,"value":1},{"sensor_id":"y","ts":NOW}]}""", "missing_field", "readings[1].value")]
    public async Task A_rejected_reading_is_a_400_with_the_DLQ_reason_and_the_field(string json, string reason, string field)
    {
        var (status, body, response) = await fx.SendAsync(HttpMethod.Post, "/api/v1/readings", "operator", json.Replace("NOW", Now.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal));
        Assert.True(status == 400, body?.ToJsonString());
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(reason, (string?)body!["reason"]);
        Assert.Equal(field, (string?)body["field"]);
        Assert.NotEmpty(body["errors"]!.AsArray());
    }

    [Fact]
    public async Task A_body_over_the_limit_is_a_413()
    {
        var big = new StringBuilder("{\"readings\":[");
        while (big.Length < fx.Main.Services.Options.MaxBodyBytes + 10)
        {
            big.Append(Reading("big", 1)).Append(',');
        }
        big.Append(Reading("big", 1)).Append("]}");
        var (status, body, _) = await fx.SendAsync(HttpMethod.Post, "/api/v1/readings", "operator", big.ToString());
        Assert.Equal(413, status);
        Assert.Equal("body", (string?)body!["field"]);
    }

    [Fact]
    public async Task The_sensor_registry_range_replaces_the_type_range_in_the_api_and_in_the_engine()
    {
        var sensor = "reg-" + Guid.NewGuid().ToString("N")[..8];
        var (status, body, _) = await fx.SendAsync(HttpMethod.Put, $"/api/v1/sensors/{sensor}", "admin",
            """{"asset_id":"furnace-1","sensor_type":"temperature","unit":"C","range_min":0,"range_max":5000,"description":"furnace wall"}""");
        Assert.Equal(200, status);
        Assert.True((bool)body!["registered"]!);

        // 3000 °C is out of the temperature type's range but inside this sensor's registered range.
        (status, body, _) = await fx.SendAsync(HttpMethod.Post, "/api/v1/readings", "operator", Reading(sensor, 3000, type: null));
        Assert.True(status == 202, body?.ToJsonString());
        (status, body, _) = await fx.SendAsync(HttpMethod.Post, "/api/v1/readings", "operator", Reading(sensor, 6000, type: null));
        Assert.Equal(400, status);
        Assert.Equal("out_of_range", (string?)body!["reason"]);

        // The engine's own decoder applies it too (a reading produced straight to Kafka): stored with the registry's asset.
        await fx.Kafka.ProduceAsync(fx.Topics.Readings, Testing.TestMessage.Utf8(sensor, Reading(sensor, 3500, type: null)));
        await WaitStoredAsync(sensor, 2);
        await using var ds = NpgsqlDataSource.Create(fx.Database);
        await using var cmd = ds.CreateCommand("SELECT count(*) FROM readings WHERE sensor_id = $1 AND asset_id = 'furnace-1'");
        cmd.Parameters.AddWithValue(sensor);
        Assert.Equal(2L, (long)(await cmd.ExecuteScalarAsync())!);

        (status, body, _) = await fx.SendAsync(HttpMethod.Get, $"/api/v1/sensors?q={sensor}", "viewer");
        Assert.Equal(200, status);
        var item = body!["items"]![0]!;
        Assert.Equal("furnace-1", (string?)item["asset_id"]);
        Assert.NotNull(item["last_seen"]);

        (status, _, _) = await fx.SendAsync(HttpMethod.Delete, $"/api/v1/sensors/{sensor}", "admin");
        Assert.Equal(204, status);
        (status, _, _) = await fx.SendAsync(HttpMethod.Post, "/api/v1/readings", "operator", Reading(sensor, 3000, type: "temperature"));
        Assert.Equal(400, status);
    }

    [Theory]
    [InlineData("""{"range_min":5,"range_max":1}""", "range_min")]
    [InlineData("""{"unit":7}""", "unit")]
    [InlineData("""{"range_min":"low"}""", "range_min")]
    [InlineData("""{"owner":"me"}""", "owner")]
    public async Task A_bad_registry_entry_is_a_400_naming_the_field(string json, string field)
    {
        var (status, body, _) = await fx.SendAsync(HttpMethod.Put, "/api/v1/sensors/reg-bad", "admin", json);
        Assert.True(status == 400, body?.ToJsonString());
        Assert.Equal(field, (string?)body!["field"]);
    }

    [Fact]
    public async Task Scoring_returns_detector_scores_and_stores_nothing()
    {
        var sensor = "score-" + Guid.NewGuid().ToString("N")[..8];
        var start = Now - 600_000;
        var readings = new JsonArray();
        for (var i = 0; i < 300; i++)
        {
            readings.Add(JsonNode.Parse(Reading(sensor, i == 299 ? 900 : 20 + (i % 3) * 0.1, ts: start + i * 1000)));
        }
        var (status, body, _) = await fx.SendAsync(HttpMethod.Post, "/api/v1/score", "operator", new JsonObject { ["readings"] = readings }.ToJsonString());
        Assert.Equal(200, status);
        var scores = body!["scores"]!.AsArray();
        Assert.Equal(300, scores.Count);
        Assert.True((bool)scores[299]!["fired"]!, scores[299]!.ToJsonString());
        Assert.True((int)body["fired"]! >= 1);
        Assert.Equal(8, scores[0]!["detectors"]!.AsObject().Count);
        await Task.Delay(500);
        Assert.Equal(0, await StoredAsync(sensor));
    }
}
