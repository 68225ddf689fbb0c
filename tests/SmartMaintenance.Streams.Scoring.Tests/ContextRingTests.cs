using System.Numerics;
using System.Runtime.InteropServices;
using SmartMaintenance.Streams.Scoring.Detectors;
using SmartMaintenance.Streams.Scoring.Nab;
using Xunit;

namespace SmartMaintenance.Streams.Scoring.Tests;

/// <summary>
/// The ring-of-points context detector against the matrix-of-contexts implementation it replaced (kept here,
/// verbatim in its arithmetic, as the reference): every score must be the same float, reading by reading.
/// </summary>
public sealed class ContextRingTests
{
    [Theory]
    [InlineData(4)]
    [InlineData(48)]
    [InlineData(1)]
    public void Ring_scores_equal_the_matrix_reference_on_a_long_random_series(int stride)
    {
        var rng = new Random(11);
        var values = new double[40_000];
        var level = 0.0;
        for (var i = 0; i < values.Length; i++)
        {
            // Random walk plus noise plus occasional jumps: distances of every magnitude, many near-ties.
            level += rng.NextDouble() - 0.5;
            values[i] = level + (rng.NextDouble() * 3) + (rng.Next(500) == 0 ? 40 : 0) + (10 * Math.Sin(i / 40.0));
        }
        AssertSameScores(new DetectorOptions(), stride, values);
    }

    [Fact]
    public void Ring_scores_equal_the_matrix_reference_on_a_nab_series()
    {
        var path = Path.Combine(Synthetic.NabDev(), "data", "realKnownCause", "machine_temperature_system_failure.csv");
        var (_, values) = NabCorpus.ReadCsv(path);
        Assert.True(values.Length > 20_000);
        var options = new DetectorOptions();
        AssertSameScores(options, options.ContextStride, values);
        AssertSameScores(options, options.SlowContextStride, values);
    }

    [Fact]
    public void Ring_scores_equal_the_matrix_reference_with_a_short_history_and_odd_length()
    {
        // History 24 (a multiple of the vector width, as the reference rounded to it) and length 5: the ring wraps often.
        var options = new DetectorOptions { ContextHistory = 24, ContextLength = 5 };
        AssertSameScores(options, 2, Synthetic.Noise(20_000, seed: 3));
    }

    [Fact]
    public void Ring_stays_small_until_the_history_fills_and_never_exceeds_history_plus_two_lengths()
    {
        var options = new DetectorOptions();
        var detector = new ContextDetector(options, 1, "c");
        var state = default(ContextState);
        var level = new LevelEstimate(0, 1, 1, 100, 1, -1, 1);
        detector.Update(ref state, 0, 0.5, level);
        Assert.Equal(2 * options.ContextLength, state.Points!.Length);
        for (var i = 1; i < 10_000; i++)
        {
            detector.Update(ref state, i, Math.Sin(i), level);
        }
        Assert.Equal(options.ContextHistory + (2 * options.ContextLength) - 1, state.Points!.Length);
        Assert.Equal(detector.RingLength, state.Points.Length);
    }

    [Fact]
    public void Detector_snapshot_round_trips_at_every_ring_size()
    {
        var options = new DetectorOptions { ContextHistory = 40 };
        var detector = new ContextDetector(options, 1, "c");
        var values = Synthetic.Noise(400, seed: 5);
        var level = new LevelEstimate(50, 1, 1, 100, 52, 48, 2);
        var live = default(ContextState);
        for (var i = 0; i < values.Length; i++)
        {
            using var buffer = new MemoryStream();
            using (var w = new BinaryWriter(buffer, System.Text.Encoding.UTF8, leaveOpen: true))
            {
                detector.Write(live, w);
            }
            buffer.Position = 0;
            using var r = new BinaryReader(buffer);
            var restored = detector.Read(r);
            var a = detector.Update(ref live, i, values[i], level);
            var b = detector.Update(ref restored, i, values[i], level);
            Assert.Equal(a, b);
            Assert.Equal(live.Seen, restored.Seen);
        }
    }

    private static void AssertSameScores(DetectorOptions options, int stride, double[] values)
    {
        var levelDetector = new RobustLevelDetector(options);
        var ring = new ContextDetector(options, stride, "ring");
        var matrix = new MatrixReference(options, stride);
        var levelState = default(RobustLevelState);
        var ringState = default(ContextState);
        var matrixState = default(MatrixState);
        var scored = 0;
        for (var i = 0; i < values.Length; i++)
        {
            var level = levelDetector.Estimate(levelState);
            levelDetector.Update(ref levelState, i, values[i], level);
            var expected = matrix.Update(ref matrixState, i, values[i], level);
            var actual = ring.Update(ref ringState, i, values[i], level);
            if (expected != actual)
            {
                Assert.Fail($"Reading {i} (stride {stride}): ring {actual}, reference {expected}.");
            }
            scored += expected.Ratio > 0 ? 1 : 0;
        }
        // The comparison covered real searches, not only warm-up.
        Assert.True(scored > values.Length / stride / 2, $"only {scored} scored readings");
    }

    private struct MatrixState
    {
        public float[]? History;
        public float[]? Recent;
        public int Head;
        public int Filled;
        public long Seen;
        public double Typical;
        public double Acc;
        public int AccCount;
    }

    /// <summary>The previous implementation: past contexts as a History × Length structure-of-arrays matrix.</summary>
    private sealed class MatrixReference
    {
        private const float Empty = 1e15f;
        private readonly int _length;
        private readonly int _capacity;
        private readonly double _threshold;
        private readonly double _alpha;
        private readonly int _stride;

        public MatrixReference(DetectorOptions options, int stride)
        {
            _length = options.ContextLength;
            var lanes = Vector<float>.Count;
            _capacity = (options.ContextHistory + lanes - 1) / lanes * lanes;
            Assert.Equal(options.ContextHistory, _capacity);
            _threshold = options.ContextThreshold;
            _alpha = options.EffectiveContextAlpha;
            _stride = stride;
        }

        public DetectorScore Update(ref MatrixState s, long timestamp, double value, in LevelEstimate level)
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
            var typical = Math.Max(s.Typical, 0.05);
            var ratio = distance / (_threshold * typical);
            var searches = s.Filled - _length + 1;
            var update = searches <= 16 ? distance : Math.Min(distance, 3 * typical);
            s.Typical += Math.Max(_alpha, 1.0 / searches) * (update - s.Typical);
            return searches <= 16
                ? new DetectorScore(0, distance, typical, level.Scale, timestamp)
                : new DetectorScore(ratio, distance, typical, level.Scale, timestamp);
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
    }
}
