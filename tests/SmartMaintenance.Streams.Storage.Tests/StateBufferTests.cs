using SmartMaintenance.Streams.Storage;
using Xunit;

namespace SmartMaintenance.Streams.Storage.Tests;

/// <summary>The chunked buffer of a batch's detector state bytes.</summary>
public class StateBufferTests
{
    [Fact]
    public void Rows_read_back_exactly_also_those_that_straddle_a_chunk_boundary()
    {
        var buffer = new StateBuffer();
        var rows = new List<(long Start, byte[] Bytes)>();
        var rng = new Random(5);
        // ≈ 2.6 MiB in rows of 1 B .. 40 KiB, written through a BinaryWriter like the engine's, and one row of 3 MiB.
        using (var w = new BinaryWriter(buffer, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            for (var i = 0; i < 140; i++)
            {
                var row = new byte[i == 70 ? 3 << 20 : rng.Next(1, 40_000)];
                rng.NextBytes(row);
                rows.Add((buffer.Length, row));
                w.Write(row);
                w.Flush();
            }
        }
        var straddling = 0;
        foreach (var (start, bytes) in rows)
        {
            Assert.Equal(bytes, buffer.Slice(start, bytes.Length).ToArray());
            straddling += (start >> 20) != ((start + bytes.Length - 1) >> 20) ? 1 : 0;
        }
        Assert.True(straddling >= 3);
        Assert.Equal(rows[^1].Start + rows[^1].Bytes.Length, buffer.Length);
    }

    [Fact]
    public void Reset_empties_the_buffer_and_releases_all_but_two_chunks()
    {
        var buffer = new StateBuffer();
        buffer.Write(new byte[5 << 20]);
        Assert.Equal(5L << 20, buffer.Length);
        Assert.Equal(5L << 20, buffer.Capacity);
        buffer.Reset();
        Assert.Equal(0, buffer.Length);
        Assert.Equal(2L << 20, buffer.Capacity);
        buffer.WriteByte(7);
        Assert.Equal([7], buffer.Slice(0, 1).ToArray());
        Assert.Throws<ArgumentOutOfRangeException>(() => buffer.Slice(0, 2));
    }

    [Fact]
    public void A_batch_hands_out_its_state_rows_from_the_buffer_and_clear_resets_it()
    {
        var batch = new StorageBatch();
        var state = new byte[] { 1, 2, 3, 4, 5 };
        batch.StateData.Write(new byte[10]);
        batch.StateData.Write(state);
        var row = new DetectorStateRow("g", "t", 0, "s", 1, 10, state.Length);
        batch.DetectorStates.Add(row);
        Assert.Equal(state, batch.StateBytes(row).ToArray());
        Assert.Equal(15, batch.EstimatedBytes);
        batch.Clear();
        Assert.Equal(0, batch.StateData.Length);
        Assert.True(batch.IsEmpty);
    }
}
