using System.Text.Json;
using SmartMaintenance.Streams.Contracts;
using Xunit;

namespace SmartMaintenance.Streams.Alerting.Tests;

/// <summary>docs/contracts/alert.schema.json and its examples agree with each other and with AlertEvent.</summary>
public sealed class AlertContractTests
{
    private static readonly string Docs = FindDocs();

    private static string FindDocs()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "SmartMaintenance.Streams.sln")))
            {
                return Path.Combine(dir.FullName, "docs", "contracts");
            }
        }
        throw new InvalidOperationException("Repository root (SmartMaintenance.Streams.sln) not found above " + AppContext.BaseDirectory);
    }

    private static JsonElement Schema() => JsonDocument.Parse(File.ReadAllText(Path.Combine(Docs, "alert.schema.json"))).RootElement;

    [Theory]
    [InlineData("open", 0)]
    [InlineData("updated", 1)]
    [InlineData("resolved", 2)]
    public void Example_has_every_required_field_and_only_schema_fields(string status, int revision)
    {
        var schema = Schema();
        var json = File.ReadAllText(Path.Combine(Docs, "examples", $"alert-{status}.json"));
        var example = JsonDocument.Parse(json).RootElement;
        var properties = schema.GetProperty("properties").EnumerateObject().Select(p => p.Name).ToHashSet();

        foreach (var required in schema.GetProperty("required").EnumerateArray())
        {
            Assert.True(example.TryGetProperty(required.GetString()!, out _), $"alert-{status}.json lacks {required}");
        }
        Assert.All(example.EnumerateObject(), p => Assert.Contains(p.Name, properties));

        var alert = JsonSerializer.Deserialize(json, ContractsJsonContext.Default.AlertEvent)!;
        Assert.Equal(status, alert.Status);
        Assert.Equal(revision, alert.Revision);
        Assert.Equal(AlertIds.For(alert.SensorId, alert.Detector, alert.FirstSeen.ToUnixTimeMilliseconds()), alert.AlertId);
        Assert.Matches(schema.GetProperty("properties").GetProperty("alert_id").GetProperty("pattern").GetString()!, alert.AlertId);
    }

    [Fact]
    public void Serialized_alert_event_uses_exactly_the_schema_field_names()
    {
        var properties = Schema().GetProperty("properties").EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal);
        var json = JsonDocument.Parse(JsonSerializer.Serialize(NotifierTestKit.Alert(), ContractsJsonContext.Default.AlertEvent)).RootElement;

        Assert.Equal(properties, json.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
    }
}
