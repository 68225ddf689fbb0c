using System.Runtime.CompilerServices;

namespace SmartMaintenance.Streams.Scoring;

/// <summary>Per-sensor records in fixed-size chunks, addressed by a dense slot number.</summary>
/// <remarks>
/// A dictionary of large structs doubles its entry array as it grows, and while it copies both arrays are alive: at a
/// million sensors of ≈ 400 B that is a transient of ≈ 1.3 GB (and large-object-heap segments the GC keeps). Chunks
/// are allocated one at a time and never copied, so the slab costs what it holds plus at most one partly filled chunk;
/// the dictionary that maps ids to slots holds 4-byte values. Freed slots are reused (last freed, first reused).
/// </remarks>
internal sealed class SensorSlab<T>
    where T : struct
{
    // 512 records of ≈ 400 B: ≈ 200 KB per chunk.
    private const int Shift = 9;
    private const int ChunkSize = 1 << Shift;
    private const int Mask = ChunkSize - 1;

    private T[]?[] _chunks = new T[]?[16];
    private int _next;
    private int[] _free = [];
    private int _freeCount;

    /// <summary>Slots in use.</summary>
    public int Count => _next - _freeCount;

    public ref T this[int slot]
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => ref _chunks[slot >> Shift]![slot & Mask];
    }

    /// <summary>A slot holding a default record.</summary>
    public int Allocate()
    {
        if (_freeCount > 0)
        {
            return _free[--_freeCount];
        }
        var slot = _next;
        var chunk = slot >> Shift;
        if (chunk == _chunks.Length)
        {
            Array.Resize(ref _chunks, _chunks.Length * 2);
        }
        _chunks[chunk] ??= new T[ChunkSize];
        _next++;
        return slot;
    }

    /// <summary>Clears the record and makes its slot available again.</summary>
    public void Free(int slot)
    {
        this[slot] = default;
        if (_freeCount == _free.Length)
        {
            Array.Resize(ref _free, Math.Max(16, _free.Length * 2));
        }
        _free[_freeCount++] = slot;
    }

    /// <summary>Drops every record (chunks are released too).</summary>
    public void Clear()
    {
        Array.Clear(_chunks);
        _next = 0;
        _free = [];
        _freeCount = 0;
    }
}
