namespace SmartMaintenance.Streams.Prediction.Rul;

/// <summary>
/// One asset's RUL features: a ring of its last <see cref="RulFeatureSpec.Window"/> cycles (model channels normalised
/// per operating condition) and its cycle counter. Training, evaluation and the engine all go through
/// <see cref="AddCycle"/> and <see cref="WriteFeatures"/>, so a model sees in stream exactly what it was trained on.
/// </summary>
/// <remarks>Allocates once, at creation; a cycle costs O(window × channels) without allocating.</remarks>
public sealed class AssetFeatureState
{
    private readonly RulFeatureSpec _spec;
    private readonly OperatingConditions _conditions;
    private readonly int[] _channels;
    private readonly float[] _ring;
    private readonly int _width;
    private readonly int _window;
    private long _count;
    private double _cycle;

    public AssetFeatureState(RulFeatureSpec spec, OperatingConditions conditions)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(conditions);
        _spec = spec;
        _conditions = conditions;
        _channels = spec.ChannelIndices();
        _width = _channels.Length;
        _window = spec.Window;
        _ring = new float[_window * _width];
    }

    /// <summary>Cycles added so far.</summary>
    public long Count => _count;

    /// <summary>The asset's cycle counter at the last cycle.</summary>
    public double Cycle => _cycle;

    /// <summary>Adds one complete cycle: a row of the 25 channels of <see cref="RulChannels.All"/>.</summary>
    public void AddCycle(ReadOnlySpan<double> row)
    {
        var condition = _conditions.Assign(row);
        var mean = _conditions.Mean[condition];
        var std = _conditions.Std[condition];
        var slot = (int)(_count % _window) * _width;
        for (var k = 0; k < _width; k++)
        {
            _ring[slot + k] = (float)((row[_channels[k]] - mean[k]) / std[k]);
        }
        _cycle = row[0];
        _count++;
    }

    /// <summary>Writes the features of the state after the last cycle (layout: <see cref="RulFeatureSpec"/>).</summary>
    public void WriteFeatures(Span<float> features)
    {
        if (features.Length < _spec.FeatureCount)
        {
            throw new ArgumentException($"Need room for {_spec.FeatureCount} features.", nameof(features));
        }
        if (_count == 0)
        {
            throw new InvalidOperationException("No cycle added yet.");
        }
        features[0] = (float)_cycle;
        var n = (int)Math.Min(_count, _window);
        var shortN = Math.Min(n, _spec.ShortWindow);
        var first = _count - n;
        // Least squares over x = 0..n−1: slope = Σ (x − x̄) y / Σ (x − x̄)², Σ (x − x̄)² = n (n² − 1) / 12.
        var xBar = (n - 1) / 2.0;
        var sxx = n * ((double)n * n - 1) / 12.0;
        for (var k = 0; k < _width; k++)
        {
            double sum = 0, shortSum = 0, sxy = 0;
            for (var j = 0; j < n; j++)
            {
                double y = _ring[(int)((first + j) % _window) * _width + k];
                sum += y;
                sxy += (j - xBar) * y;
                if (j >= n - shortN)
                {
                    shortSum += y;
                }
            }
            var o = 1 + k * RulFeatureSpec.PerChannel;
            features[o] = (float)(sum / n);
            features[o + 1] = (float)(shortSum / shortN);
            features[o + 2] = n > 1 ? (float)(sxy / sxx) : 0f;
        }
    }
}
