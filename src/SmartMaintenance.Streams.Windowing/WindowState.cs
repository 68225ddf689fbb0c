using System.Runtime.CompilerServices;

namespace SmartMaintenance.Streams.Windowing;

/// <summary>Everything the operator keeps for one key across all specs.</summary>
/// <remarks>One state object per pane group (aligned specs sharing panes) or session spec. The first pane group's
/// state is the key object itself (it derives from <see cref="AlignedState"/>), so the default configuration has
/// one object per key and a reading one pointer hop less; further states sit in a small array.</remarks>
internal sealed class KeyState : AlignedState
{
    public readonly string Key;
    /// <summary>States after the first pane group's (which is this object), or all of them when no spec is aligned.</summary>
    public readonly object?[]? States;
    public string? AssetId;
    public string? SensorType;
    public DedupIndex Dedup;
    /// <summary>Source partition of the key's last reading (-1 without positions): a revocation of it drops the key.</summary>
    public int Partition = -1;

    public KeyState(string key, int slots, int panes, int windows)
        : base(panes, windows)
    {
        Key = key;
        States = slots > 0 ? new object?[slots] : null;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ref object? State(int slot) => ref States![slot];

    // Header and method table, the aligned fields (24), four references, the 32-byte dedup struct and the partition (padded).
    public long HeapBytes => 112 + (States is null ? 0 : 24 + (8L * States.Length)) + Dedup.HeapBytes;
}

/// <summary>Aggregate of one pane (gcd of size and advance): every reading updates exactly one pane.</summary>
/// <remarks>A pane exists only with content, so its start is that of its first reading's pane and is not stored.</remarks>
internal struct Pane
{
    public Accumulator Acc;

    public readonly long Start(long paneSize) => TimeMath.FloorTo(Acc.FirstTs, paneSize);

    /// <summary>True when the pane starting at <paramref name="start"/> is this one.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly bool Is(long start, long paneSize) => (ulong)(Acc.FirstTs - start) < (ulong)paneSize;
}

/// <summary>Emission bookkeeping of one aligned window with content, 16 bytes.</summary>
/// <remarks>Readings since the last emission saturate at 2^24 − 1 (an early firing every more readings than that
/// fires at that count); the two flags and the spec's slot in its pane group share the same word.</remarks>
internal struct WindowMeta
{
    public const int MaxSinceEmit = (1 << 24) - 1;
    public const int MaxSlots = 64;
    private const uint OnTimeBit = 1u << 24;
    private const uint DirtyBit = 1u << 25;

    public long Start;
    public int Revision;
    private uint _bits;

    public int SinceEmit
    {
        readonly get => (int)(_bits & MaxSinceEmit);
        set => _bits = (_bits & ~(uint)MaxSinceEmit) | (uint)Math.Min(value, MaxSinceEmit);
    }

    public bool OnTimeFired
    {
        readonly get => (_bits & OnTimeBit) != 0;
        set => _bits = value ? _bits | OnTimeBit : _bits & ~OnTimeBit;
    }

    public bool Dirty
    {
        readonly get => (_bits & DirtyBit) != 0;
        set => _bits = value ? _bits | DirtyBit : _bits & ~DirtyBit;
    }

    /// <summary>Which spec of the pane group the window belongs to.</summary>
    public byte Slot
    {
        readonly get => (byte)(_bits >> 26);
        init => _bits = (_bits & 0x03FF_FFFFu) | ((uint)value << 26);
    }
}

/// <summary>Open panes and windows of one key for the tumbling/hopping specs of one pane group.</summary>
/// <remarks>Panes sorted by start; windows of every spec of the group in one array sorted by (start, slot).
/// Specs with the same pane length, sketch parameters and sensor-type filter share panes: a tumbling 1m
/// and a hopping 5m/1m spec hold each minute once.</remarks>
internal class AlignedState(int panes, int windows)
{
    // Start small and grow by two (never by doubling): panes up to the steady state (open windows' panes plus the next).
    public Pane[] Panes = panes == 0 ? [] : new Pane[panes];
    public int PaneCount;
    public WindowMeta[] Windows = windows == 0 ? [] : new WindowMeta[windows];
    public int WindowCount;

    public int FindPane(long start, long paneSize)
    {
        for (var i = PaneCount - 1; i >= 0; i--)
        {
            if (Panes[i].Is(start, paneSize))
            {
                return i;
            }
            if (Panes[i].Acc.FirstTs < start)
            {
                break;
            }
        }
        return -1;
    }

    /// <summary>The pane starting at <paramref name="start"/>, created empty (the caller adds the reading) when missing.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ref Pane GetPane(long start, long paneSize)
    {
        var n = PaneCount;
        if (n > 0 && Panes[n - 1].Is(start, paneSize))
        {
            return ref Panes[n - 1];
        }
        return ref GetPaneSlow(start, paneSize);
    }

    private ref Pane GetPaneSlow(long start, long paneSize)
    {
        var i = PaneCount;
        while (i > 0 && Panes[i - 1].Start(paneSize) > start)
        {
            i--;
        }
        if (i > 0 && Panes[i - 1].Is(start, paneSize))
        {
            return ref Panes[i - 1];
        }
        if (PaneCount == Panes.Length)
        {
            Array.Resize(ref Panes, Panes.Length + 2);
        }
        Array.Copy(Panes, i, Panes, i + 1, PaneCount - i);
        Panes[i] = default;
        PaneCount++;
        return ref Panes[i];
    }

    /// <summary>True when the spec in <paramref name="slot"/> has a window before <paramref name="start"/> not yet fired on time.</summary>
    public bool HasEarlierPending(long start, byte slot)
    {
        for (var i = 0; i < WindowCount && Windows[i].Start < start; i++)
        {
            if (Windows[i].Slot == slot && !Windows[i].OnTimeFired)
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>Start of the earliest window of the spec in <paramref name="slot"/> after <paramref name="start"/> not yet fired on time.</summary>
    public bool TryNextPending(long start, byte slot, out long next)
    {
        for (var i = 0; i < WindowCount; i++)
        {
            ref var w = ref Windows[i];
            if (w.Start > start && w.Slot == slot && !w.OnTimeFired)
            {
                next = w.Start;
                return true;
            }
        }
        next = 0;
        return false;
    }

    public int FindWindow(long start, byte slot)
    {
        for (var i = WindowCount - 1; i >= 0; i--)
        {
            ref var w = ref Windows[i];
            if (w.Start == start && w.Slot == slot)
            {
                return i;
            }
            if (w.Start < start)
            {
                break;
            }
        }
        return -1;
    }

    /// <summary>Index of the window (start, slot), inserted when missing. With <paramref name="from"/> &lt; 0 the search
    /// runs backwards from the end (a reading's first window: in-order readings are at the end, however many windows
    /// allowed lateness keeps open); otherwise forwards from <paramref name="from"/>, which must not be past the
    /// window's position (the reading's next windows follow its previous one).</summary>
    public int FindOrAddWindow(long start, byte slot, int from, out bool created)
    {
        var n = WindowCount;
        int i;
        if (from < 0)
        {
            i = n;
            while (i > 0 && (Windows[i - 1].Start > start || (Windows[i - 1].Start == start && Windows[i - 1].Slot >= slot)))
            {
                i--;
            }
        }
        else
        {
            i = from;
            while (i < n && (Windows[i].Start < start || (Windows[i].Start == start && Windows[i].Slot < slot)))
            {
                i++;
            }
        }
        if (i < n && Windows[i].Start == start && Windows[i].Slot == slot)
        {
            created = false;
            return i;
        }
        if (WindowCount == Windows.Length)
        {
            Array.Resize(ref Windows, Windows.Length + 2);
        }
        Array.Copy(Windows, i, Windows, i + 1, WindowCount - i);
        Windows[i] = new WindowMeta { Start = start, Slot = slot };
        WindowCount++;
        created = true;
        return i;
    }

    public void RemoveWindow(int index)
    {
        WindowCount--;
        Array.Copy(Windows, index + 1, Windows, index, WindowCount - index);
        Windows[WindowCount] = default;
    }

    /// <summary>Frees every pane and forgets every window (the key's state was handed to another owner).</summary>
    public void ReleaseAll(BucketPool pool)
    {
        for (var i = 0; i < PaneCount; i++)
        {
            Panes[i].Acc.Release(pool);
        }
        Array.Clear(Panes, 0, PaneCount);
        Array.Clear(Windows, 0, WindowCount);
        PaneCount = 0;
        WindowCount = 0;
    }

    /// <summary>Frees panes that start before every open window of the group: none covers them any more.</summary>
    /// <remarks>A reading creates every not-yet-late window containing it, so a pane with content is covered by
    /// an open window until all of its windows have closed finally; no later reading can reopen one.</remarks>
    public void ReleaseUncoveredPanes(BucketPool pool)
    {
        var bound = WindowCount > 0 ? Windows[0].Start : long.MaxValue;
        var n = 0;
        // Window starts are pane-aligned, so a pane starts before the bound exactly when its first reading does.
        while (n < PaneCount && Panes[n].Acc.FirstTs < bound)
        {
            Panes[n].Acc.Release(pool);
            n++;
        }
        if (n > 0)
        {
            Array.Copy(Panes, n, Panes, 0, PaneCount - n);
            Array.Clear(Panes, PaneCount - n, n);
            PaneCount -= n;
        }
    }

    /// <summary>Bytes of the pane and window arrays and their sketches (not the object itself).</summary>
    public long ArrayBytes(BucketPool pool)
    {
        var bytes = 24 + (Unsafe.SizeOf<Pane>() * (long)Panes.Length) + 24 + (Unsafe.SizeOf<WindowMeta>() * (long)Windows.Length);
        for (var i = 0; i < PaneCount; i++)
        {
            bytes += Panes[i].Acc.Sketch.HeapBytes(pool);
        }
        return bytes;
    }
}

/// <summary>Lowest offset per source partition of the readings in one session.</summary>
internal struct PartitionOffsets
{
    private int _p0;
    private long _o0;
    private (int Partition, long Offset)[]? _more;
    private int _moreCount;

    public void Note(int partition, long offset)
    {
        if (offset < 0)
        {
            return;
        }
        if (_o0 == 0)
        {
            // Empty: offsets are stored +1 so default(PartitionOffsets) means "none".
            _p0 = partition;
            _o0 = offset + 1;
            return;
        }
        if (_p0 == partition)
        {
            _o0 = Math.Min(_o0, offset + 1);
            return;
        }
        for (var i = 0; i < _moreCount; i++)
        {
            if (_more![i].Partition == partition)
            {
                _more[i].Offset = Math.Min(_more[i].Offset, offset);
                return;
            }
        }
        _more ??= new (int, long)[2];
        if (_moreCount == _more.Length)
        {
            Array.Resize(ref _more, _moreCount * 2);
        }
        _more[_moreCount++] = (partition, offset);
    }

    public void Merge(in PartitionOffsets other)
    {
        if (other._o0 != 0)
        {
            Note(other._p0, other._o0 - 1);
        }
        for (var i = 0; i < other._moreCount; i++)
        {
            Note(other._more![i].Partition, other._more[i].Offset);
        }
    }

    public readonly void Report(OffsetTracker tracker, long expiry)
    {
        if (_o0 != 0)
        {
            tracker.Note(_p0, _o0 - 1, expiry);
        }
        for (var i = 0; i < _moreCount; i++)
        {
            tracker.Note(_more![i].Partition, _more[i].Offset, expiry);
        }
    }
}

internal struct Session
{
    public long Id;
    public long Start;
    /// <summary>Last reading's time + gap (exclusive).</summary>
    public long End;
    public Accumulator Acc;
    public int Revision;
    public int SinceEmit;
    public bool OnTimeFired;
    public bool Dirty;
    public PartitionOffsets Offsets;
}

/// <summary>Open sessions of one key for one session spec, disjoint and sorted by start.</summary>
internal sealed class SessionState
{
    public Session[] Items = new Session[1];
    public int Count;
    /// <summary>End of the latest finally closed session: readings before it cannot be merged any more.</summary>
    public long LastClosedEnd = long.MinValue;
    /// <summary>Source partition of the last reading applied (where the key's persisted state belongs).</summary>
    public int Partition = -1;
    /// <summary>The session boundaries changed since they were last taken for persistence.</summary>
    public bool Changed;
    /// <summary>While a restored key's partition replays: its stored boundaries (held by the operator, not here: they
    /// are transient) alone decide whether a reading is taken.</summary>
    public bool Restoring;

    /// <summary>Index of the open session with Start ≤ <paramref name="ts"/> &lt; End, or −1.</summary>
    public int FindContaining(long ts)
    {
        for (var i = 0; i < Count; i++)
        {
            if (Items[i].Start > ts)
            {
                break;
            }
            if (ts < Items[i].End)
            {
                return i;
            }
        }
        return -1;
    }

    public static int FindRestored(RestoredSession[] restored, long ts)
    {
        for (var i = 0; i < restored.Length; i++)
        {
            if (restored[i].Start <= ts && ts < restored[i].End)
            {
                return i;
            }
        }
        return -1;
    }

    public int Find(long id)
    {
        for (var i = 0; i < Count; i++)
        {
            if (Items[i].Id == id)
            {
                return i;
            }
        }
        return -1;
    }

    public int Insert(int index, in Session session)
    {
        if (Count == Items.Length)
        {
            Array.Resize(ref Items, Items.Length * 2);
        }
        Array.Copy(Items, index, Items, index + 1, Count - index);
        Items[index] = session;
        Count++;
        return index;
    }

    public void RemoveRange(int index, int count)
    {
        Array.Copy(Items, index + count, Items, index, Count - index - count);
        Array.Clear(Items, Count - count, count);
        Count -= count;
    }

    public long HeapBytes(BucketPool pool)
    {
        var bytes = 48 + 24 + (Unsafe.SizeOf<Session>() * (long)Items.Length);
        for (var i = 0; i < Count; i++)
        {
            bytes += Items[i].Acc.Sketch.HeapBytes(pool);
        }
        return bytes;
    }
}

/// <summary>An open session of a key's stored session boundaries (see <see cref="SessionState.Restoring"/>).</summary>
internal struct RestoredSession
{
    public long Start;
    public long End;
    /// <summary>Emissions before the state was taken: a merge that moves the start must retract the stored row.</summary>
    public int Revision;
}
