using System.Numerics;
using System.Runtime.InteropServices;

namespace SmartMaintenance.Streams.Scoring.Detectors;

/// <summary>Per-sensor state of <see cref="ContextDetector"/>. The arrays are allocated once, on the sensor's first reading.</summary>
public struct ContextState
{
    /// <summary>Past contexts, structure-of-arrays: element j of context i at [j * capacity + i].</summary>
    public float[]? History;
    /// <summary>Ring of the last 2·L normalized readings.</summary>
    public float[]? Recent;
    public int Head;
    public int Filled;
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
/// History·Stride readings (a week of 5-minute data by default) at 1/Stride of the cost. The search is
/// vectorized over contexts (SoA layout): O(History·Length / Stride) per reading.
/// </remarks>
public sealed class ContextDetector : IDetector<ContextState>
{
    private const float Empty = 1e15f;
    // Distances below this many scales are noise-level: keeps perfectly periodic signals from producing huge ratios.
    private const double TypicalFloor = 0.05;
    // Searches whose distances only calibrate the typical distance, before the detector may score.
    private const int MinSearches = 16;
    private readonly int _length;
    private readonly int _capacity;
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
        // Round up to whole vectors so the search has no scalar tail.
        var lanes = Vector<float>.Count;
        _capacity = (options.ContextHistory + lanes - 1) / lanes * lanes;
        _threshold = options.ContextThreshold;
        _alpha = options.ContextAlpha;
        ArgumentOutOfRangeException.ThrowIfLessThan(stride, 1);
        _stride = stride;
        Name = name;
    }

    public string Name { get; }

    public DetectorScore Update(ref ContextState s, long timestamp, double value, in LevelEstimate level)
    {
        if (s.History is null || s.Recent is null)
        {
            s.History = new float[_length * _capacity];
            s.History.AsSpan().Fill(Empty);
            s.Recent = new float[2 * _length];
        }
        var ring = s.Recent;
        s.Acc += level.Count < 2 ? 0 : Math.Clamp((value - level.Mean) / level.Scale, -50, 50);
        if (++s.AccCount < _stride)
        {
            return DetectorScore.None(timestamp);
        }
        var z = s.Acc / s.AccCount;
        s.Acc = 0;
        s.AccCount = 0;
        var ringLen = ring.Length;
        ring[(int)(s.Seen % ringLen)] = (float)z;
        s.Seen++;
        if (s.Seen >= ringLen)
        {
            // The context that ended L readings ago no longer overlaps the current one: it joins the history.
            var start = s.Seen - ringLen;
            for (var j = 0; j < _length; j++)
            {
                s.History[(j * _capacity) + s.Head] = ring[(int)((start + j) % ringLen)];
            }
            s.Head = (s.Head + 1) % _capacity;
            s.Filled = Math.Min(s.Filled + 1, _capacity);
        }
        if (s.Filled < _length)
        {
            return DetectorScore.None(timestamp);
        }

        Span<float> current = stackalloc float[64];
        var first = s.Seen - _length;
        for (var j = 0; j < _length; j++)
        {
            current[j] = ring[(int)((first + j) % ringLen)];
        }
        var best = NearestSquared(s.History, current[.._length]);
        var distance = Math.Sqrt(best / _length);
        var typical = Math.Max(s.Typical, TypicalFloor);
        var ratio = distance / (_threshold * typical);
        // Clipped update: one novel shape does not inflate what counts as typical. The first searches average
        // plainly (1/n) so the typical distance is estimated before it is trusted.
        var searches = s.Filled - _length + 1;
        var update = searches <= MinSearches ? distance : Math.Min(distance, 3 * typical);
        s.Typical += Math.Max(_alpha, 1.0 / searches) * (update - s.Typical);
        if (searches <= MinSearches)
        {
            return new DetectorScore(0, distance, typical, level.Scale, timestamp);
        }
        return new DetectorScore(ratio, distance, typical, level.Scale, timestamp);
    }

    private float NearestSquared(float[] history, ReadOnlySpan<float> current)
    {
        var lanes = Vector<float>.Count;
        var hist = MemoryMarshal.Cast<float, Vector<float>>(history.AsSpan());
        var blocks = _capacity / lanes;
        var min = new Vector<float>(float.MaxValue);
        for (var b = 0; b < blocks; b++)
        {
            var acc = Vector<float>.Zero;
            for (var j = 0; j < current.Length; j++)
            {
                var d = hist[(j * blocks) + b] - new Vector<float>(current[j]);
                acc += d * d;
            }
            min = Vector.Min(min, acc);
        }
        var m = float.MaxValue;
        for (var i = 0; i < lanes; i++)
        {
            m = Math.Min(m, min[i]);
        }
        return m;
    }

    public void Write(in ContextState s, BinaryWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Write(s.History is not null);
        if (s.History is null || s.Recent is null)
        {
            return;
        }
        writer.Write(s.History.Length);
        writer.Write(MemoryMarshal.AsBytes(s.History.AsSpan()));
        writer.Write(s.Recent.Length);
        writer.Write(MemoryMarshal.AsBytes(s.Recent.AsSpan()));
        writer.Write(s.Head);
        writer.Write(s.Filled);
        writer.Write(s.Seen);
        writer.Write(s.Typical);
        writer.Write(s.Acc);
        writer.Write(s.AccCount);
    }

    public ContextState Read(BinaryReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        if (!reader.ReadBoolean())
        {
            return default;
        }
        var history = new float[reader.ReadInt32()];
        if (history.Length != _length * _capacity)
        {
            throw new InvalidDataException($"Context snapshot has {history.Length} history cells, configuration needs {_length * _capacity}.");
        }
        reader.BaseStream.ReadExactly(MemoryMarshal.AsBytes(history.AsSpan()));
        var recent = new float[reader.ReadInt32()];
        if (recent.Length != 2 * _length)
        {
            throw new InvalidDataException("Context snapshot has a different context length than the configuration.");
        }
        reader.BaseStream.ReadExactly(MemoryMarshal.AsBytes(recent.AsSpan()));
        return new ContextState
        {
            History = history,
            Recent = recent,
            Head = reader.ReadInt32(),
            Filled = reader.ReadInt32(),
            Seen = reader.ReadInt64(),
            Typical = reader.ReadDouble(),
            Acc = reader.ReadDouble(),
            AccCount = reader.ReadInt32(),
        };
    }
}
