using SmartMaintenance.Streams.Testing;
using Xunit;

namespace SmartMaintenance.Streams.Kafka.Tests;

[CollectionDefinition(KafkaFixture.Collection)]
public sealed class KafkaCollection : ICollectionFixture<KafkaFixture>;
