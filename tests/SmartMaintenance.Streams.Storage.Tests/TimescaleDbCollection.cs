using SmartMaintenance.Streams.Testing;
using Xunit;

namespace SmartMaintenance.Streams.Storage.Tests;

[CollectionDefinition(TimescaleDbFixture.Collection)]
public sealed class TimescaleDbCollection : ICollectionFixture<TimescaleDbFixture>;
