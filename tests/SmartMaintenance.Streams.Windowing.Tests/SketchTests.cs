using SmartMaintenance.Streams.Windowing;
using Xunit;

namespace SmartMaintenance.Streams.Windowing.Tests;

public sealed class SketchTests
{
    private static (QuantileSketch Sketch, SketchMapping Mapping, BucketPool Pool) Build(IEnumerable<double> values, double alpha = 0.02, int maxBuckets = 128)
    {
        var mapping = new SketchMapping(alpha, maxBuckets);
        var pool = new BucketPool();
        var sketch = default(QuantileSketch);
        foreach (var v in values)
        {
            sketch.Add(v, mapping, pool);
        }
        return (sketch, mapping, pool);
    }

    [Theory]
    [InlineData(0.02)]
    [InlineData(0.01)]
    [InlineData(0.05)]
    public void Quantiles_are_within_relative_accuracy_for_mixed_sign_values_and_zeros(double alpha)
    {
        var random = new Random(42);
        var values = Enumerable.Range(0, 5000).Select(i => i % 17 == 0 ? 0.0 : (random.NextDouble() - 0.3) * 200).ToList();
        var (sketch, mapping, pool) = Build(values, alpha, 1024);
        var sorted = values.Order().ToList();
        foreach (var q in new[] { 0.0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1.0 })
        {
            Expectations.AssertQuantile(sorted, q, sketch.Quantile(q, mapping, pool), alpha);
        }
    }

    [Fact]
    public void Merged_sketch_answers_like_one_sketch_over_both_inputs()
    {
        var a = Enumerable.Range(1, 300).Select(i => (double)i).ToList();
        var b = Enumerable.Range(-200, 150).Select(i => i * 0.5).ToList();
        var (sa, mapping, pool) = Build(a);
        var sb = default(QuantileSketch);
        foreach (var v in b)
        {
            sb.Add(v, mapping, pool);
        }
        var (whole, _, wholePool) = Build(a.Concat(b));
        sa.MergeFrom(sb, mapping, pool);
        Assert.Equal(whole.Count(wholePool), sa.Count(pool));
        foreach (var q in new[] { 0.0, 0.3, 0.5, 0.95, 0.99, 1.0 })
        {
            Assert.Equal(whole.Quantile(q, mapping, wholePool), sa.Quantile(q, mapping, pool));
        }
    }

    [Fact]
    public void Values_too_wide_for_the_bucket_limit_collapse_the_smallest_and_keep_the_upper_quantiles()
    {
        var values = Enumerable.Range(0, 60).Select(i => Math.Pow(10, i / 10.0)).ToList();
        var (sketch, mapping, pool) = Build(values, 0.02, 32);
        Assert.True(sketch.HeapBytes(pool) <= 8 + 72 + 24 + (4 * 32));
        var sorted = values.Order().ToList();
        Expectations.AssertQuantile(sorted, 0.99, sketch.Quantile(0.99, mapping, pool));
        Expectations.AssertQuantile(sorted, 1.0, sketch.Quantile(1.0, mapping, pool));
    }

    [Fact]
    public void Empty_sketch_has_no_quantile_and_released_arrays_are_reused()
    {
        var (sketch, mapping, pool) = Build([]);
        Assert.True(double.IsNaN(sketch.Quantile(0.5, mapping, pool)));
        for (var i = 0; i <= QuantileSketch.InlineCapacity; i++)
        {
            sketch.Add(10, mapping, pool);
        }
        var dense = sketch.Dense(pool);
        var array = dense!.Positive.Counts;
        sketch.Release(pool);
        Assert.Equal(0, sketch.Count(pool));
        for (var i = 0; i <= QuantileSketch.InlineCapacity; i++)
        {
            sketch.Add(20, mapping, pool);
        }
        Assert.Same(dense, sketch.Dense(pool));
        Assert.Same(array, sketch.Dense(pool)!.Positive.Counts);
        Assert.Equal(20, sketch.Quantile(0.5, mapping, pool), 20 * 0.02);
    }

    private static readonly double[] Quantiles = [0.0, 0.01, 0.25, 0.5, 0.75, 0.95, 0.99, 1.0];

    /// <summary>The same values straight into bucket arrays: what every representation must answer.</summary>
    private static DenseSketch DenseOf(IEnumerable<double> values, SketchMapping mapping, BucketPool pool)
    {
        var dense = new DenseSketch();
        foreach (var v in values)
        {
            dense.Add(v, mapping, pool);
        }
        return dense;
    }

    private static double[] RandomValues(Random random, int n) =>
        [.. Enumerable.Range(0, n).Select(_ => random.Next(6) switch
        {
            0 => 0.0,
            1 => -random.NextDouble() * 50,
            2 => Math.Pow(10, random.Next(-3, 6)) * random.NextDouble(),
            _ => 60 + (random.NextDouble() * 20),
        })];

    [Fact]
    public void Small_sketches_stay_inline_and_answer_exactly_like_bucket_arrays_across_the_transition()
    {
        var random = new Random(7);
        foreach (var maxBuckets in new[] { 8, 128 })
        {
            var mapping = new SketchMapping(0.02, maxBuckets);
            var pool = new BucketPool();
            for (var n = 1; n <= 3 * QuantileSketch.InlineCapacity; n++)
            {
                for (var trial = 0; trial < 30; trial++)
                {
                    var values = RandomValues(random, n);
                    var sketch = default(QuantileSketch);
                    foreach (var v in values)
                    {
                        sketch.Add(v, mapping, pool);
                    }
                    Assert.Equal(n > QuantileSketch.InlineCapacity, sketch.IsDense);
                    Assert.Equal(n, sketch.Count(pool));
                    var dense = DenseOf(values, mapping, pool);
                    var sorted = values.Order().ToList();
                    foreach (var q in Quantiles)
                    {
                        Assert.Equal(dense.Quantile(q, mapping), sketch.Quantile(q, mapping, pool));
                        if (maxBuckets == 128 && WithinBucketLimit(values.Where(v => v > 0)) && WithinBucketLimit(values.Where(v => v < 0)))
                        {
                            // Spans within the bucket limit: the documented bound holds.
                            Expectations.AssertQuantile(sorted, q, sketch.Quantile(q, mapping, pool));
                        }
                    }
                    sketch.Release(pool);
                }
            }
        }
    }

    // 128 buckets at α = 2 % cover a ratio of about 167 per sign.
    private static bool WithinBucketLimit(IEnumerable<double> values)
    {
        var abs = values.Select(Math.Abs).ToList();
        return abs.Count == 0 || abs.Max() / abs.Min() < 100;
    }

    [Fact]
    public void Merging_inline_and_dense_sketches_in_any_order_answers_like_one_sketch_over_all_values()
    {
        var random = new Random(11);
        var mapping = new SketchMapping(0.02, 16);
        var pool = new BucketPool();
        for (var trial = 0; trial < 300; trial++)
        {
            var parts = Enumerable.Range(0, random.Next(1, 6)).Select(_ => RandomValues(random, random.Next(0, 12))).ToList();
            var sketches = parts.Select(p =>
            {
                var s = default(QuantileSketch);
                foreach (var v in p)
                {
                    s.Add(v, mapping, pool);
                }
                return s;
            }).ToList();
            var merged = default(QuantileSketch);
            foreach (var i in Enumerable.Range(0, sketches.Count).OrderBy(_ => random.Next()))
            {
                merged.MergeFrom(sketches[i], mapping, pool);
            }
            var all = parts.SelectMany(p => p).ToList();
            Assert.Equal(all.Count, merged.Count(pool));
            Assert.Equal(all.Count > QuantileSketch.InlineCapacity, merged.IsDense);
            var dense = DenseOf(all, mapping, pool);
            foreach (var q in Quantiles)
            {
                Assert.Equal(dense.Quantile(q, mapping), merged.Quantile(q, mapping, pool));
            }
            merged.Release(pool);
        }
    }

    [Fact]
    public void Values_whose_bucket_does_not_fit_an_inline_code_move_to_bucket_arrays_with_the_same_answers()
    {
        var mapping = new SketchMapping(0.02, 128);
        var pool = new BucketPool();
        foreach (var huge in new[] { 1e150, -1e200, 1e300 })
        {
            var sketch = default(QuantileSketch);
            sketch.Add(5, mapping, pool);
            sketch.Add(huge, mapping, pool);
            Assert.True(sketch.IsDense);
            Assert.Equal(2, sketch.Count(pool));
            var dense = DenseOf([5, huge], mapping, pool);
            foreach (var q in Quantiles)
            {
                Assert.Equal(dense.Quantile(q, mapping), sketch.Quantile(q, mapping, pool));
            }
            Expectations.AssertQuantile([Math.Min(5, huge), Math.Max(5, huge)], 1.0, sketch.Quantile(1.0, mapping, pool));
            sketch.Release(pool);
        }
    }

    [Fact]
    public void A_pane_takes_eighty_bytes_and_its_sketch_twelve()
    {
        // Six panes per key for a 5-minute hopping spec at 1M keys: each byte here is 6 MB.
        Assert.Equal(12, System.Runtime.CompilerServices.Unsafe.SizeOf<QuantileSketch>());
        Assert.Equal(80, System.Runtime.CompilerServices.Unsafe.SizeOf<Pane>());
    }

    [Fact]
    public void Welford_moments_stay_accurate_for_large_offsets()
    {
        var mapping = new SketchMapping(0.02, 128);
        var pool = new BucketPool();
        var acc = default(Accumulator);
        var merged = default(Accumulator);
        var part = default(Accumulator);
        for (var i = 0; i < 1000; i++)
        {
            var v = 1e9 + (i % 2 == 0 ? 1 : -1);
            acc.Add(i, v, mapping, pool);
            if (i < 400)
            {
                merged.Add(i, v, mapping, pool);
            }
            else
            {
                part.Add(i, v, mapping, pool);
            }
        }
        merged.Merge(part, mapping, pool);
        var expected = Math.Sqrt(1000.0 / 999.0);
        Assert.Equal(expected, acc.StdDev, 1e-9);
        Assert.Equal(expected, merged.StdDev, 1e-9);
        Assert.Equal(1e9, merged.Mean, 1e-6);
        Assert.Equal((0L, 999L), (merged.FirstTs, merged.LastTs));
    }
}
