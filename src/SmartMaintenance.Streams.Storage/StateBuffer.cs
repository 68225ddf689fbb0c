namespace SmartMaintenance.Streams.Storage;

/// <summary>Write-only stream of a batch's detector state bytes, held in fixed 1 MiB chunks.</summary>
/// <remarks>
/// A MemoryStream doubles and copies as it grows, so a checkpoint of N bytes briefly holds up to 3N (old and new buffer),
/// and the capacity it reached is as large again as what it holds: with a million sensors' states in one batch (the
/// batch in which every window closes) that was gigabytes. Chunks are never copied: the buffer holds what was written
/// plus less than one chunk. Positions are contiguous across chunks, so a row is (start, length) as before; the rare row
/// that straddles a chunk boundary is copied out when it is read. Chunks a buffer releases go to a pool shared by every
/// buffer, so the next large checkpoint reuses them instead of growing the large-object heap again (which the GC may not
/// collect for minutes).
/// </remarks>
public sealed class StateBuffer : Stream
{
    private const int Shift = 20;
    private const int ChunkSize = 1 << Shift;
    private const int Mask = ChunkSize - 1;
    // Chunks kept across Reset (a pooled batch's steady state: a 10 s checkpoint of a thousand sensors is ≈ 1.5 MB);
    // the rest of a large checkpoint is released. Every pooled batch part keeps its own.
    private const int RetainedChunks = 2;

    private static readonly System.Collections.Concurrent.ConcurrentStack<byte[]> s_pool = new();
    private readonly List<byte[]> _chunks = [];
    private long _length;

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => _length;

    public override long Position
    {
        get => _length;
        set => throw new NotSupportedException();
    }

    /// <summary>Bytes held by the chunks.</summary>
    public long Capacity => (long)_chunks.Count * ChunkSize;

    /// <summary>The bytes at <paramref name="start"/> .. start + <paramref name="length"/>: a view into one chunk, or a copy
    /// when they straddle two.</summary>
    public ArraySegment<byte> Slice(long start, int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(start);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        if (start + length > _length)
        {
            throw new ArgumentOutOfRangeException(nameof(length), "The range is beyond the written bytes.");
        }
        if (length == 0)
        {
            return ArraySegment<byte>.Empty;
        }
        var first = (int)(start >> Shift);
        var offset = (int)(start & Mask);
        if (offset + length <= ChunkSize)
        {
            return new ArraySegment<byte>(_chunks[first], offset, length);
        }
        var copy = new byte[length];
        var done = 0;
        while (done < length)
        {
            var pos = start + done;
            var chunk = _chunks[(int)(pos >> Shift)];
            var at = (int)(pos & Mask);
            var n = Math.Min(length - done, ChunkSize - at);
            chunk.AsSpan(at, n).CopyTo(copy.AsSpan(done));
            done += n;
        }
        return copy;
    }

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        while (!buffer.IsEmpty)
        {
            var index = (int)(_length >> Shift);
            if (index == _chunks.Count)
            {
                _chunks.Add(Rent());
            }
            var at = (int)(_length & Mask);
            var n = Math.Min(buffer.Length, ChunkSize - at);
            buffer[..n].CopyTo(_chunks[index].AsSpan(at));
            _length += n;
            buffer = buffer[n..];
        }
    }

    public override void Write(byte[] buffer, int offset, int count)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        Write(buffer.AsSpan(offset, count));
    }

    public override void WriteByte(byte value)
    {
        var index = (int)(_length >> Shift);
        if (index == _chunks.Count)
        {
            _chunks.Add(Rent());
        }
        _chunks[index][(int)(_length & Mask)] = value;
        _length++;
    }

    /// <summary>Empties the buffer, keeping at most a few chunks for the next batch.</summary>
    public void Reset()
    {
        _length = 0;
        if (_chunks.Count > RetainedChunks)
        {
            for (var i = RetainedChunks; i < _chunks.Count; i++)
            {
                s_pool.Push(_chunks[i]);
            }
            _chunks.RemoveRange(RetainedChunks, _chunks.Count - RetainedChunks);
            _chunks.TrimExcess();
        }
    }

    private static byte[] Rent() => s_pool.TryPop(out var chunk) ? chunk : new byte[ChunkSize];

    public override void Flush()
    {
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}
