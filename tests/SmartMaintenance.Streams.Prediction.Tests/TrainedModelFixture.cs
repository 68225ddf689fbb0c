using SmartMaintenance.Streams.Prediction.Cmapss;
using SmartMaintenance.Streams.Prediction.Rul;
using SmartMaintenance.Streams.Prediction.Training;
using Xunit;

namespace SmartMaintenance.Streams.Prediction.Tests;

/// <summary>A small RUL model (20 FD001 training engines, few trees) trained once for the tests that need one.</summary>
public sealed class TrainedModelFixture : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "smstream-rul-" + Guid.NewGuid().ToString("N"));

    public TrainedModelFixture()
    {
        Train = CmapssData.Read(Path.Combine(DataDirectory, "train_FD001.txt"));
        Test = CmapssData.Read(Path.Combine(DataDirectory, "test_FD001.txt"));
        var trained = RulTraining.TrainAndWrite([.. Train.Take(20)], new RulFeatureSpec(), new RulTrainerOptions { Trees = 30, Folds = 2 }, _dir, "rul-test", 1);
        MetadataPath = trained.MetadataPath;
        Model = RulModel.Load(MetadataPath);
    }

    public static string DataDirectory { get; } = CmapssData.VendoredFd001();

    public IReadOnlyList<CmapssUnit> Train { get; }
    public IReadOnlyList<CmapssUnit> Test { get; }
    public string MetadataPath { get; }
    public RulModel Model { get; }

    public void Dispose()
    {
        Model.Dispose();
        Directory.Delete(_dir, recursive: true);
    }
}

[CollectionDefinition(Name)]
public sealed class TrainedModelCollection : ICollectionFixture<TrainedModelFixture>
{
    public const string Name = "trained RUL model";
}
