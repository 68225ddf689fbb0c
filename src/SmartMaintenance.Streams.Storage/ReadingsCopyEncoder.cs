using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using Npgsql;
using SmartMaintenance.Streams.Contracts;

namespace SmartMaintenance.Streams.Storage;

/// <summary>
/// Writes readings rows in PostgreSQL's binary COPY format straight into a pooled buffer and sends it over a raw COPY
/// stream: the column order of <see cref="PostgresSink.CopyReadingsSql"/>, byte for byte what NpgsqlBinaryImporter sends.
/// </summary>
/// <remarks>
/// NpgsqlBinaryImporter resolves a converter and runs an async state machine per field (12 per row): profiled at
/// ≈ 1.3 µs of the writer thread per reading, i.e. a full reading's worth of the decode, window and score work on the
/// consume thread, on a box where the engine, PostgreSQL and the broker share two cores. Encoding by hand costs a
/// fraction of that (docs/performance.md, perf/e2e). Not thread-safe: one per writer connection.
/// </remarks>
internal sealed class ReadingsCopyEncoder : IDisposable
{
    // "PGCOPY\n\377\r\n\0", flags, header extension length.
    private static ReadOnlySpan<byte> Header => [(byte)'P', (byte)'G', (byte)'C', (byte)'O', (byte)'P', (byte)'Y', (byte)'\n', 0xFF, (byte)'\r', (byte)'\n', 0, 0, 0, 0, 0, 0, 0, 0, 0];
    private const short Columns = 12;
    // PostgreSQL's timestamp epoch (2000-01-01 UTC) in Unix milliseconds.
    private const long PostgresEpochUnixMs = 946_684_800_000;
    private const int FlushAt = 256 * 1024;
    private const int JsonbVersion = 1;

    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(FlushAt + 4096);
    private int _length;

    /// <summary>Sends <paramref name="readings"/> as one COPY, except those whose offset is below their partition's entry in
    /// <paramref name="skipBelow"/> (already stored); returns the rows skipped.</summary>
    public async Task<int> CopyAsync(NpgsqlConnection conn, List<SensorReading> readings, Dictionary<int, long>? skipBelow, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(conn);
        ArgumentNullException.ThrowIfNull(readings);
        var stream = await conn.BeginRawBinaryCopyAsync(PostgresSink.CopyReadingsSql, ct).ConfigureAwait(false);
        var filter = skipBelow is { Count: > 0 };
        var skipped = 0;
        try
        {
            _length = 0;
            Header.CopyTo(_buffer);
            _length = Header.Length;
            for (var i = 0; i < readings.Count; i++)
            {
                var r = readings[i];
                if (filter && skipBelow!.TryGetValue(r.Position.Partition, out var next) && r.Position.Offset < next)
                {
                    skipped++;
                    continue;
                }
                Append(r);
                if (_length >= FlushAt)
                {
                    ct.ThrowIfCancellationRequested();
                    await stream.WriteAsync(_buffer.AsMemory(0, _length), ct).ConfigureAwait(false);
                    _length = 0;
                }
            }
            Ensure(2);
            BinaryPrimitives.WriteInt16BigEndian(_buffer.AsSpan(_length), -1);
            _length += 2;
            await stream.WriteAsync(_buffer.AsMemory(0, _length), ct).ConfigureAwait(false);
            _length = 0;
        }
        catch
        {
            // CopyFail: PostgreSQL discards the partial COPY (the transaction fails with it, nothing is half-written).
            // On a broken connection that fails too; the original error is the one the sink classifies and rethrows.
            try
            {
                await stream.CancelAsync().ConfigureAwait(false);
                await stream.DisposeAsync().ConfigureAwait(false);
            }
            catch (NpgsqlException)
            {
            }
            catch (IOException)
            {
            }
            catch (ObjectDisposedException)
            {
            }
            throw;
        }
        // CopyDone, and waits for the server's CommandComplete: errors (constraint, type) surface here.
        await stream.DisposeAsync().ConfigureAwait(false);
        return skipped;
    }

    /// <summary>One row, in the column order of <see cref="PostgresSink.CopyReadingsSql"/>.</summary>
    internal void Append(in SensorReading r)
    {
        // Fixed part: field count, ts, value, quality, seq, partition, offset, index (with their lengths) ≤ 2 + 7 × 12 bytes.
        Ensure(96);
        WriteInt16(Columns);
        WriteText(r.SensorId);
        WriteInt32(8);
        WriteInt64((r.Timestamp - PostgresEpochUnixMs) * 1000);
        WriteInt32(8);
        WriteInt64(BitConverter.DoubleToInt64Bits(r.Value));
        WriteText(r.AssetId);
        WriteText(r.SensorType);
        WriteText(r.Unit);
        Ensure(64);
        if (r.HasQuality)
        {
            WriteInt32(4);
            WriteInt32(BitConverter.SingleToInt32Bits((float)r.Quality));
        }
        else
        {
            WriteInt32(-1);
        }
        if (r.HasSeq)
        {
            WriteInt32(8);
            WriteInt64(r.Seq);
        }
        else
        {
            WriteInt32(-1);
        }
        if (r.Attributes is { Length: > 0 } attributes)
        {
            WriteJsonb(attributes);
        }
        else
        {
            WriteInt32(-1);
        }
        Ensure(40);
        if (r.Position.Partition >= 0)
        {
            WriteInt32(4);
            WriteInt32(r.Position.Partition);
            WriteInt32(8);
            WriteInt64(r.Position.Offset);
            WriteInt32(4);
            WriteInt32(r.Position.Index);
        }
        else
        {
            WriteInt32(-1);
            WriteInt32(-1);
            WriteInt32(-1);
        }
    }

    /// <summary>The bytes appended since the last send (tests compare them with NpgsqlBinaryImporter's output).</summary>
    internal ReadOnlySpan<byte> Pending => _buffer.AsSpan(0, _length);

    internal void Reset() => _length = 0;

    private void WriteText(string? value)
    {
        if (value is null)
        {
            Ensure(4);
            WriteInt32(-1);
            return;
        }
        Ensure(4 + Encoding.UTF8.GetMaxByteCount(value.Length));
        var written = Encoding.UTF8.GetBytes(value, _buffer.AsSpan(_length + 4));
        WriteInt32(written);
        _length += written;
    }

    private void WriteJsonb(string json)
    {
        Ensure(5 + Encoding.UTF8.GetMaxByteCount(json.Length));
        var written = Encoding.UTF8.GetBytes(json, _buffer.AsSpan(_length + 5));
        WriteInt32(written + 1);
        _buffer[_length++] = JsonbVersion;
        _length += written;
    }

    private void WriteInt16(short value)
    {
        BinaryPrimitives.WriteInt16BigEndian(_buffer.AsSpan(_length), value);
        _length += 2;
    }

    private void WriteInt32(int value)
    {
        BinaryPrimitives.WriteInt32BigEndian(_buffer.AsSpan(_length), value);
        _length += 4;
    }

    private void WriteInt64(long value)
    {
        BinaryPrimitives.WriteInt64BigEndian(_buffer.AsSpan(_length), value);
        _length += 8;
    }

    private void Ensure(int bytes)
    {
        if (_length + bytes <= _buffer.Length)
        {
            return;
        }
        // Only a very long text (attributes) gets here before a flush: grow instead of splitting a field.
        var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(_buffer.Length * 2, _length + bytes));
        _buffer.AsSpan(0, _length).CopyTo(bigger);
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = bigger;
    }

    public void Dispose()
    {
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = [];
    }
}
