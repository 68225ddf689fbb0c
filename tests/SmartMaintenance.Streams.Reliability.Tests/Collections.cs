using SmartMaintenance.Streams.Testing;
using Xunit;

// Fault tests share the machine's two cores with the processes they start; running them one at a time keeps
// timings (kill moments, outages) meaningful and cluster-wide broker error injection contained.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace SmartMaintenance.Streams.Reliability.Tests;

/// <summary>One shared embedded broker and PostgreSQL cluster; tests that break a service start their own.</summary>
[CollectionDefinition(Name)]
public sealed class ServicesCollection : ICollectionFixture<KafkaFixture>, ICollectionFixture<PostgresFixture>
{
    public const string Name = "reliability-services";
}
