using System.Diagnostics;
using System.Numerics;
using System.Runtime.InteropServices;

namespace SmartMaintenance.Streams.Scoring.Detectors;

/// <summary>Per-sensor state of <see cref="ContextDetector"/>.</summary>
public struct ContextState
{
    /// <summary>
    /// Ring of the stride-aggregated standardized points: point p at [p % Points.Length]. Null until the first
    /// point; grows by doubling (no point is overwritten before it is full size) up to History + 2·Length − 1.
    /// </summary>
    public float[]? Points;
    /// <summary>Points produced so far.</summary>
    public long Seen;
    public double Typical;
    /// <summary>Sum and count of standardized readings in the current stride (piecewise aggregate).</summary>
    public double Acc;
    public int AccCount;
}

/// <summary>
/// Context novelty, an online nearest-neighbour detector in the spirit of KNN-CAD / CAD OSE: the last
/// <c>ContextLength</c> readings, standardized by the robust level, form a shape; its distance to the nearest
/// of the last <c>ContextHistory</c> shapes (excluding overlapping ones) measured against the running typical
/// nearest distance says how unlike anything recently seen the present is. It finds anomalies that are not
/// extreme in value (a missing daily peak, a changed rhythm) which z-scores cannot see.
/// </summary>
/// <remarks>
/// Multi-scale by piecewise aggregation: each context point is the mean of <c>ContextStride</c> standardized
/// readings, and the search runs once per stride, so a context spans Length·Stride readings and the history
/// History·Stride readings (a week of 5-minute data by default) at 1/Stride of the cost.
/// <para>
/// Storage: the history contexts are the consecutive windows of one point series (each new one is the context
/// that ended Length points ago, sliding by one point), so a single ring of History + 2·Length − 1 points holds
/// all of them and the current context: 1 KB per detector and sensor by default instead of a History × Length
/// matrix. The search is vectorized over contexts with unaligned loads from the ring (lane k of a load at
/// point p + j is element j of context p + k); the few contexts that cross the ring's wrap are scored one by one.
/// O(History·Length / Stride) per reading.
/// </para>
/// </remarks>
public sealed class ContextDetector : IDetector<ContextState>
{
    // Distances below this many scales are noise-level: keeps perfectly periodic signals from producing huge ratios.
    private const double TypicalFloor = 0.05;
    // Searches whose distances only calibrate the typical distance, before the detector may score.
    private const int MinSearches = 16;
    private const int StateFormat = 2;
    private readonly int _length;
    private readonly int _capacity;
    private readonly int _ringLength;
    private readonly int _initialRing;
    private readonly double _threshold;
    private readonly double _alpha;
    private readonly int _stride;

    public ContextDetector(DetectorOptions options)
        : this(options, options?.ContextStride ?? 1, "context")
    {
    }

    /// <summary>A context detector at another time scale (stride), e.g. the slow one of the ensemble.</summary>
    public ContextDetector(DetectorOptions options, int stride, string name)
    {
        ArgumentNullException.ThrowIfNull(options);
        _length = options.ContextLength;
        _capacity = options.ContextHistory;
        // The oldest history context starts History + 2L − 2 points before the newest point.
        _ringLength = _capacity + (2 * _length) - 1;
        _initialRing = Math.Min(2 * _length, _ringLength);
        _threshold = options.ContextThreshold;
        _alpha = options.EffectiveContextAlpha;
        ArgumentOutOfRangeException.ThrowIfLessThan(stride, 1);
        _stride = stride;
        Name = name;
    }

    public string Name { get; }

    /// <summary>Points the ring holds once full (History + 2·Length − 1): the detector's steady-state memory in floats.</summary>
    public int RingLength => _ringLength;

    public DetectorScore Update(ref ContextState s, long timestamp, double value, in LevelEstimate level)
    {
        s.Acc += level.Count < 2 ? 0 : Math.Clamp((value - level.Mean) / level.Scale, -50, 50);
        if (++s.AccCount < _stride)
        {
            return DetectorScore.None(timestamp);
        }
        var z = s.Acc / s.AccCount;
        s.Acc = 0;
        s.AccCount = 0;
        var n = s.Seen;
        var ring = s.Points;
        if (ring is null || (n >= ring.Length && ring.Length < _ringLength))
        {
            // Allocated on the first point and grown while not yet wrapped, so a sensor seen a few times stays small.
            ring = s.Points = Grow(ring, n);
        }
        var ringLen = ring.Length;
        ring[(int)(n % ringLen)] = (float)z;
        s.Seen = ++n;
        // History contexts start at points [n − 2L − filled + 1, n − 2L]: those that no longer overlap the current one.
        var filled = (int)Math.Min(n - (2 * _length) + 1, _capacity);
        if (filled < _length)
        {
            return DetectorScore.None(timestamp);
        }

        Span<float> current = stackalloc float[64];
        var first = n - _length;
        for (var j = 0; j < _length; j++)
        {
            current[j] = ring[(int)((first + j) % ringLen)];
        }
        var newest = n - (2 * _length);
        var best = NearestSquared(ring, newest - filled + 1, newest, current[.._length]);
        var distance = Math.Sqrt(best / _length);
        var typical = Math.Max(s.Typical, TypicalFloor);
        var ratio = distance / (_threshold * typical);
        // Clipped update: one novel shape does not inflate what counts as typical. The first searches average
        // plainly (1/n) so the typical distance is estimated before it is trusted.
        var searches = filled - _length + 1;
        var update = searches <= MinSearches ? distance : Math.Min(distance, 3 * typical);
        s.Typical += Math.Max(_alpha, 1.0 / searches) * (update - s.Typical);
        if (searches <= MinSearches)
        {
            return new DetectorScore(0, distance, typical, level.Scale, timestamp);
        }
        return new DetectorScore(ratio, distance, typical, level.Scale, timestamp);
    }

    private float[] Grow(float[]? ring, long points)
    {
        if (ring is null)
        {
            return new float[_initialRing];
        }
        // Still unwrapped (it grows before the first overwrite): point p sits at index p in both.
        var grown = new float[(int)Math.Min(2L * ring.Length, _ringLength)];
        ring.AsSpan(0, (int)points).CopyTo(grown);
        return grown;
    }

    /// <summary>Ring length after <paramref name="points"/> points (the growth sequence of <see cref="Update"/>).</summary>
    private int LengthFor(long points)
    {
        var len = _initialRing;
        while (len < points && len < _ringLength)
        {
            len = (int)Math.Min(2L * len, _ringLength);
        }
        return len;
    }

    /// <summary>Smallest squared distance between <paramref name="current"/> and the contexts starting at points lo..hi.</summary>
    private float NearestSquared(float[] ring, long lo, long hi, ReadOnlySpan<float> current)
    {
        var len = ring.Length;
        var best = float.MaxValue;
        var p = lo;
        while (p <= hi)
        {
            var i = (int)(p % len);
            if (i + _length <= len)
            {
                // A run of contexts that lie contiguously in the ring.
                var run = (int)Math.Min(hi - p + 1, len - _length - i + 1);
                best = Math.Min(best, Linear(ring, i, run, current));
                p += run;
            }
            else
            {
                best = Math.Min(best, Wrapped(ring, i, current));
                p++;
            }
        }
        return best;
    }

    /// <summary>Contexts starting at ring indices first..first+count−1, all of whose points precede the ring's end.</summary>
    private static float Linear(float[] ring, int first, int count, ReadOnlySpan<float> current)
    {
        var lanes = Vector<float>.Count;
        var m = float.MaxValue;
        if (count < lanes)
        {
            for (var k = 0; k < count; k++)
            {
                m = Math.Min(m, Squared(ring.AsSpan(first + k, current.Length), current));
            }
            return m;
        }
        Debug.Assert(first + count - 1 + current.Length <= ring.Length);
        ref var data = ref MemoryMarshal.GetArrayDataReference(ring);
        var min = new Vector<float>(float.MaxValue);
        for (var k = 0; ; k += lanes)
        {
            // The last block overlaps the one before instead of a scalar tail: a minimum does not mind duplicates.
            var start = first + Math.Min(k, count - lanes);
            var acc = Vector<float>.Zero;
            for (var j = 0; j < current.Length; j++)
            {
                var d = Vector.LoadUnsafe(ref data, (nuint)(start + j)) - new Vector<float>(current[j]);
                acc += d * d;
            }
            min = Vector.Min(min, acc);
            if (k + lanes >= count)
            {
                break;
            }
        }
        for (var i = 0; i < lanes; i++)
        {
            m = Math.Min(m, min[i]);
        }
        return m;
    }

    /// <summary>The context starting at ring index <paramref name="first"/> whose points continue at index 0.</summary>
    private static float Wrapped(float[] ring, int first, ReadOnlySpan<float> current)
    {
        var acc = 0f;
        var i = first;
        for (var j = 0; j < current.Length; j++)
        {
            var d = ring[i] - current[j];
            acc += d * d;
            if (++i == ring.Length)
            {
                i = 0;
            }
        }
        return acc;
    }

    // Same operations, in the same order, as one lane of the vector loop: the results are the same floats.
    private static float Squared(ReadOnlySpan<float> context, ReadOnlySpan<float> current)
    {
        var acc = 0f;
        for (var j = 0; j < current.Length; j++)
        {
            var d = context[j] - current[j];
            acc += d * d;
        }
        return acc;
    }

    /// <summary>Format 2: configuration (length, history, stride), counters, then the held points oldest first.</summary>
    public void Write(in ContextState s, BinaryWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Write(StateFormat);
        writer.Write(_length);
        writer.Write(_capacity);
        writer.Write(_stride);
        writer.Write(s.Seen);
        writer.Write(s.Typical);
        writer.Write(s.Acc);
        writer.Write(s.AccCount);
        if (s.Points is not { } ring)
        {
            return;
        }
        var held = (int)Math.Min(s.Seen, ring.Length);
        for (var p = s.Seen - held; p < s.Seen; p++)
        {
            writer.Write(ring[(int)(p % ring.Length)]);
        }
    }

    public ContextState Read(BinaryReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var format = reader.ReadInt32();
        if (format != StateFormat)
        {
            throw new InvalidDataException($"Context snapshot format {format} is not supported (expected {StateFormat}).");
        }
        var (length, capacity, stride) = (reader.ReadInt32(), reader.ReadInt32(), reader.ReadInt32());
        if (length != _length || capacity != _capacity || stride != _stride)
        {
            throw new InvalidDataException(
                $"Context snapshot of {Name} was taken with length {length}, history {capacity}, stride {stride}; the configuration has {_length}, {_capacity}, {_stride}.");
        }
        var s = new ContextState { Seen = reader.ReadInt64(), Typical = reader.ReadDouble(), Acc = reader.ReadDouble(), AccCount = reader.ReadInt32() };
        if (s.Seen < 0 || s.AccCount < 0 || s.AccCount >= _stride)
        {
            throw new InvalidDataException($"Context snapshot of {Name} has invalid counters.");
        }
        if (s.Seen == 0)
        {
            return s;
        }
        var ring = new float[LengthFor(s.Seen)];
        var held = (int)Math.Min(s.Seen, ring.Length);
        for (var p = s.Seen - held; p < s.Seen; p++)
        {
            ring[(int)(p % ring.Length)] = reader.ReadSingle();
        }
        s.Points = ring;
        return s;
    }
}
