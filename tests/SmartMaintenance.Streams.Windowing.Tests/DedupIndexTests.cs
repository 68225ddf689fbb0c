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
    public void Readings_with_up_to_three_decimals_take_about_four_bytes_others_eleven_and_times_weeks_apart_a_few_more()
    {
        var narrow = default(DedupIndex);
        var wide = default(DedupIndex);
        var apart = default(DedupIndex);
        for (var i = 0; i < 40; i++)
        {
            // 1 s apart, 0.1 steps: 2 bytes of time delta, 2 of value delta.
            narrow.Insert(1_700_000_000_000 + (i * 1000), BitConverter.DoubleToInt64Bits(60 + (i * 0.1)), -1, 0);
            // No v·1000 form: 2 bytes of time delta, a marker and the 8 value bytes.
            wide.Insert(1_700_000_000_000 + (i * 1000), BitConverter.DoubleToInt64Bits(60 + (i * 0.1) + 1e-9), -1, 0);
            // 30 days apart: 5 bytes of time delta.
            apart.Insert(1_700_000_000_000 + (i * 30L * 86_400_000), BitConverter.DoubleToInt64Bits(60 + (i * 0.1)), -1, 0);
        }
        // Entry bytes plus at most a quarter of growth slack (and the first entry's absolute time).
        Assert.InRange(narrow.HeapBytes - 24, 40 * 4, (40 * 4 * 5 / 4) + 16);
        Assert.InRange(wide.HeapBytes - 24, 40 * 11, (40 * 11 * 5 / 4) + 16);
        Assert.InRange(apart.HeapBytes - 24, 40 * 7, (40 * 7 * 5 / 4) + 16);
        Assert.True(apart.Contains(1_700_000_000_000 + (39 * 30L * 86_400_000), BitConverter.DoubleToInt64Bits(60 + (39 * 0.1)), -1, 0));
        Assert.True(narrow.Contains(1_700_000_000_000 + 5000, BitConverter.DoubleToInt64Bits(60 + (5 * 0.1)), -1, 0));
        Assert.False(narrow.Contains(1_700_000_000_000 + 5000, BitConverter.DoubleToInt64Bits(60 + (5 * 0.1) + 1e-9), -1, 0));
        Assert.True(wide.Contains(1_700_000_000_000 + 5000, BitConverter.DoubleToInt64Bits(60 + (5 * 0.1) + 1e-9), -1, 0));
        Assert.False(wide.Contains(1_700_000_000_000 + 5000, BitConverter.DoubleToInt64Bits(60 + (5 * 0.1)), -1, 0));
    }

    [Fact]
    public void Seqs_numbered_one_by_one_cost_a_byte_per_entry_and_a_key_that_starts_sending_them_keeps_its_entries()
    {
        var plain = default(DedupIndex);
        var numbered = default(DedupIndex);
        var late = default(DedupIndex);
        for (var i = 0; i < 40; i++)
        {
            var ts = 1_700_000_000_000 + (i * 1000);
            var bits = BitConverter.DoubleToInt64Bits(60 + (i * 0.1));
            plain.Insert(ts, bits, -1, 0);
            numbered.Insert(ts, bits, 1000 + i, 0);
            // Seqs from the 20th reading on: the earlier entries stay findable by time and value.
            late.Insert(ts, bits, i >= 20 ? i : -1, 0);
        }
        Assert.InRange(numbered.HeapBytes - plain.HeapBytes, 0, (40 * 5 / 4) + 16);
        Assert.True(numbered.Contains(1_700_000_000_000 + 50_000, 0, 1010, 0));
        Assert.False(numbered.Contains(1_700_000_000_000 + 50_000, 0, 1040, 0));
        Assert.True(late.Contains(1_700_000_000_000 + 5000, BitConverter.DoubleToInt64Bits(60 + (5 * 0.1)), -1, 0));
        Assert.True(late.Contains(1_700_000_000_000 + 50_000, 0, 25, 0));
        Assert.False(late.Contains(1_700_000_000_000 + 50_000, 0, 5, 0));
    }

    [Fact]
    public void Out_of_order_readings_and_expiry_keep_every_live_entry_findable()
    {
        var index = default(DedupIndex);
        var memory = new List<(long Ts, long Bits)>();
        var random = new Random(5);
        long low = long.MinValue;
        for (var i = 0; i < 2000; i++)
        {
            // Mostly in order, every fifth reading up to 50 s back; values mix v·1000 forms and raw bits, extremes included.
            var ts = (i * 1000L) - (i % 5 == 0 ? random.Next(0, 50_000) : 0);
            var value = (i % 7) switch
            {
                0 => double.MaxValue,
                1 => -1e-300,
                2 => 2_147_483.647,
                3 => -2_147_483.647,
                _ => random.Next(-100_000, 100_000) / 1000.0,
            };
            var bits = BitConverter.DoubleToInt64Bits(value);
            if (ts < low || memory.Any(m => m.Ts >= low && m.Ts == ts && m.Bits == bits))
            {
                continue;
            }
            index.Insert(ts, bits, -1, low);
            memory.Add((ts, bits));
            low = (i * 1000L) - 120_000;
            if (i % 50 == 0)
            {
                foreach (var (t, b) in memory.Where(m => m.Ts >= low))
                {
                    Assert.True(index.Contains(t, b, -1, low), $"lost {t}");
                    Assert.False(index.Contains(t, b ^ 1, -1, low));
                }
            }
        }
        // Only about two minutes are live: the memory stays small however long the key reports.
        Assert.True(index.HeapBytes < 24 + (160 * 12), $"{index.HeapBytes} bytes");
    }
}
