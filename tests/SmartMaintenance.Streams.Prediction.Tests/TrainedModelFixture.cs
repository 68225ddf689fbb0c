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

    public static string DataDirectory { get; } = FindData();

    public IReadOnlyList<CmapssUnit> Train { get; }
    public IReadOnlyList<CmapssUnit> Test { get; }
    public string MetadataPath { get; }
    public RulModel Model { get; }

    public void Dispose()
    {
        Model.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private static string FindData()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "tests", "data", "cmapss-fd001");
            if (Directory.Exists(candidate))
            {
                return candidate;
            }
        }
        throw new DirectoryNotFoundException("tests/data/cmapss-fd001 not found above " + AppContext.BaseDirectory);
    }
}

[CollectionDefinition(Name)]
public sealed class TrainedModelCollection : ICollectionFixture<TrainedModelFixture>
{
    public const string Name = "trained RUL model";
}
