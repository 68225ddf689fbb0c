using System.Runtime.InteropServices;
using System.Text;
using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Scoring.Detectors;
using SmartMaintenance.Streams.Scoring.Models;

namespace SmartMaintenance.Streams.Scoring;

/// <summary>
/// The engine-facing scorer. Called synchronously, per reading, on the consume loop (not thread-safe: one
/// pipeline per loop). Per-sensor state is a struct in a dictionary accessed by ref, so a reading that does
/// not fire allocates nothing; the <see cref="Anomaly"/> and its evidence JSON are built only on firing.
/// </summary>
public sealed partial class DetectorPipeline
{
    private const int SnapshotMagic = 0x44534D53; // "SMSD"
    // 2: context detectors store one ring of points instead of a matrix of contexts (ContextDetector.Write).
    // 3: each sensor also carries the seasonal detector's state (SeasonalDetector.Write) and its habituation memory.
    // 4: the CUSUM state carries its own reference level; habituation maxima, suppression score and flatline runs are narrower.
    private const int SnapshotVersion = 4;
    /// <summary>Prefix of detector names for window-aggregate findings, so their alert ids differ from reading ones.</summary>
    public const string WindowDetectorPrefix = "window/";
    public const string ModelDetectorName = "model";

    private readonly ScoringOptions _options;
    private readonly DetectorSet _defaultSet;
    private readonly Dictionary<string, DetectorSet> _sets = new(StringComparer.Ordinal);
    // One record per sensor (reading state, every window-kind state, persistence flags) in a chunked slab, found by a
    // dictionary of 4-byte slots: no dictionary of large structs that doubles, one lookup per reading or window.
    private readonly Dictionary<string, int> _index = new(StringComparer.Ordinal);
    private readonly SensorSlab<SensorRecord> _slab = new();
    // Materialized detector states (reading and window), referred to by SensorRecord.ReadingSlot and WindowSlot.Slot.
    private readonly SensorSlab<SensorState> _states = new();
    private int _readingStates;
    // Window kinds (spec labels) by index: a record's window states are an array indexed by kind.
    private readonly List<string> _kinds = [];
    private readonly Dictionary<string, int> _kindIndex = new(StringComparer.Ordinal);
    // Change tracking for incremental persistence (DetectorPipeline.State.cs); empty unless TrackChanges is on.
    private List<string> _dirty = [];
    // Sensors whose window state changed (each once: SensorRecord.Urgent).
    private readonly List<string> _urgent = [];
    private readonly Dictionary<int, long> _firstDirty = [];
    // The checkpoint being spread over batches (TakeChanged with a bound): its sensors, progress and replay bound.
    private List<string> _round = [];
    private int _roundNext;
    private readonly Dictionary<int, long> _roundFirstDirty = [];
    private readonly Dictionary<string, long> _restoredAt = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Sensor, string Kind), long> _restoredWindowEnd = [];
    private readonly ModelProvider? _models;
    private readonly float[] _features = new float[WindowFeatures.Count];

    public DetectorPipeline(ScoringOptions options, ModelProvider? models = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _models = models;
        _defaultSet = new DetectorSet(options.Defaults);
        var warmup = options.Defaults.WarmupReadings;
        foreach (var (type, o) in options.SensorTypes)
        {
            _sets[type] = new DetectorSet(o);
            warmup = Math.Max(warmup, o.WarmupReadings);
        }
        WarmupReadings = warmup;
    }

    /// <summary>Readings of history a sensor needs before it can fire (the largest over sensor types): replay this much after a restart.</summary>
    public int WarmupReadings { get; }

    /// <summary>Sensors with reading state.</summary>
    public int SensorCount => _readingStates;

    /// <summary>Warm-up of one sensor type.</summary>
    public int WarmupReadingsFor(string? sensorType) => SetFor(sensorType).WarmupReadings;

    /// <summary>Scores one reading; true (and the anomaly) when a detector fired.</summary>
    public bool Process(in SensorReading reading, out Anomaly? anomaly)
    {
        Score(reading, defer: true, out var result, out anomaly);
        return result.Fired;
    }

    /// <summary>Scores one reading and returns the ensemble's output score (what NAB evaluation replays) with the full result.</summary>
    public double Score(in SensorReading reading, out EnsembleResult result, out Anomaly? anomaly) =>
        Score(reading, defer: false, out result, out anomaly);

    /// <param name="defer">The caller needs only whether it fired: a young state may just log the reading (see <see cref="SensorRecord"/>).</param>
    private double Score(in SensorReading reading, bool defer, out EnsembleResult result, out Anomaly? anomaly)
    {
        ArgumentNullException.ThrowIfNull(reading.SensorId);
        ref var e = ref Record(reading.SensorId);
        if (TrackChanges && !e.Dirty)
        {
            MarkDirty(ref e, reading.SensorId, reading.Position);
        }
        if (e.ReadingSlot == 0)
        {
            var young = YoungCount(e, 0) > 0;
            if (!young)
            {
                _readingStates++;
            }
            if (defer && TryLog(ref e, 0, reading.SensorType, reading.AssetId, reading.Timestamp, reading.Value))
            {
                // Within warm-up and without a range rule nothing can fire, so the ensemble's answer is known.
                result = default;
                anomaly = null;
                return 0;
            }
            e.ReadingSlot = young
                ? MaterializeYoung(ref e, 0)
                : Store(new SensorState { Set = SetFor(reading.SensorType), SensorType = reading.SensorType });
        }
        ref var s = ref _states[e.ReadingSlot - 1];
        s.AssetId ??= reading.AssetId;
        var set = s.Set!;
        set.Update(ref s, reading.Timestamp, reading.Value, out result);
        anomaly = result.Fired ? set.CreateAnomaly(reading.SensorId, s, reading.Timestamp, reading.Value, result) : null;
        return result.Output;
    }

    /// <summary>
    /// Scores a closed (or revised) window aggregate: the window's mean runs through its own detector state per
    /// (sensor, window kind), min/max through the range rule, and when a model for the sensor type is loaded its
    /// score joins the ensemble. Without a model this is the statistical ensemble alone (the fallback).
    /// </summary>
    public bool ProcessWindow(WindowAggregate aggregate, out Anomaly? anomaly)
    {
        ArgumentNullException.ThrowIfNull(aggregate.SensorId, nameof(aggregate));
        if (_restoredWindowEnd.Count > 0 && IsRestoredWindow((aggregate.SensorId, aggregate.WindowKind), aggregate.WindowEnd))
        {
            anomaly = null;
            return false;
        }
        anomaly = ScoreWindowStatistically(aggregate, out var rangeFired);
        if (!rangeFired && _models is not null && _models.TryGetScorer(aggregate.SensorType, out var scorer))
        {
            WindowFeatures.Fill(aggregate, _features);
            Span<float> score = stackalloc float[1];
            scorer.Score(_features, 1, score);
            if (score[0] >= _options.ModelThreshold)
            {
                anomaly = ModelAnomaly(aggregate, scorer, score[0]);
            }
        }
        return anomaly is not null;
    }

    /// <summary>
    /// Scores many window aggregates at once (e.g. all windows a watermark advance closed): the same result as
    /// <see cref="ProcessWindow"/> per aggregate, in order, but model scoring runs as one micro-batch per model.
    /// </summary>
    /// <returns>How many anomalies were added to <paramref name="anomalies"/>.</returns>
    public int ProcessWindows(IReadOnlyList<WindowAggregate> aggregates, ICollection<Anomaly> anomalies)
    {
        ArgumentNullException.ThrowIfNull(aggregates);
        ArgumentNullException.ThrowIfNull(anomalies);
        var n = aggregates.Count;
        var found = new Anomaly?[n];
        var scorers = new IModelScorer?[n];
        for (var i = 0; i < n; i++)
        {
            ArgumentNullException.ThrowIfNull(aggregates[i].SensorId, nameof(aggregates));
            if (_restoredWindowEnd.Count > 0 && IsRestoredWindow((aggregates[i].SensorId, aggregates[i].WindowKind), aggregates[i].WindowEnd))
            {
                continue;
            }
            found[i] = ScoreWindowStatistically(aggregates[i], out var rangeFired);
            if (!rangeFired && _models is not null && _models.TryGetScorer(aggregates[i].SensorType, out var scorer))
            {
                scorers[i] = scorer;
            }
        }
        for (var i = 0; i < n; i++)
        {
            var scorer = scorers[i];
            if (scorer is null)
            {
                continue;
            }
            // One batch per distinct model; rows of later windows with the same model join this batch.
            var rows = new List<int>();
            for (var j = i; j < n; j++)
            {
                if (ReferenceEquals(scorers[j], scorer))
                {
                    rows.Add(j);
                    scorers[j] = null;
                }
            }
            var features = new float[rows.Count * WindowFeatures.Count];
            for (var r = 0; r < rows.Count; r++)
            {
                WindowFeatures.Fill(aggregates[rows[r]], features.AsSpan(r * WindowFeatures.Count, WindowFeatures.Count));
            }
            var scores = new float[rows.Count];
            scorer.Score(features, rows.Count, scores);
            for (var r = 0; r < rows.Count; r++)
            {
                if (scores[r] >= _options.ModelThreshold)
                {
                    found[rows[r]] = ModelAnomaly(aggregates[rows[r]], scorer, scores[r]);
                }
            }
        }
        var added = 0;
        foreach (var a in found)
        {
            if (a is not null)
            {
                anomalies.Add(a);
                added++;
            }
        }
        return added;
    }

    /// <summary>Window state update, range rule on min/max and the statistical ensemble on the mean; a range violation wins.</summary>
    private Anomaly? ScoreWindowStatistically(WindowAggregate aggregate, out bool rangeFired)
    {
        ArgumentNullException.ThrowIfNull(aggregate.SensorId, nameof(aggregate));
        rangeFired = false;
        ArgumentNullException.ThrowIfNull(aggregate.SensorId);
        ArgumentNullException.ThrowIfNull(aggregate.WindowKind);
        ref var e = ref Record(aggregate.SensorId);
        var kind = KindIndex(aggregate.WindowKind);
        if (TrackChanges && !e.Urgent)
        {
            e.Urgent = true;
            _urgent.Add(aggregate.SensorId);
        }
        var slot = WindowSlotOf(e, kind);
        if (slot == 0)
        {
            // TryLog requires no range rule, so the min/max check below could not fire either.
            if (TryLog(ref e, kind + 1, aggregate.SensorType, aggregate.AssetId, aggregate.WindowEnd, aggregate.Mean))
            {
                return null;
            }
            // A young state's last judged window is its last input; a new state has judged none.
            var lastEnd = YoungLastEnd(e, kind + 1);
            slot = YoungCount(e, kind + 1) > 0
                ? MaterializeYoung(ref e, kind + 1)
                : Store(new SensorState { Set = SetFor(aggregate.SensorType), SensorType = aggregate.SensorType });
            WindowOf(ref e, kind) = new WindowSlot { Slot = slot, LastEnd = lastEnd };
        }
        ref var window = ref e.Windows![kind];
        if (TrackChanges)
        {
            window.LastEnd = Math.Max(window.LastEnd, aggregate.WindowEnd);
        }
        ref var s = ref _states[slot - 1];
        s.AssetId ??= aggregate.AssetId;
        var set = s.Set!;
        set.Update(ref s, aggregate.WindowEnd, aggregate.Mean, out var result);

        var range = set.Range;
        if (range.Enabled)
        {
            var rangeValue = aggregate.Min;
            var lo = range.Score(aggregate.WindowEnd, aggregate.Min);
            var hi = range.Score(aggregate.WindowEnd, aggregate.Max);
            if (hi.Score > lo.Score)
            {
                lo = hi;
                rangeValue = aggregate.Max;
            }
            if (lo.Score >= set.Options.FireThreshold)
            {
                result.Range = lo;
                result.Winner = DetectorSet.RangeIndex;
                result.Output = result.Raw = 1;
                result.Fired = true;
                rangeFired = true;
                return set.CreateAnomaly(aggregate.SensorId, s, aggregate.WindowEnd, rangeValue, result, WindowDetectorPrefix) with
                {
                    WindowStart = aggregate.WindowStart,
                };
            }
        }
        if (!result.Fired)
        {
            return null;
        }
        var found = set.CreateAnomaly(aggregate.SensorId, s, aggregate.WindowEnd, aggregate.Mean, result, WindowDetectorPrefix);
        return found with { WindowStart = Math.Min(found.WindowStart, aggregate.WindowStart) };
    }

    private Anomaly ModelAnomaly(WindowAggregate aggregate, IModelScorer scorer, float score)
    {
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        var evidence = $$"""{"detector":"model","model":"{{scorer.ModelId}}","score":{{score.ToString("R", inv)}},"mean":{{aggregate.Mean.ToString("R", inv)}}}""";
        var severity = SeverityBins.FromScore(score, _options.ModelThreshold);
        return new Anomaly(aggregate.SensorId, aggregate.AssetId, aggregate.SensorType, WindowDetectorPrefix + ModelDetectorName, aggregate.WindowEnd,
            aggregate.Mean, Math.Clamp(score, 0, 1), _options.ModelThreshold, severity, aggregate.WindowStart, aggregate.WindowEnd, evidence);
    }

    /// <summary>Forgets a sensor's reading state (e.g. its partition was revoked).</summary>
    public bool Remove(string sensorId)
    {
        ArgumentNullException.ThrowIfNull(sensorId);
        if (!_index.TryGetValue(sensorId, out var slot) || !ReadingExists(_slab[slot]))
        {
            return false;
        }
        ref var e = ref _slab[slot];
        if (e.ReadingSlot != 0)
        {
            _states.Free(e.ReadingSlot - 1);
            e.ReadingSlot = 0;
        }
        DropYoung(ref e, 0);
        e.Dirty = false;
        e.Partition = 0;
        _readingStates--;
        if (WindowCount(e) == 0)
        {
            _index.Remove(sensorId);
            FreeRecord(slot);
        }
        return true;
    }

    /// <summary>Registers the window kinds (spec labels) that will be judged, so each sensor's window states are allocated
    /// once at their final size instead of growing as the kinds first appear.</summary>
    public void DeclareWindowKinds(IEnumerable<string> kinds)
    {
        ArgumentNullException.ThrowIfNull(kinds);
        foreach (var kind in kinds)
        {
            KindIndex(kind);
        }
    }

    /// <summary>Writes the state of every sensor (readings and windows) to <paramref name="stream"/>.</summary>
    public void Snapshot(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var w = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
        w.Write(SnapshotMagic);
        w.Write(SnapshotVersion);
        w.Write(_readingStates);
        var windows = 0;
        foreach (var slot in _index.Values)
        {
            ref var e = ref _slab[slot];
            if (ReadingExists(e))
            {
                w.Write(e.Id);
                WriteSensor(w, Materialized(e, 0));
            }
            windows += WindowCount(e);
        }
        w.Write(windows);
        foreach (var slot in _index.Values)
        {
            ref var e = ref _slab[slot];
            for (var k = 0; k < _kinds.Count; k++)
            {
                if (WindowExists(e, k))
                {
                    w.Write(e.Id);
                    w.Write(_kinds[k]);
                    WriteSensor(w, Materialized(e, k + 1));
                }
            }
        }
    }

    /// <summary>Replaces the state with a snapshot taken by <see cref="Snapshot"/> under the same detector configuration.</summary>
    /// <exception cref="InvalidDataException">Not a snapshot, another version, or taken under an incompatible configuration.</exception>
    public void Restore(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var r = new BinaryReader(stream, Encoding.UTF8, leaveOpen: true);
        if (r.ReadInt32() != SnapshotMagic)
        {
            throw new InvalidDataException("Not a detector snapshot.");
        }
        var version = r.ReadInt32();
        if (version != SnapshotVersion)
        {
            throw new InvalidDataException($"Detector snapshot version {version} is not supported (expected {SnapshotVersion}).");
        }
        var sensors = new Dictionary<string, SensorState>(StringComparer.Ordinal);
        var count = r.ReadInt32();
        for (var i = 0; i < count; i++)
        {
            var id = r.ReadString();
            sensors[id] = ReadSensor(r);
        }
        var windows = new Dictionary<(string, string), SensorState>();
        count = r.ReadInt32();
        for (var i = 0; i < count; i++)
        {
            var id = r.ReadString();
            var kind = r.ReadString();
            windows[(id, kind)] = ReadSensor(r);
        }
        _index.Clear();
        _slab.Clear();
        _states.Clear();
        _readingStates = 0;
        foreach (var (k, v) in sensors)
        {
            Record(k).ReadingSlot = Store(v);
            _readingStates++;
        }
        foreach (var (k, v) in windows)
        {
            // A whole-pipeline snapshot does not carry the last judged window end; only per-sensor states need it.
            ref var e = ref Record(k.Item1);
            WindowOf(ref e, KindIndex(k.Item2)) = new WindowSlot { Slot = Store(v), LastEnd = long.MinValue };
        }
    }

    private static void WriteSensor(BinaryWriter w, in SensorState s)
    {
        WriteNullable(w, s.SensorType);
        WriteNullable(w, s.AssetId);
        s.Set!.Write(s, w);
    }

    private SensorState ReadSensor(BinaryReader r)
    {
        var s = new SensorState { SensorType = ReadNullable(r), AssetId = ReadNullable(r) };
        s.Set = SetFor(s.SensorType);
        s.Set.Read(ref s, r);
        return s;
    }

    private static void WriteNullable(BinaryWriter w, string? value)
    {
        w.Write(value is not null);
        if (value is not null)
        {
            w.Write(value);
        }
    }

    private static string? ReadNullable(BinaryReader r) => r.ReadBoolean() ? string.Intern(r.ReadString()) : null;

    private DetectorSet SetFor(string? sensorType) =>
        sensorType is not null && _sets.TryGetValue(sensorType, out var set) ? set : _defaultSet;
}
