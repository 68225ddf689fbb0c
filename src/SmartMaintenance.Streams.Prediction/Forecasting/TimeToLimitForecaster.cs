namespace SmartMaintenance.Streams.Prediction.Forecasting;

/// <summary>A sensor's forecast after one closed bucket: when its trend reaches the alarm limit, with an interval.</summary>
/// <param name="TimeToLimitMs">From <paramref name="Timestamp"/> until the trend crosses the limit; +∞ when it does not head there.</param>
/// <param name="LowerMs">Earliest plausible crossing (steep end of the slope interval).</param>
/// <param name="UpperMs">Latest plausible crossing; +∞ when a flat or receding trend is plausible.</param>
public readonly record struct LimitForecast(long Timestamp, double Level, double SlopePerHour, double TimeToLimitMs, double LowerMs, double UpperMs);

/// <summary>
/// Time-to-limit for an ordinary sensor with no run-to-failure history: readings are averaged into event-time buckets;
/// over the last <c>buckets</c> bucket means a Theil–Sen line (median of pairwise slopes; robust to spikes and a few
/// outlying buckets) gives the level now and the slope; the crossing time of the alarm limit follows. Its interval spans
/// the crossings of the pairwise slopes' quantiles, of the newer half's own Theil–Sen line, and, when the newer half runs
/// clearly steeper than the older, of a rate growing by that factor (accelerating wear).
/// </summary>
/// <remarks>One instance per sensor; allocates at creation only. A bucket mean that falls sharply back (a maintenance
/// reset, see <see cref="IsReset"/>) clears the history, so the trend restarts from the repaired level.</remarks>
public sealed class TimeToLimitForecaster
{
    private readonly double _limit;
    private readonly bool _upper;
    private readonly long _bucketMs;
    private readonly int _capacity;
    private readonly double _quantile;
    private readonly double[] _t;
    private readonly double[] _y;
    private readonly double[] _slopes;
    private readonly double[] _residuals;
    private int _count;
    private int _head;
    private long _bucketStart = long.MinValue;
    private double _sum;
    private int _n;

    /// <param name="limit">Alarm limit.</param>
    /// <param name="upper">True: the limit is crossed from below (wear raises the value); false: from above.</param>
    /// <param name="bucket">Event-time bucket the readings are averaged over.</param>
    /// <param name="buckets">Bucket means the trend is fitted to (at least 4).</param>
    /// <param name="coverage">Nominal coverage of the slope interval (two-sided).</param>
    public TimeToLimitForecaster(double limit, bool upper, TimeSpan bucket, int buckets = 24, double coverage = 0.8)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(buckets, 4);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(bucket, TimeSpan.Zero);
        _limit = limit;
        _upper = upper;
        _bucketMs = (long)bucket.TotalMilliseconds;
        _capacity = buckets;
        _quantile = (1 - coverage) / 2;
        _t = new double[buckets];
        _y = new double[buckets];
        _slopes = new double[buckets * (buckets - 1) / 2];
        _residuals = new double[buckets];
    }

    /// <summary>Bucket means in the fit.</summary>
    public int Buckets => _count;

    /// <summary>Takes one reading (event time order); true when it closed a bucket and a forecast could be made.</summary>
    public bool OnReading(long timestamp, double value, out LimitForecast forecast)
    {
        forecast = default;
        var start = timestamp - (((timestamp % _bucketMs) + _bucketMs) % _bucketMs);
        var made = false;
        if (_n > 0 && start > _bucketStart)
        {
            made = CloseBucket(out forecast);
        }
        if (_n == 0 || start > _bucketStart)
        {
            _bucketStart = start;
            _sum = 0;
            _n = 0;
        }
        else if (start < _bucketStart)
        {
            return made; // older than the open bucket: its bucket was judged already
        }
        _sum += value;
        _n++;
        return made;
    }

    private bool CloseBucket(out LimitForecast forecast)
    {
        forecast = default;
        var mean = _sum / _n;
        var mid = _bucketStart + (_bucketMs / 2.0);
        _n = 0;
        if (_count > 0 && IsReset(mean))
        {
            _count = 0;
            _head = 0;
        }
        _t[_head] = mid;
        _y[_head] = mean;
        _head = (_head + 1) % _capacity;
        _count = Math.Min(_count + 1, _capacity);
        if (_count < 4)
        {
            return false;
        }
        var pairs = 0;
        for (var i = 0; i < _count; i++)
        {
            for (var j = i + 1; j < _count; j++)
            {
                _slopes[pairs++] = (_y[j] - _y[i]) / (_t[j] - _t[i]);
            }
        }
        var slopes = _slopes.AsSpan(0, pairs);
        slopes.Sort();
        var slope = Quantile(slopes, 0.5);
        for (var i = 0; i < _count; i++)
        {
            _residuals[i] = _y[i] - (slope * _t[i]);
        }
        var residuals = _residuals.AsSpan(0, _count);
        residuals.Sort();
        var now = _bucketStart + (double)_bucketMs;
        var level = Quantile(residuals, 0.5) + (slope * now);
        var steep = Quantile(slopes, _upper ? 1 - _quantile : _quantile);
        var shallow = Quantile(slopes, _upper ? _quantile : 1 - _quantile);
        var central = Crossing(level, slope);
        var early = Crossing(level, steep);
        var late = Crossing(level, shallow);
        // Accelerating wear: the newer half of the buckets runs steeper than the whole fit, so its line (level and
        // slope of its own) widens the interval towards an earlier crossing; for steady wear it agrees with the fit.
        if (HalfLine(now, newer: true, out var recentLevel, out var recentSlope))
        {
            var recent = Crossing(recentLevel, recentSlope);
            early = Math.Min(early, recent);
            late = Math.Max(late, recent);
            // If the rate itself grows (newer half steeper than the older by a clear factor), extrapolate that growth:
            // rate(τ) = r·g^{τ/h} reaches the gap G at τ = h / ln g · ln(1 + G·ln g / (r·h)).
            var toward = _upper ? recentSlope : -recentSlope;
            if (toward > 0 && HalfLine(now, newer: false, out _, out var olderSlope))
            {
                var older = _upper ? olderSlope : -olderSlope;
                var gap = _upper ? _limit - recentLevel : recentLevel - _limit;
                var h = _count / 2 * (double)_bucketMs;
                if (older > 0 && toward > older * 1.1 && gap > 0)
                {
                    var lnG = Math.Log(toward / older);
                    var growing = h / lnG * Math.Log(1 + (gap * lnG / (toward * h)));
                    early = Math.Min(early, growing);
                    central = growing;
                }
            }
        }
        forecast = new LimitForecast((long)now, level, slope * 3_600_000, central, early, Math.Max(late, central));
        return true;
    }

    /// <summary>Theil–Sen line over the newer (or older) half of the buckets (at least 3 points); reuses the slope and
    /// residual buffers.</summary>
    private bool HalfLine(double now, bool newer, out double level, out double slope)
    {
        level = slope = 0;
        var cut = now - (_count / 2 * (double)_bucketMs);
        var pairs = 0;
        var points = 0;
        for (var i = 0; i < _count; i++)
        {
            if (_t[i] >= cut != newer)
            {
                continue;
            }
            points++;
            for (var j = i + 1; j < _count; j++)
            {
                if (_t[j] >= cut == newer)
                {
                    _slopes[pairs++] = (_y[j] - _y[i]) / (_t[j] - _t[i]);
                }
            }
        }
        if (points < 3)
        {
            return false;
        }
        var slopes = _slopes.AsSpan(0, pairs);
        slopes.Sort();
        slope = Quantile(slopes, 0.5);
        var n = 0;
        for (var i = 0; i < _count; i++)
        {
            if (_t[i] >= cut == newer)
            {
                _residuals[n++] = _y[i] - (slope * _t[i]);
            }
        }
        var residuals = _residuals.AsSpan(0, n);
        residuals.Sort();
        level = Quantile(residuals, 0.5) + (slope * now);
        return true;
    }

    /// <summary>Milliseconds until <paramref name="level"/> moving at <paramref name="slope"/> per ms reaches the limit (0 if past it).</summary>
    private double Crossing(double level, double slope)
    {
        var gap = _upper ? _limit - level : level - _limit;
        if (gap <= 0)
        {
            return 0;
        }
        var toward = _upper ? slope : -slope;
        return toward > 0 ? gap / toward : double.PositiveInfinity;
    }

    /// <summary>A maintenance reset: the new mean falls back by more than half the rise over the fitted buckets and by
    /// more than four times the typical bucket-to-bucket step (noise alone does not do that).</summary>
    private bool IsReset(double mean)
    {
        var first = (_head - _count + _capacity) % _capacity;
        var newestIdx = (_head - 1 + _capacity) % _capacity;
        var rise = _upper ? _y[newestIdx] - _y[first] : _y[first] - _y[newestIdx];
        var drop = _upper ? _y[newestIdx] - mean : mean - _y[newestIdx];
        var step = 0.0;
        for (var k = 1; k < _count; k++)
        {
            step += Math.Abs(_y[(first + k) % _capacity] - _y[(first + k - 1) % _capacity]);
        }
        step /= Math.Max(1, _count - 1);
        return rise > 0 && drop > rise * 0.5 && drop > step * 4;
    }

    private static double Quantile(Span<double> sorted, double q)
    {
        var pos = q * (sorted.Length - 1);
        var lo = (int)Math.Floor(pos);
        var hi = Math.Min(sorted.Length - 1, lo + 1);
        return sorted[lo] + ((sorted[hi] - sorted[lo]) * (pos - lo));
    }
}
