namespace SmartMaintenance.Streams.Prediction.Training;

/// <summary>Hyper-parameters of the RUL regression (chosen by grouped cross-validation, docs/prediction.md).</summary>
public sealed record RulTrainerOptions
{
    /// <summary>Training targets are capped here: early in life wear is not visible, so RUL is "at least this".</summary>
    public double Cap { get; init; } = 125;
    public int Trees { get; init; } = 300;
    public int Leaves { get; init; } = 16;
    public int MinExamplesPerLeaf { get; init; } = 20;
    public double LearningRate { get; init; } = 0.05;
    public int Seed { get; init; } = 1;
    /// <summary>Nominal coverage of the interval (two-sided).</summary>
    public double Coverage { get; init; } = 0.9;
    public int Folds { get; init; } = 5;
}
