using SmartMaintenance.Streams.Testing;
using Xunit;

namespace SmartMaintenance.Streams.Prediction.Tests;

/// <summary>The tests through Kafka and PostgreSQL share one embedded broker, one throwaway cluster and the trained model.</summary>
[CollectionDefinition(Name)]
public sealed class ServicesCollection : ICollectionFixture<KafkaFixture>, ICollectionFixture<PostgresFixture>, ICollectionFixture<TrainedModelFixture>
{
    public const string Name = "prediction services";
}
