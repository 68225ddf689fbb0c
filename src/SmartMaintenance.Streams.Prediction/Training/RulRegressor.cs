using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers.FastTree;

namespace SmartMaintenance.Streams.Prediction.Training;

/// <summary>ML.NET FastTree regression of capped RUL on the feature rows, and its ONNX export.</summary>
public sealed class RulRegressor
{
    private readonly MLContext _ml;
    private readonly RulTrainerOptions _options;
    private readonly SchemaDefinition _schema;
    private readonly SchemaDefinition _exportSchema;

    private sealed class Row
    {
        public float[] Features { get; set; } = [];
        public float Label { get; set; }
    }

    private sealed class FeaturesOnly
    {
        public float[] Features { get; set; } = [];
    }

    private sealed class Output
    {
        public float Score { get; set; }
    }

    public RulRegressor(RulTrainerOptions options, int featureCount)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _ml = new MLContext(options.Seed);
        _schema = SchemaDefinition.Create(typeof(Row));
        _schema[nameof(Row.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, featureCount);
        _exportSchema = SchemaDefinition.Create(typeof(FeaturesOnly));
        _exportSchema[nameof(FeaturesOnly.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, featureCount);
    }

    public ITransformer Fit(IReadOnlyList<float[]> features, IReadOnlyList<float> rul)
    {
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(rul);
        var cap = (float)_options.Cap;
        var rows = new List<Row>(features.Count);
        for (var i = 0; i < features.Count; i++)
        {
            rows.Add(new Row { Features = features[i], Label = Math.Min(rul[i], cap) });
        }
        var trainer = _ml.Regression.Trainers.FastTree(new FastTreeRegressionTrainer.Options
        {
            NumberOfTrees = _options.Trees,
            NumberOfLeaves = _options.Leaves,
            MinimumExampleCountPerLeaf = _options.MinExamplesPerLeaf,
            LearningRate = _options.LearningRate,
            Seed = _options.Seed,
            NumberOfThreads = 1,
        });
        return trainer.Fit(_ml.Data.LoadFromEnumerable(rows, _schema));
    }

    public double[] Predict(ITransformer model, IReadOnlyList<float[]> features)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(features);
        var view = _ml.Data.LoadFromEnumerable(features.Select(f => new Row { Features = f }), _schema);
        var result = new double[features.Count];
        var i = 0;
        foreach (var o in _ml.Data.CreateEnumerable<Output>(model.Transform(view), reuseRowObject: true))
        {
            result[i++] = o.Score;
        }
        return result;
    }

    /// <summary>The model as ONNX (input <c>Features</c> float32 [N, F], output <c>Score.output</c>), built in memory so a
    /// failed export leaves no file behind.</summary>
    public byte[] ToOnnx(ITransformer model, float[] example)
    {
        // Without the label column, or the graph gets a second input.
        var view = _ml.Data.LoadFromEnumerable(new[] { new FeaturesOnly { Features = example } }, _exportSchema);
        using var stream = new MemoryStream();
        _ml.Model.ConvertToOnnx(model, view, stream, "Score");
        return stream.ToArray();
    }
}
