using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Storage;
using Xunit;

namespace SmartMaintenance.Streams.Storage.Tests;

/// <summary>The pooled chunked list that holds a batch's aggregates and detector state rows.</summary>
public class ChunkedListTests
{
    // A private element type: its pool is not shared with other tests running in parallel.
    private readonly record struct Item(int Value, string? Text);

    [Fact]
    public void Items_read_back_in_order_across_chunk_boundaries_by_index_and_by_enumeration()
    {
        var list = new ChunkedList<Item>();
        var n = (ChunkedList<Item>.ChunkLength * 3) + 7;
        for (var i = 0; i < n; i++)
        {
            list.Add(new Item(i, null));
        }
        Assert.Equal(n, list.Count);
        for (var i = 0; i < n; i++)
        {
            Assert.Equal(i, list[i].Value);
        }
        Assert.Equal(Enumerable.Range(0, n), list.Select(x => x.Value));
        Assert.Throws<ArgumentOutOfRangeException>(() => list[n]);
        Assert.Throws<ArgumentOutOfRangeException>(() => list[-1]);
    }

    [Fact]
    public void Chunks_of_a_cleared_list_serve_the_next_one_and_keep_no_references()
    {
        var first = new ChunkedList<Item>();
        var pooled = ChunkedList<Item>.PooledChunks;
        var texts = AddTexts(first, ChunkedList<Item>.ChunkLength * 2);
        first.Clear();
        Assert.Empty(first);
        Assert.Equal(pooled + 2, ChunkedList<Item>.PooledChunks);
        // The items' strings are not kept alive by the pooled chunks.
        GC.Collect();
        GC.WaitForPendingFinalizers();
        Assert.DoesNotContain(texts, t => t.IsAlive);

        var second = new ChunkedList<Item>();
        second.Add(new Item(1, null));
        second.Add(new Item(2, null));
        Assert.Equal(pooled + 1, ChunkedList<Item>.PooledChunks);
        Assert.Equal([1, 2], second.Select(x => x.Value));
    }

    private static List<WeakReference> AddTexts(ChunkedList<Item> list, int n)
    {
        var refs = new List<WeakReference>();
        for (var i = 0; i < n; i++)
        {
            var text = new string('x', 1 + (i % 3));
            refs.Add(new WeakReference(text));
            list.Add(new Item(i, text));
        }
        return refs;
    }

    [Fact]
    public void Moving_routes_every_item_in_order_and_empties_the_source()
    {
        var source = new ChunkedList<WindowAggregate>();
        var n = (ChunkedList<WindowAggregate>.ChunkLength * 2) + 3;
        for (var i = 0; i < n; i++)
        {
            source.Add(TestData.Aggregate("s-" + (i % 3), TestData.BaseMs + (i * 60_000L), 0, i));
        }
        ChunkedList<WindowAggregate>[] parts = [new(), new()];
        source.MoveTo(static (a, p) => p[a.SensorId == "s-1" ? 1 : 0], parts);
        Assert.Empty(source);
        Assert.Equal(n, parts[0].Count + parts[1].Count);
        Assert.All(parts[1], a => Assert.Equal("s-1", a.SensorId));
        Assert.DoesNotContain(parts[0], a => a.SensorId == "s-1");
        // Order within each part is the order of the source.
        Assert.Equal(parts[0].Select(a => a.Mean).Order(), parts[0].Select(a => a.Mean));
        Assert.Equal(parts[1].Select(a => a.Mean).Order(), parts[1].Select(a => a.Mean));
        Assert.Throws<InvalidOperationException>(() =>
        {
            var self = new ChunkedList<WindowAggregate>();
            self.Add(parts[0][0]);
            self.MoveTo(static (_, s) => s, self);
        });
    }

    [Fact]
    public void A_batch_hands_its_aggregate_list_over_only_when_it_holds_none()
    {
        var batch = new StorageBatch();
        var mine = new ChunkedList<WindowAggregate>();
        mine.Add(TestData.Aggregate("s-1", TestData.BaseMs, 0, 1));
        var had = batch.ExchangeAggregates(mine);
        Assert.Empty(had);
        Assert.Same(mine, batch.Aggregates);
        Assert.Equal(1, batch.RowCount);
        Assert.Throws<InvalidOperationException>(() => batch.ExchangeAggregates(had));
        batch.Clear();
        Assert.Empty(batch.Aggregates);
    }
}
