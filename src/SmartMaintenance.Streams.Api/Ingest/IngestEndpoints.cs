using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using SmartMaintenance.Streams.Api.Security;
using SmartMaintenance.Streams.Contracts;

namespace SmartMaintenance.Streams.Api.Ingest;

/// <summary>POST /api/v1/readings: a reading or an envelope, validated as the engine validates, produced to
/// sensor-readings with acks=all before the 202. Nothing is produced when any reading is rejected.</summary>
public static class IngestEndpoints
{
    /// <summary>Where the readings went.</summary>
    public sealed record Accepted(int Readings, IReadOnlyList<Written> Messages);

    /// <summary>One Kafka message produced.</summary>
    public sealed record Written(string Key, int Partition, long Offset, int Readings);

    public static void Map(RouteGroupBuilder api)
    {
        ArgumentNullException.ThrowIfNull(api);
        api.MapPost("/readings", IngestAsync).RequireAuthorization(Roles.Operate).WithTags("Ingest").WithName("IngestReadings")
            .WithSummary("Produce a reading or a {\"readings\":[...]} envelope to sensor-readings (one message per sensor, key = sensor_id); 202 once acknowledged by the broker.")
            .Accepts<JsonElement>("application/json").Produces<Accepted>(StatusCodes.Status202Accepted);
    }

    private static async Task<IResult> IngestAsync(HttpContext http, ApiServices s, BodyDecoder decoder)
    {
        var body = await BodyDecoder.ReadBodyAsync(http.Request, s.Options.MaxBodyBytes);
        var (readings, envelope) = decoder.Decode(body);
        var ct = http.RequestAborted;
        var written = new List<Written>();
        if (!envelope)
        {
            var r = readings[0];
            var result = await s.Readings.ProduceAsync(s.Topics.Readings, new Message<string, byte[]> { Key = r.SensorId, Value = body }, ct);
            written.Add(new Written(r.SensorId, result.Partition.Value, result.Offset.Value, 1));
        }
        else
        {
            // One message per sensor keyed by its id, so each sensor's readings stay on the partition that owns its state.
            var groups = new Dictionary<string, List<SensorReading>>(StringComparer.Ordinal);
            foreach (var r in readings)
            {
                if (!groups.TryGetValue(r.SensorId, out var list))
                {
                    groups[r.SensorId] = list = [];
                }
                list.Add(r);
            }
            var sends = new List<(string Key, int Count, Task<DeliveryResult<string, byte[]>> Task)>();
            foreach (var (sensor, list) in groups)
            {
                sends.Add((sensor, list.Count, s.Readings.ProduceAsync(s.Topics.Readings, new Message<string, byte[]> { Key = sensor, Value = Envelope(list) }, ct)));
            }
            foreach (var (key, count, task) in sends)
            {
                var result = await task;
                written.Add(new Written(key, result.Partition.Value, result.Offset.Value, count));
            }
        }
        ApiMetrics.Ingested.Inc(readings.Count);
        return Results.Json(new Accepted(readings.Count, written), statusCode: StatusCodes.Status202Accepted);
    }

    /// <summary>The readings as an envelope in the reading contract (ts in epoch ms).</summary>
    public static byte[] Envelope(IReadOnlyList<SensorReading> readings)
    {
        ArgumentNullException.ThrowIfNull(readings);
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream))
        {
            json.WriteStartObject();
            json.WriteStartArray("readings");
            foreach (var r in readings)
            {
                json.WriteStartObject();
                json.WriteString("sensor_id", r.SensorId);
                json.WriteNumber("ts", r.Timestamp);
                json.WriteNumber("value", r.Value);
                WriteOptional(json, "asset_id", r.AssetId);
                WriteOptional(json, "sensor_type", r.SensorType);
                WriteOptional(json, "unit", r.Unit);
                if (r.HasQuality)
                {
                    json.WriteNumber("quality", r.Quality);
                }
                if (r.HasSeq)
                {
                    json.WriteNumber("seq", r.Seq);
                }
                if (r.Attributes is { } attributes)
                {
                    json.WritePropertyName("attributes");
                    json.WriteRawValue(Encoding.UTF8.GetBytes(attributes), skipInputValidation: true);
                }
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteEndObject();
        }
        return stream.ToArray();
    }

    private static void WriteOptional(Utf8JsonWriter json, string name, string? value)
    {
        if (value is not null)
        {
            json.WriteString(name, value);
        }
    }
}
