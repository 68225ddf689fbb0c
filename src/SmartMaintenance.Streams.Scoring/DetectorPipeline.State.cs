// Over 500 lines because the per-sensor state row (SMS3 layout: young logs, built ensembles, window kinds) is written,
// read and validated in one place, so its format cannot drift between writer and reader.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Scoring.Detectors;

namespace SmartMaintenance.Streams.Scoring;

/// <summary>A sensor whose state was taken for persistence: its partition, and the lowest source position its
/// stored state may claim (a restored state already covers readings below the position it was restored at).</summary>
public readonly record struct ChangedSensor(string SensorId, int Partition, long MinPosition);

/// <summary>Per-sensor state for incremental persistence: change tracking, one sensor's snapshot, its restore.</summary>
/// <remarks>
/// A sensor's stored state is its reading-level detector state plus the state of every window-aggregate detector of
/// the sensor, taken together at a batch boundary. Reading state changes with every reading, so the engine writes it
/// lazily (all changed sensors every <c>Engine:DetectorStateInterval</c>) and replays readings from the position the
/// state was taken at; window state changes only when a window is final, and such a window is never replayed (the
/// stored watermark keeps it closed), so a sensor whose window state changed is taken at the next boundary.
/// </remarks>
public sealed partial class DetectorPipeline
{
    // "SMS2": the second per-sensor layout (each window state carries the end of the last window it judged); rows of the
    // first ("SMSS") are rejected as incompatible and those sensors warm up once. Still read.
    private const int SensorStateMagic2 = 0x32534D53;
    // "SMS3": as SMS2, but each state starts with its form: a young state is stored as its input log (YoungLog, tens of
    // bytes) instead of its built ensemble (≈ 450 B), and restored by replaying the log through the same code.
    private const int SensorStateMagic = 0x33534D53;
    private const byte FormFull = 0;
    private const byte FormLog = 1;
    // A young window state whose sensor type and asset are those of the row's reading state (nearly always): not repeated.
    private const byte FormLogAsReading = 2;

    // A young state logs its inputs instead of holding the ensemble (≈ 350 B inline plus its profile and rings). Its count
    // lives in four bits of the record, so at most 15.
    private const int YoungInputs = 15;
    // State indexes: 0 is the reading state, 1 + k window kind k. States from index 16 on (window kinds from 15 on) are
    // never young: a young log entry carries its state index in four bits.
    private const int YoungStates = 1 << YoungLog.SensorTagBits;

    /// <summary>A materialized window-aggregate detector state of a sensor, and the end of the last final window it judged.</summary>
    private struct WindowSlot
    {
        /// <summary>1 + the state's slot in the state slab; 0 while the kind's state is young or absent.</summary>
        public int Slot;
        /// <summary>long.MinValue when unknown (untracked, or restored from a whole-pipeline snapshot).</summary>
        public long LastEnd;
    }

    /// <summary>Everything the pipeline keeps for one sensor, in one slab slot (64 bytes).</summary>
    /// <remarks>
    /// Each detector state of the sensor (its reading state, index 0, and one per window kind, index 1 + kind) is either
    /// materialized, a <see cref="SensorState"/> in the state slab, or young: the log of its inputs. While a state has seen
    /// no more than its set's warm-up and the set has no range rule, the ensemble cannot fire (its output is 0), so an input
    /// whose caller needs only whether it fired is logged, and the state is built by replaying its inputs through the same
    /// <see cref="DetectorSet.Update"/> when it is first needed (its 16th input, a caller that needs the full result,
    /// serialization builds a copy). Update is deterministic, so the state and every later output are exactly those of the
    /// state updated input by input. The inputs of all young states of a sensor share one log (<see cref="Young"/>, each
    /// entry tagged with its state), and their sensor type and asset are the record's when their bit is set (null
    /// otherwise); a state whose type or asset differs from the record's is materialized instead (never for a sensor whose
    /// readings and windows agree on them, which is every sensor in practice).
    /// </remarks>
    private struct SensorRecord
    {
        public string Id;
        /// <summary>Inputs of the young states, in arrival order, tagged with the state index (<see cref="YoungLog"/>).</summary>
        public byte[]? Young;
        /// <summary>Materialized window states by window kind index; null while none is materialized.</summary>
        public WindowSlot[]? Windows;
        /// <summary>Sensor type and asset of the young states whose bit is set in <see cref="TypeBits"/> / <see cref="AssetBits"/>.</summary>
        public string? SensorType;
        public string? AssetId;
        /// <summary>Inputs logged per young state, four bits per state index; 0: the state is not young.</summary>
        public ulong YoungCounts;
        /// <summary>1 + the reading state's slot in the state slab once materialized; 0 while young or absent.</summary>
        public int ReadingSlot;
        /// <summary>Source partition of the sensor's last reading that changed the state.</summary>
        public int Partition;
        /// <summary>Bytes of <see cref="Young"/> in use.</summary>
        public ushort YoungLength;
        public ushort TypeBits;
        public ushort AssetBits;
        /// <summary>Changed since it was last taken.</summary>
        public bool Dirty;
        /// <summary>A window detector judged a final window since the state was last taken (listed in _urgent).</summary>
        public bool Urgent;
    }

    /// <summary>The sensor's record, created empty when missing. The ref stays valid: slab chunks never move.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ref SensorRecord Record(string sensorId)
    {
        ref var slot = ref CollectionsMarshal.GetValueRefOrAddDefault(_index, sensorId, out var exists);
        if (!exists)
        {
            slot = _slab.Allocate();
            _slab[slot].Id = sensorId;
        }
        return ref _slab[slot];
    }

    /// <summary>The sensor's record, or a null ref.</summary>
    private ref SensorRecord Find(string sensorId)
    {
        if (_index.TryGetValue(sensorId, out var slot))
        {
            return ref _slab[slot];
        }
        return ref Unsafe.NullRef<SensorRecord>();
    }

    private int KindIndex(string kind)
    {
        ref var index = ref CollectionsMarshal.GetValueRefOrAddDefault(_kindIndex, kind, out var exists);
        if (!exists)
        {
            index = _kinds.Count;
            _kinds.Add(kind);
        }
        return index;
    }

    private ref WindowSlot WindowOf(ref SensorRecord e, int kind)
    {
        if (e.Windows is null || kind >= e.Windows.Length)
        {
            // Sized for every kind known: with declared kinds (DeclareWindowKinds) the array never grows.
            Array.Resize(ref e.Windows, Math.Max(kind + 1, _kinds.Count));
        }
        return ref e.Windows[kind];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int YoungCount(in SensorRecord e, int state) =>
        state < YoungStates ? (int)((e.YoungCounts >> (4 * state)) & 15) : 0;

    private static void SetYoungCount(ref SensorRecord e, int state, int count) =>
        e.YoungCounts = (e.YoungCounts & ~(15UL << (4 * state))) | ((ulong)count << (4 * state));

    private static int WindowSlotOf(in SensorRecord e, int kind) => e.Windows is { } w && kind < w.Length ? w[kind].Slot : 0;

    private static bool ReadingExists(in SensorRecord e) => e.ReadingSlot != 0 || YoungCount(e, 0) > 0;

    private static bool WindowExists(in SensorRecord e, int kind) => WindowSlotOf(e, kind) != 0 || YoungCount(e, kind + 1) > 0;

    private int WindowCount(in SensorRecord e)
    {
        var n = 0;
        for (var k = 0; k < _kinds.Count; k++)
        {
            n += WindowExists(e, k) ? 1 : 0;
        }
        return n;
    }

    /// <summary>Slab slot + 1 of a state's materialized form, 0 when young or absent.</summary>
    private static int SlotOf(in SensorRecord e, int state) => state == 0 ? e.ReadingSlot : WindowSlotOf(e, state - 1);

    /// <summary>Sensor type of a young state.</summary>
    private static string? YoungType(in SensorRecord e, int state) => (e.TypeBits & (1 << state)) != 0 ? e.SensorType : null;

    private static string? YoungAsset(in SensorRecord e, int state) => (e.AssetBits & (1 << state)) != 0 ? e.AssetId : null;

    /// <summary>The end of the last window a young window state judged: its last input's time (inputs are window ends, in
    /// closing order) when tracking, like a materialized state's <see cref="WindowSlot.LastEnd"/>.</summary>
    private long YoungLastEnd(in SensorRecord e, int state)
    {
        if (!TrackChanges || YoungCount(e, state) == 0)
        {
            return long.MinValue;
        }
        var last = long.MinValue;
        var reader = new YoungLog.Reader(e.Young.AsSpan(0, e.YoungLength), YoungLog.SensorTagBits);
        while (reader.TryNext(out var tag, out var time, out _))
        {
            if (tag == state)
            {
                last = Math.Max(last, time);
            }
        }
        return last;
    }

    /// <summary>
    /// Logs an input of young (or new: <paramref name="type"/> is the new state's sensor type) state <paramref name="state"/>
    /// when the ensemble provably does not fire on it, applying <paramref name="asset"/> as the state's asset when it has none.
    /// False, with nothing changed, when the state must be materialized instead.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool TryLog(ref SensorRecord e, int state, string? type, string? asset, long timestamp, double value)
    {
        if (state >= YoungStates)
        {
            return false;
        }
        var count = YoungCount(e, state);
        var bit = (ushort)(1 << state);
        var typeBits = e.TypeBits;
        var sensorType = e.SensorType;
        if (count > 0)
        {
            type = (typeBits & bit) != 0 ? sensorType : null;
        }
        else if (type is not null)
        {
            if (typeBits == 0 || string.Equals(sensorType, type, StringComparison.Ordinal))
            {
                sensorType = type;
                typeBits |= bit;
            }
            else
            {
                return false;
            }
        }
        var set = SetFor(type);
        // After this input the state has seen count + 1 ≤ WarmupReadings inputs: no detector is considered, and without a
        // range rule the ensemble's output is 0, below any threshold (FireThreshold > 0).
        if (count >= Math.Min(YoungInputs, set.WarmupReadings) || set.Range.Enabled || !(set.Options.FireThreshold > 0))
        {
            return false;
        }
        var assetBits = e.AssetBits;
        var assetId = e.AssetId;
        if (asset is not null && (assetBits & bit) == 0)
        {
            // The state's asset is the first it is given (AssetId ??= asset).
            if (assetBits == 0 || string.Equals(assetId, asset, StringComparison.Ordinal))
            {
                assetId = asset;
                assetBits |= bit;
            }
            else
            {
                return false;
            }
        }
        YoungLog.Append(ref e.Young, ref e.YoungLength, timestamp, value, state, YoungLog.SensorTagBits);
        SetYoungCount(ref e, state, count + 1);
        (e.TypeBits, e.SensorType, e.AssetBits, e.AssetId) = (typeBits, sensorType, assetBits, assetId);
        return true;
    }

    /// <summary>Whether a young state of <paramref name="count"/> inputs could have logged them all under <paramref name="set"/>
    /// (what <see cref="TryLog"/> requires of each input), i.e. may stay young.</summary>
    private static bool MayStayYoung(DetectorSet set, int count) =>
        count <= Math.Min(YoungInputs, set.WarmupReadings) && !set.Range.Enabled && set.Options.FireThreshold > 0;

    /// <summary>A young state built from its inputs (a copy; the record is unchanged).</summary>
    private SensorState Replay(in SensorRecord e, int state)
    {
        var type = YoungType(e, state);
        var set = SetFor(type);
        var s = new SensorState { Set = set, SensorType = type, AssetId = YoungAsset(e, state) };
        var reader = new YoungLog.Reader(e.Young.AsSpan(0, e.YoungLength), YoungLog.SensorTagBits);
        while (reader.TryNext(out var tag, out var time, out var value))
        {
            if (tag == state)
            {
                set.Update(ref s, time, value, out _);
            }
        }
        return s;
    }

    /// <summary>Makes a young state materialized: built from its inputs, which leave the sensor's log. Returns its slot + 1.</summary>
    private int MaterializeYoung(ref SensorRecord e, int state)
    {
        var slot = Store(Replay(e, state));
        var bit = (ushort)(1 << state);
        e.Young = YoungLog.Without(e.Young.AsSpan(0, e.YoungLength), state, YoungLog.SensorTagBits, out e.YoungLength);
        SetYoungCount(ref e, state, 0);
        ForgetYoungBits(ref e, bit);
        return slot;
    }

    private static void ForgetYoungBits(ref SensorRecord e, ushort bit)
    {
        e.TypeBits &= (ushort)~bit;
        e.AssetBits &= (ushort)~bit;
        if (e.TypeBits == 0)
        {
            e.SensorType = null;
        }
        if (e.AssetBits == 0)
        {
            e.AssetId = null;
        }
    }

    /// <summary>Drops a young state's inputs.</summary>
    private static void DropYoung(ref SensorRecord e, int state)
    {
        if (YoungCount(e, state) == 0)
        {
            return;
        }
        e.Young = YoungLog.Without(e.Young.AsSpan(0, e.YoungLength), state, YoungLog.SensorTagBits, out e.YoungLength);
        SetYoungCount(ref e, state, 0);
        ForgetYoungBits(ref e, (ushort)(1 << state));
    }

    /// <summary>A copy of an existing state, without materializing a young one (serialization).</summary>
    private SensorState Materialized(in SensorRecord e, int state) =>
        SlotOf(e, state) is var slot and not 0 ? _states[slot - 1] : Replay(e, state);

    /// <summary>Stores a materialized state; returns its slot + 1.</summary>
    private int Store(in SensorState state)
    {
        var slot = _states.Allocate();
        _states[slot] = state;
        return slot + 1;
    }

    /// <summary>Frees the record's slot and the slots of its materialized states.</summary>
    private void FreeRecord(int slot)
    {
        ref var e = ref _slab[slot];
        if (e.ReadingSlot != 0)
        {
            _states.Free(e.ReadingSlot - 1);
        }
        for (var k = 0; k < (e.Windows?.Length ?? 0); k++)
        {
            if (e.Windows![k].Slot != 0)
            {
                _states.Free(e.Windows[k].Slot - 1);
            }
        }
        _slab.Free(slot);
    }

    /// <summary>Records which sensors' state changed, for <see cref="TakeChanged"/>, and which window detectors each sensor has,
    /// for <see cref="WriteSensorState"/>. Off by default (offline replay, benchmarks); set it before the first reading.</summary>
    public bool TrackChanges { get; set; }

    /// <summary>Whether some sensor's state changed since it was last taken, or a checkpoint is still being spread.</summary>
    public bool HasChanges => _dirty.Count > 0 || _urgent.Count > 0 || _round.Count > 0;

    /// <summary>Lowest source offset of <paramref name="partition"/> whose reading changed a sensor state that has not been
    /// taken by a completed checkpoint since (replay must start there at the latest); null when none.</summary>
    public long? LowestUntakenOffset(int partition)
    {
        long? lowest = _firstDirty.TryGetValue(partition, out var o) ? o : null;
        if (_roundFirstDirty.TryGetValue(partition, out var r) && (lowest is null || r < lowest))
        {
            lowest = r;
        }
        return lowest;
    }

    /// <summary>
    /// Appends the sensors whose state must be persisted now, which then count as unchanged: those whose window-detector
    /// state changed (always, they cannot wait), and the next at most <paramref name="max"/> of a checkpoint. A checkpoint
    /// (<paramref name="all"/>) takes every sensor changed since the previous one; with a bound it is spread over the
    /// following calls, and its replay bound (<see cref="LowestUntakenOffset"/>) is released only when its last sensor is
    /// taken. Sensors changing meanwhile belong to the next checkpoint. <paramref name="max"/> = int.MaxValue with
    /// <paramref name="all"/> takes everything changed (revocation, shutdown).
    /// </summary>
    public void TakeChanged(bool all, List<ChangedSensor> into, int max = int.MaxValue)
    {
        ArgumentNullException.ThrowIfNull(into);
        ArgumentOutOfRangeException.ThrowIfLessThan(max, 1);
        var drain = all && max == int.MaxValue;
        if (all && _round.Count == 0)
        {
            StartRound();
        }
        var taken = 0;
        while (_round.Count > 0 && taken < max)
        {
            var id = _round[_roundNext++];
            ref var e = ref Find(id);
            if (!Unsafe.IsNullRef(ref e) && e.Dirty)
            {
                e.Dirty = false;
                e.Urgent = false;
                into.Add(new ChangedSensor(id, e.Partition, RestoredPosition(id)));
                taken++;
            }
            if (_roundNext == _round.Count)
            {
                // The checkpoint is complete: every state changed before it began is stored (or in this batch).
                _round.Clear();
                _roundNext = 0;
                _roundFirstDirty.Clear();
                if (drain && _dirty.Count > 0)
                {
                    StartRound();
                }
            }
        }
        foreach (var id in _urgent)
        {
            ref var e = ref Find(id);
            if (Unsafe.IsNullRef(ref e) || !e.Urgent)
            {
                // Forgotten, or taken by the checkpoint above.
                continue;
            }
            e.Urgent = false;
            if (!ReadingExists(e))
            {
                // Window state of a sensor that never had a reading scored here (only outside the engine): nothing to place it by.
                continue;
            }
            // Its whole state is taken; a stale entry left in a checkpoint list is skipped because the flag is clear.
            e.Dirty = false;
            into.Add(new ChangedSensor(id, e.Partition, RestoredPosition(id)));
        }
        _urgent.Clear();
    }

    /// <summary>Moves the sensors changed so far, and their replay bound, into the checkpoint being taken.</summary>
    private void StartRound()
    {
        if (_dirty.Count == 0)
        {
            return;
        }
        // Swap rather than copy: both lists and both maps keep their capacity.
        (_round, _dirty) = (_dirty, _round);
        _dirty.Clear();
        _roundNext = 0;
        foreach (var (partition, offset) in _firstDirty)
        {
            ref var bound = ref CollectionsMarshal.GetValueRefOrAddDefault(_roundFirstDirty, partition, out var exists);
            bound = exists ? Math.Min(bound, offset) : offset;
        }
        _firstDirty.Clear();
    }

    /// <summary>Writes one sensor's state (reading and window detectors) in a form <see cref="RestoreSensorState"/> reads.</summary>
    /// <returns>False when the pipeline holds no state for the sensor (an empty state is written).</returns>
    public bool WriteSensorState(string sensorId, BinaryWriter writer) => WriteSensorState(sensorId, writer, compact: true);

    /// <param name="compact">Young states as their input logs; false builds and writes every state in full (a canonical
    /// form, for tests that compare states kept differently).</param>
    internal bool WriteSensorState(string sensorId, BinaryWriter writer, bool compact)
    {
        ArgumentNullException.ThrowIfNull(sensorId);
        ArgumentNullException.ThrowIfNull(writer);
        writer.Write(SensorStateMagic);
        writer.Write(SnapshotVersion);
        ref var e = ref Find(sensorId);
        var found = !Unsafe.IsNullRef(ref e);
        var hasReading = found && ReadingExists(e);
        writer.Write(hasReading);
        string? readingType = null, readingAsset = null;
        if (hasReading)
        {
            (readingType, readingAsset) = TypeAndAsset(e, 0);
            WriteState(writer, e, 0, compact, hasReading: false, null, null);
        }
        var count = found ? WindowCount(e) : 0;
        writer.Write(count);
        for (var k = 0; k < (count > 0 ? _kinds.Count : 0); k++)
        {
            if (!WindowExists(e, k))
            {
                continue;
            }
            writer.Write(_kinds[k]);
            writer.Write(WindowSlotOf(e, k) != 0 ? e.Windows![k].LastEnd : YoungLastEnd(e, k + 1));
            WriteState(writer, e, k + 1, compact, hasReading, readingType, readingAsset);
        }
        return hasReading || count > 0;
    }

    private (string? Type, string? Asset) TypeAndAsset(in SensorRecord e, int state)
    {
        var slot = SlotOf(e, state);
        if (slot == 0)
        {
            return (YoungType(e, state), YoungAsset(e, state));
        }
        ref var s = ref _states[slot - 1];
        return (s.SensorType, s.AssetId);
    }

    /// <param name="hasReading">Whether the row holds a reading state (written before this window state) whose sensor type
    /// and asset are <paramref name="readingType"/> and <paramref name="readingAsset"/>.</param>
    private void WriteState(BinaryWriter writer, in SensorRecord e, int state, bool compact, bool hasReading, string? readingType, string? readingAsset)
    {
        if (!compact || SlotOf(e, state) != 0)
        {
            writer.Write(FormFull);
            WriteSensor(writer, Materialized(e, state));
            return;
        }
        var (type, asset) = TypeAndAsset(e, state);
        if (hasReading && string.Equals(type, readingType, StringComparison.Ordinal) && string.Equals(asset, readingAsset, StringComparison.Ordinal))
        {
            writer.Write(FormLogAsReading);
        }
        else
        {
            writer.Write(FormLog);
            WriteNullable(writer, type);
            WriteNullable(writer, asset);
        }
        var log = YoungLog.Extract(e.Young.AsSpan(0, e.YoungLength), state, YoungLog.SensorTagBits, out var inputs);
        writer.Write((byte)inputs);
        writer.Write7BitEncodedInt(log.Length);
        writer.Write(log);
    }

    /// <summary>A state read from a stored row: built (<see cref="Full"/>), or a young state's input log.</summary>
    private readonly record struct StoredState(SensorState? Full, string? SensorType, string? AssetId, byte[]? Log, int Count);

    private StoredState ReadState(BinaryReader reader, string sensorId, bool hasReading, in StoredState reading)
    {
        var form = reader.ReadByte();
        if (form == FormFull)
        {
            return new StoredState(ReadSensor(reader), null, null, null, 0);
        }
        string? type, asset;
        switch (form)
        {
            case FormLog:
                type = ReadNullable(reader);
                asset = ReadNullable(reader);
                break;
            case FormLogAsReading when hasReading:
                (type, asset) = reading.Full is { } full ? (full.SensorType, full.AssetId) : (reading.SensorType, reading.AssetId);
                break;
            default:
                throw new InvalidDataException($"Stored state of sensor '{sensorId}' has a state of unknown form {form}.");
        }
        var count = reader.ReadByte();
        var length = reader.Read7BitEncodedInt();
        if (count == 0 || length <= 0 || length > count * YoungLog.MaxEntryBytes)
        {
            throw new InvalidDataException($"Stored state of sensor '{sensorId}' has an input log of {count} inputs in {length} bytes.");
        }
        var log = reader.ReadBytes(length);
        if (log.Length != length || !YoungLog.IsWellFormed(log, count))
        {
            throw new InvalidDataException($"Stored state of sensor '{sensorId}' has a malformed input log.");
        }
        return new StoredState(null, type, asset, log, count);
    }

    /// <summary>Installs a stored state as state <paramref name="state"/> of a record being restored: the built one stored, or
    /// a young one logged again (built by replaying its inputs instead when it could not stay young here: the current
    /// configuration would not have logged them all, e.g. a range rule added since, or its type, asset or last judged
    /// window cannot be kept in the young form).</summary>
    private void Adopt(ref SensorRecord e, int state, in StoredState stored, long lastEnd)
    {
        if (stored.Full is not { } full)
        {
            var set = SetFor(stored.SensorType);
            var young = state < YoungStates && YoungCount(e, state) == 0 && MayStayYoung(set, stored.Count);
            if (young)
            {
                young = LogAll(ref e, state, stored);
                if (young && state > 0 && YoungLastEnd(e, state) != lastEnd)
                {
                    // Its last judged window is not its last input (not written by this pipeline): kept with the built state.
                    DropYoung(ref e, state);
                    young = false;
                }
            }
            if (young)
            {
                return;
            }
            full = new SensorState { Set = set, SensorType = stored.SensorType, AssetId = stored.AssetId };
            var reader = new YoungLog.Reader(stored.Log, 0);
            while (reader.TryNext(out _, out var time, out var value))
            {
                set.Update(ref full, time, value, out _);
            }
        }
        var slot = Store(full);
        if (state == 0)
        {
            e.ReadingSlot = slot;
        }
        else
        {
            WindowOf(ref e, state - 1) = new WindowSlot { Slot = slot, LastEnd = lastEnd };
        }
    }

    /// <summary>Logs every input of a stored young state; false (nothing logged) when one cannot be.</summary>
    private bool LogAll(ref SensorRecord e, int state, in StoredState stored)
    {
        var saved = (e.Young, e.YoungLength, e.YoungCounts, e.TypeBits, e.SensorType, e.AssetBits, e.AssetId);
        var reader = new YoungLog.Reader(stored.Log, 0);
        var first = true;
        while (reader.TryNext(out _, out var time, out var value))
        {
            // The stored type binds the new state; its asset is set with the first input (it was set by one of them).
            if (!TryLog(ref e, state, first ? stored.SensorType : null, first ? stored.AssetId : null, time, value))
            {
                // Appending wrote past the saved length or into a grown copy: the saved bytes are intact.
                (e.Young, e.YoungLength, e.YoungCounts, e.TypeBits, e.SensorType, e.AssetBits, e.AssetId) = saved;
                return false;
            }
            first = false;
        }
        return true;
    }

    /// <summary>
    /// Replaces one sensor's state with one written by <see cref="WriteSensorState(string, BinaryWriter)"/> when the sensor's
    /// partition was at <paramref name="position"/>: readings of the sensor below that offset are already in it
    /// (<see cref="AlreadySeen"/>), and final windows it already judged are not judged again. Rows of the previous layout
    /// (every state built) are read too.
    /// </summary>
    /// <exception cref="InvalidDataException">Not a sensor state, another version, or an incompatible configuration;
    /// nothing was changed.</exception>
    public void RestoreSensorState(string sensorId, int partition, long position, BinaryReader reader)
    {
        ArgumentNullException.ThrowIfNull(sensorId);
        ArgumentNullException.ThrowIfNull(reader);
        var magic = reader.ReadInt32();
        if (magic != SensorStateMagic && magic != SensorStateMagic2)
        {
            throw new InvalidDataException($"Stored state of sensor '{sensorId}' is not a detector state.");
        }
        var forms = magic == SensorStateMagic;
        var version = reader.ReadInt32();
        if (version != SnapshotVersion)
        {
            throw new InvalidDataException($"Stored state of sensor '{sensorId}' has version {version} (expected {SnapshotVersion}).");
        }
        var hasReading = reader.ReadBoolean();
        StoredState readingState = default;
        if (hasReading)
        {
            readingState = forms ? ReadState(reader, sensorId, hasReading: false, default) : new StoredState(ReadSensor(reader), null, null, null, 0);
        }
        var count = reader.ReadInt32();
        if (count < 0 || count > 1024)
        {
            throw new InvalidDataException($"Stored state of sensor '{sensorId}' has {count} windows.");
        }
        var windows = new List<(string Kind, long LastEnd, StoredState State)>(count);
        for (var i = 0; i < count; i++)
        {
            var kind = string.Intern(reader.ReadString());
            var lastEnd = reader.ReadInt64();
            windows.Add((kind, lastEnd, forms ? ReadState(reader, sensorId, hasReading, readingState) : new StoredState(ReadSensor(reader), null, null, null, 0)));
        }

        RemoveSensorState(sensorId);
        if (!hasReading && windows.Count == 0)
        {
            _restoredAt[sensorId] = position;
            return;
        }
        ref var e = ref Record(sensorId);
        if (hasReading)
        {
            Adopt(ref e, 0, readingState, long.MinValue);
            e.Partition = partition;
            _readingStates++;
        }
        foreach (var (kind, lastEnd, state) in windows)
        {
            Adopt(ref e, 1 + KindIndex(kind), state, lastEnd);
            // Final windows close in order of their end: one ending at or before the last judged one was judged already.
            _restoredWindowEnd[(sensorId, kind)] = lastEnd;
        }
        _restoredAt[sensorId] = position;
    }

    /// <summary>During a replay: whether <paramref name="reading"/> is already part of its sensor's restored state (its
    /// offset is below the position the state was stored at), so it must not be scored again.</summary>
    public bool AlreadySeen(in SensorReading reading)
    {
        if (_restoredAt.Count == 0 || reading.SensorId is null || !_restoredAt.TryGetValue(reading.SensorId, out var at))
        {
            return false;
        }
        if (reading.Position.Offset < at)
        {
            return true;
        }
        // A partition replays in offset order: once past the position, every later reading is new to the state.
        _restoredAt.Remove(reading.SensorId);
        return false;
    }

    /// <summary>The replay of <paramref name="partition"/> reached its stored offsets: no reading of it can be already seen any more.</summary>
    public void ReplayFinished(int partition)
    {
        if (_restoredAt.Count == 0)
        {
            return;
        }
        List<string>? done = null;
        foreach (var id in _restoredAt.Keys)
        {
            ref var e = ref Find(id);
            if (Unsafe.IsNullRef(ref e) || !ReadingExists(e) || e.Partition == partition)
            {
                (done ??= []).Add(id);
            }
        }
        if (done is null)
        {
            return;
        }
        foreach (var id in done)
        {
            _restoredAt.Remove(id);
        }
    }

    /// <summary>Forgets every sensor last seen on one of <paramref name="partitions"/> (they moved to another instance),
    /// appending their ids to <paramref name="removed"/>.</summary>
    public void RemovePartitions(IReadOnlyCollection<int> partitions, List<string> removed)
    {
        ArgumentNullException.ThrowIfNull(partitions);
        ArgumentNullException.ThrowIfNull(removed);
        if (partitions.Count == 0)
        {
            return;
        }
        var first = removed.Count;
        foreach (var slot in _index.Values)
        {
            ref var e = ref _slab[slot];
            if (ReadingExists(e) && partitions.Contains(e.Partition))
            {
                removed.Add(e.Id);
            }
        }
        for (var i = first; i < removed.Count; i++)
        {
            RemoveSensorState(removed[i]);
        }
        foreach (var p in partitions)
        {
            _firstDirty.Remove(p);
            _roundFirstDirty.Remove(p);
        }
    }

    private void RemoveSensorState(string sensorId)
    {
        _restoredAt.Remove(sensorId);
        if (!_index.Remove(sensorId, out var slot))
        {
            return;
        }
        ref var e = ref _slab[slot];
        if (ReadingExists(e))
        {
            _readingStates--;
        }
        for (var k = 0; k < _kinds.Count; k++)
        {
            if (WindowExists(e, k))
            {
                _restoredWindowEnd.Remove((sensorId, _kinds[k]));
            }
        }
        // A stale entry of the sensor in _urgent or a checkpoint list finds no record (or a new one) and is skipped.
        FreeRecord(slot);
    }

    private long RestoredPosition(string sensorId) => _restoredAt.TryGetValue(sensorId, out var at) ? at : 0;

    private void MarkDirty(ref SensorRecord e, string sensorId, SourcePosition position)
    {
        e.Dirty = true;
        e.Partition = position.Partition;
        _dirty.Add(sensorId);
        if (position.Partition >= 0)
        {
            ref var first = ref CollectionsMarshal.GetValueRefOrAddDefault(_firstDirty, position.Partition, out var exists);
            if (!exists || position.Offset < first)
            {
                first = position.Offset;
            }
        }
    }

    /// <summary>A final window of a restored window state that the state had already judged before it was stored.</summary>
    private bool IsRestoredWindow((string, string) key, long windowEnd)
    {
        if (!_restoredWindowEnd.TryGetValue(key, out var end))
        {
            return false;
        }
        if (windowEnd <= end)
        {
            return true;
        }
        _restoredWindowEnd.Remove(key);
        return false;
    }
}
