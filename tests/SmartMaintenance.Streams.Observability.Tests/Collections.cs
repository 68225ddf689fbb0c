using Xunit;

namespace SmartMaintenance.Streams.Observability.Tests;

/// <summary>One running stack (broker, PostgreSQL, engine, notifier, Prometheus) for every test that needs it.</summary>
[CollectionDefinition(Name)]
public sealed class StackCollection : ICollectionFixture<StackFixture>
{
    public const string Name = "observability-stack";
}
