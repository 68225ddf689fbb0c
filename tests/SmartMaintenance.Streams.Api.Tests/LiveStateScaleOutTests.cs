using SmartMaintenance.Streams.Api.State;
using Xunit;

namespace SmartMaintenance.Streams.Api.Tests;

/// <summary>Its own broker, database and two engine instances in one consumer group.</summary>
public sealed class ScaleOutFixture : IAsyncLifetime
{
    public ApiFixture Api { get; } = new(instances: 2);
    public ApiFixture.Instance Second => Api.Instances[1];

    public Task InitializeAsync() => Api.InitializeAsync();

    public Task DisposeAsync() => Api.DisposeAsync();
}

[CollectionDefinition(Name)]
public sealed class ScaleOutCollection : ICollectionFixture<ScaleOutFixture>
{
    public const string Name = "api-scale-out";
}

/// <summary>Interactive queries across instances: whichever instance is asked, the answer comes from the memory of the
/// instance owning the sensor's partition (forwarded), and the partition is the one the producer chose.</summary>
[Collection(ScaleOutCollection.Name)]
public sealed class LiveStateScaleOutTests(ScaleOutFixture fx)
{
    [Fact]
    public async Task Any_instance_answers_with_the_owners_state()
    {
        var api = fx.Api;
        using var second = ApiFixture.Client(fx.Second);
        var sensors = Enumerable.Range(0, 12).Select(i => $"so-{i}-{Guid.NewGuid():N}"[..16]).ToList();
        var partitionOf = new Dictionary<string, int>();
        foreach (var sensor in sensors)
        {
            var (status, body, _) = await api.SendAsync(HttpMethod.Post, "/api/v1/readings", "operator",
                $$"""{"sensor_id":"{{sensor}}","ts":{{DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()}},"value":7.25}""");
            Assert.Equal(202, status);
            partitionOf[sensor] = (int)body!["messages"]![0]!["partition"]!;
            // The API finds owners with the producer's own partitioner.
            Assert.Equal(partitionOf[sensor], KeyPartitioner.PartitionOf(sensor, 4));
        }
        var owners = new HashSet<string>();
        foreach (var sensor in sensors)
        {
            var viaMain = await WaitStateAsync(api, api.Http, sensor);
            var viaSecond = await WaitStateAsync(api, second, sensor);
            Assert.Equal((string?)viaMain["instance"], (string?)viaSecond["instance"]);
            Assert.Equal(7.25, (double?)viaSecond["latest"]!["value"]);
            Assert.Equal(partitionOf[sensor], (int?)viaMain["partition"]);
            var owner = (string)viaMain["instance"]!;
            owners.Add(owner);
            var ownerInstance = owner == api.Main.Services.Engine!.InstanceId ? api.Main : fx.Second;
            Assert.Contains(partitionOf[sensor], ownerInstance.Engine.AssignedPartitions);
        }
        // Both instances own partitions, so some answers had to be forwarded.
        Assert.Equal(2, owners.Count);
    }

    private static async Task<System.Text.Json.Nodes.JsonNode> WaitStateAsync(ApiFixture api, HttpClient client, string sensor)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            var (status, body, _) = await api.SendAsync(HttpMethod.Get, $"/api/v1/state/sensors/{sensor}", "viewer", client: client);
            if (status == 200)
            {
                return body!;
            }
            // Until the owner has consumed the reading: 404 (not seen yet) or 503 saying a rebalance is under way.
            Assert.True(status is 404 || (status == 503 && (bool?)body!["rebalancing"] == true), $"{sensor}: {status} {body?.ToJsonString()}");
            Assert.True(DateTime.UtcNow < deadline, $"{sensor}: no state within 60 s");
            await Task.Delay(100);
        }
    }
}
