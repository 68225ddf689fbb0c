namespace SmartMaintenance.Streams.Scoring.Detectors;

/// <summary>Out-of-range rule from configuration (RangeMin/RangeMax per sensor type): stateless, fires with score 1.</summary>
/// <remarks>It is not subject to warm-up: an impossible value is impossible from the first reading.</remarks>
public sealed class RangeRule(DetectorOptions options)
{
    private readonly double _min = options.RangeMin ?? double.NegativeInfinity;
    private readonly double _max = options.RangeMax ?? double.PositiveInfinity;

    public string Name => "range";

    public bool Enabled => !double.IsNegativeInfinity(_min) || !double.IsPositiveInfinity(_max);

    public DetectorScore Score(long timestamp, double value)
    {
        if (value < _min)
        {
            return new DetectorScore(double.PositiveInfinity, value - _min, _min, double.NaN, timestamp);
        }
        if (value > _max)
        {
            return new DetectorScore(double.PositiveInfinity, value - _max, _max, double.NaN, timestamp);
        }
        return DetectorScore.None(timestamp);
    }
}
