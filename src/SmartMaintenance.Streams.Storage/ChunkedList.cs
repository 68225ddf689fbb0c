using System.Collections;
using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace SmartMaintenance.Streams.Storage;

/// <summary>An append-only list of structs in fixed-size chunks that come from, and go back to, a pool shared by every list
/// of the element type.</summary>
/// <remarks>
/// When a minute ends at a million sensors one batch carries two million window aggregates (≈ 290 MB) and a million
/// detector state rows. A <see cref="List{T}"/> doubles its way there, and every array it outgrows (as large again as
/// the last one) is a large-object-heap block the GC collects only with a full collection, which a process with
/// memory to spare may not run for minutes: the heap grew by the whole doubling sequence at every such minute. Chunks
/// are never copied, the list holds its items plus less than one chunk, and chunks released by one batch serve the
/// next, so repeated bursts reuse the same memory. Chunks are about 32–64 KB (below the large-object threshold).
/// Not thread-safe; the pool is.
/// </remarks>
public sealed class ChunkedList<T> : IReadOnlyList<T>
    where T : struct
{
    private static readonly int s_shift = ShiftFor(Unsafe.SizeOf<T>());
    private static readonly int s_chunk = 1 << s_shift;
    private static readonly int s_mask = s_chunk - 1;
    private static readonly ConcurrentStack<T[]> s_pool = new();

    private T[][] _chunks = [];
    private int _held;
    private int _count;

    /// <summary>Items per chunk.</summary>
    public static int ChunkLength => s_chunk;

    /// <summary>Chunks waiting in the pool (for tests and diagnostics).</summary>
    public static int PooledChunks => s_pool.Count;

    public int Count => _count;

    public T this[int index]
    {
        get
        {
            if ((uint)index >= (uint)_count)
            {
                throw new ArgumentOutOfRangeException(nameof(index));
            }
            return _chunks[index >> s_shift][index & s_mask];
        }
    }

    public void Add(in T item)
    {
        var chunk = _count >> s_shift;
        if (chunk == _held)
        {
            TakeChunk();
        }
        _chunks[chunk][_count & s_mask] = item;
        _count++;
    }

    public void AddRange(IEnumerable<T> items)
    {
        ArgumentNullException.ThrowIfNull(items);
        foreach (var item in items)
        {
            Add(item);
        }
    }

    /// <summary>Empties the list, giving its chunks back to the pool.</summary>
    public void Clear()
    {
        for (var i = 0; i < _held; i++)
        {
            Release(_chunks[i], i == _held - 1 ? _count - (i << s_shift) : s_chunk);
            _chunks[i] = null!;
        }
        _held = 0;
        _count = 0;
    }

    /// <summary>Moves every item, in order, to the list <paramref name="target"/> chooses for it, giving each chunk back to
    /// the pool as soon as its items have moved (they are then held once, not twice). The list is empty afterwards.</summary>
    public void MoveTo<TState>(Func<T, TState, ChunkedList<T>> target, TState state)
    {
        ArgumentNullException.ThrowIfNull(target);
        for (var c = 0; c < _held; c++)
        {
            var chunk = _chunks[c];
            var n = Math.Min(s_chunk, _count - (c << s_shift));
            for (var i = 0; i < n; i++)
            {
                var to = target(chunk[i], state);
                if (ReferenceEquals(to, this))
                {
                    throw new InvalidOperationException("A list cannot move its items to itself.");
                }
                to.Add(chunk[i]);
            }
            Release(chunk, n);
            _chunks[c] = null!;
        }
        _held = 0;
        _count = 0;
    }

    public Enumerator GetEnumerator() => new(this);

    IEnumerator<T> IEnumerable<T>.GetEnumerator() => GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    private void TakeChunk()
    {
        if (_held == _chunks.Length)
        {
            Array.Resize(ref _chunks, Math.Max(4, _chunks.Length * 2));
        }
        _chunks[_held++] = s_pool.TryPop(out var chunk) ? chunk : new T[s_chunk];
    }

    private static void Release(T[] chunk, int used)
    {
        if (RuntimeHelpers.IsReferenceOrContainsReferences<T>())
        {
            // A pooled chunk must not keep the strings of its last items alive.
            Array.Clear(chunk, 0, used);
        }
        s_pool.Push(chunk);
    }

    /// <summary>Largest power of two of items that keeps a chunk within 64 KB, at least 64 items.</summary>
    private static int ShiftFor(int size)
    {
        var shift = 6;
        while (((2L << shift) * size) <= 64 * 1024)
        {
            shift++;
        }
        return shift;
    }

    public struct Enumerator(ChunkedList<T> list) : IEnumerator<T>
    {
        private int _index = -1;

        public readonly T Current => list._chunks[_index >> s_shift][_index & s_mask];

        readonly object IEnumerator.Current => Current;

        public bool MoveNext() => ++_index < list._count;

        public void Reset() => _index = -1;

        public readonly void Dispose()
        {
        }
    }
}
