using SmartMaintenance.Streams.Testing;
using Xunit;

namespace SmartMaintenance.Streams.Integration.Tests;

/// <summary>All integration tests share one embedded broker and one throwaway PostgreSQL cluster.</summary>
[CollectionDefinition(Name)]
public sealed class ServicesCollection : ICollectionFixture<KafkaFixture>, ICollectionFixture<PostgresFixture>
{
    public const string Name = "services";
}
