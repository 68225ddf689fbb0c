namespace SmartMaintenance.Streams.Prediction.Training;

/// <summary>The C-MAPSS figures of merit: RMSE and the NASA (PHM 2008) asymmetric score, which punishes late
/// predictions (predicted RUL above the true one) harder than early ones.</summary>
public static class RulMetrics
{
    public static double Rmse(ReadOnlySpan<double> predicted, ReadOnlySpan<double> truth)
    {
        Check(predicted, truth);
        var sum = 0.0;
        for (var i = 0; i < predicted.Length; i++)
        {
            var d = predicted[i] - truth[i];
            sum += d * d;
        }
        return Math.Sqrt(sum / predicted.Length);
    }

    /// <summary>Σ (e^{−d/13} − 1) for d &lt; 0, (e^{d/10} − 1) for d ≥ 0, d = predicted − true.</summary>
    public static double NasaScore(ReadOnlySpan<double> predicted, ReadOnlySpan<double> truth)
    {
        Check(predicted, truth);
        var sum = 0.0;
        for (var i = 0; i < predicted.Length; i++)
        {
            sum += NasaTerm(predicted[i] - truth[i]);
        }
        return sum;
    }

    public static double NasaTerm(double d) => d < 0 ? Math.Exp(-d / 13) - 1 : Math.Exp(d / 10) - 1;

    private static void Check(ReadOnlySpan<double> predicted, ReadOnlySpan<double> truth)
    {
        if (predicted.Length != truth.Length || predicted.Length == 0)
        {
            throw new ArgumentException($"Need equally many predictions and truths, at least one ({predicted.Length} and {truth.Length}).");
        }
    }
}
