using SmartMaintenance.Streams.Testing;
using Xunit;

namespace SmartMaintenance.Streams.Storage.Tests;

[CollectionDefinition(PostgresFixture.Collection)]
public sealed class PostgresCollection : ICollectionFixture<PostgresFixture>;
