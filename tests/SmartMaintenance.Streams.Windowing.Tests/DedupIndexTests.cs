using SmartMaintenance.Streams.Windowing;
using Xunit;

namespace SmartMaintenance.Streams.Windowing.Tests;

public sealed class DedupIndexTests
{
    // Narrow (≤ 3 decimals), wide (more decimals, huge, negative zero) and values that differ only in low bits.
    private static readonly double[] Values =
    [
        0.0, -0.0, 72.3, 72.30000000000001, 0.125, 101325, -17.5, 1e-4, 1e12, 3.14159, 2_147_483.647, 2_147_483.648,
        BitConverter.Int64BitsToDouble(BitConverter.DoubleToInt64Bits(72.3) + 1),
    ];

    [Fact]
    public void Lookups_match_a_brute_force_memory_through_narrow_and_wide_forms_and_time_jumps()
    {
        var random = new Random(3);
        for (var trial = 0; trial < 200; trial++)
        {
            var index = default(DedupIndex);
            var memory = new List<(long Ts, long Bits, long Seq)>();
            long low = -1000;
            long clock = 0;
            var narrowOnly = trial % 3 == 0;
            for (var step = 0; step < 300; step++)
            {
                clock += random.Next(0, 30);
                if (random.Next(40) == 0)
                {
                    // A jump beyond the 32-bit offset of the narrow form.
                    clock += 30L * 86_400_000;
                }
                low = Math.Max(low, clock - random.Next(100, 400));
                var ts = random.Next(4) == 0 && memory.Count > 0 ? memory[random.Next(memory.Count)].Ts : clock - random.Next(0, 200);
                var value = narrowOnly ? Values[random.Next(2, 5)] : Values[random.Next(Values.Length)];
                var bits = BitConverter.DoubleToInt64Bits(value);
                var seq = random.Next(3) == 0 ? random.Next(50) : -1L;
                var expected = memory.Any(m => m.Ts >= low && ((m.Ts == ts && m.Bits == bits) || (seq >= 0 && m.Seq == seq)));
                Assert.Equal(expected, index.Contains(ts, bits, seq, low));
                if (!expected && ts >= low)
                {
                    index.Insert(ts, bits, seq, low);
                    memory.Add((ts, bits, seq));
                }
            }
        }
    }

    [Fact]
    public void A_seq_below_the_highest_remembered_one_is_still_found_and_one_above_it_is_new()
    {
        var index = default(DedupIndex);
        var bits = BitConverter.DoubleToInt64Bits(1.5);
        index.Insert(1_000, bits, 10, 0);
        index.Insert(2_000, bits, 5, 0);

        // Different times and values: only the seq can match.
        Assert.True(index.Contains(3_000, BitConverter.DoubleToInt64Bits(2.5), 5, 0));
        Assert.True(index.Contains(3_000, BitConverter.DoubleToInt64Bits(2.5), 10, 0));
        Assert.False(index.Contains(3_000, BitConverter.DoubleToInt64Bits(2.5), 7, 0));
        Assert.False(index.Contains(3_000, BitConverter.DoubleToInt64Bits(2.5), 11, 0));
        // A remembered seq older than the horizon no longer counts.
        Assert.False(index.Contains(3_000, BitConverter.DoubleToInt64Bits(2.5), 10, 1_500));
    }

    [Fact]
    public void Readings_with_up_to_three_decimals_take_eight_bytes_others_twelve_and_times_weeks_apart_sixteen()
    {
        var narrow = default(DedupIndex);
        var wide = default(DedupIndex);
        var full = default(DedupIndex);
        for (var i = 0; i < 40; i++)
        {
            narrow.Insert(1_700_000_000_000 + (i * 1000), BitConverter.DoubleToInt64Bits(60 + (i * 0.1)), -1, 0);
            wide.Insert(1_700_000_000_000 + (i * 1000), BitConverter.DoubleToInt64Bits(60 + (i * 0.1) + 1e-9), -1, 0);
            full.Insert(1_700_000_000_000 + (i * 30L * 86_400_000), BitConverter.DoubleToInt64Bits(60 + (i * 0.1)), -1, 0);
        }
        // Same number of entries, same growth: array bytes in the ratio of the entry sizes.
        Assert.Equal((narrow.HeapBytes - 24) * 3 / 2, wide.HeapBytes - 24, 8.0);
        Assert.Equal((narrow.HeapBytes - 24) * 2, full.HeapBytes - 24);
        Assert.True(full.Contains(1_700_000_000_000 + (39 * 30L * 86_400_000), BitConverter.DoubleToInt64Bits(60 + (39 * 0.1)), -1, 0));
        Assert.True(narrow.Contains(1_700_000_000_000 + 5000, BitConverter.DoubleToInt64Bits(60 + (5 * 0.1)), -1, 0));
        Assert.False(narrow.Contains(1_700_000_000_000 + 5000, BitConverter.DoubleToInt64Bits(60 + (5 * 0.1) + 1e-9), -1, 0));
        Assert.True(wide.Contains(1_700_000_000_000 + 5000, BitConverter.DoubleToInt64Bits(60 + (5 * 0.1) + 1e-9), -1, 0));
    }
}
