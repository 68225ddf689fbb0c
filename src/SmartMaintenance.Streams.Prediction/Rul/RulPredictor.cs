using System.Collections.Frozen;
using SmartMaintenance.Streams.Contracts;

namespace SmartMaintenance.Streams.Prediction.Rul;

/// <summary>
/// Assembles each asset's readings into cycles and estimates its RUL after every cycle. A reading takes part when it has
/// an <c>asset_id</c> and its <c>sensor_type</c> is a channel of <see cref="RulChannels.All"/>; the readings of one cycle
/// share a timestamp. A cycle closes as soon as every channel the model needs has arrived, or, with some missing, when a
/// reading of a later cycle arrives (missing channels carry their last value forward; the cycle counter advances by one).
/// </summary>
/// <remarks>
/// <para>One asset's channels must reach the same consume loop (key the asset's readings by asset, e.g. one envelope per
/// cycle). Readings at or before an asset's last closed cycle are ignored (<see cref="Ignored"/>).</para>
/// <para>Bounded replay: an asset's state is its last <see cref="RulFeatureSpec.Window"/> cycles, so
/// <see cref="LowestNeededOffset"/> is the offset of the oldest of them; replaying from there rebuilds exactly the state an
/// uninterrupted run has (the cycle counter is a channel, not a count of cycles seen). An asset silent for longer than
/// the idle limit (event time, against the newest cycle of its partition) stops holding the replay back: were it to
/// resume after a restart, its window would refill from its new cycles.</para>
/// Not thread-safe: the consume loop owns it.
/// </remarks>
public sealed class RulPredictor
{
    private static readonly FrozenDictionary<string, int> ChannelIndex =
        RulChannels.All.Select((c, i) => (c, i)).ToFrozenDictionary(x => x.c, x => x.i, StringComparer.Ordinal);

    private readonly RulModel _model;
    private readonly uint _required;
    private readonly float[] _features;
    private readonly Dictionary<string, Asset> _assets = new(StringComparer.Ordinal);
    private readonly Dictionary<int, long> _newestCycle = [];
    private readonly long _idleMs;

    public RulPredictor(RulModel model, TimeSpan? idleLimit = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        _model = model;
        _idleMs = (long)(idleLimit ?? TimeSpan.FromHours(1)).TotalMilliseconds;
        _features = new float[model.Spec.FeatureCount];
        _required = 1u; // the cycle counter
        for (var s = 0; s < RulChannels.Settings.Count; s++)
        {
            _required |= 1u << (1 + s);
        }
        foreach (var i in model.Spec.ChannelIndices())
        {
            _required |= 1u << i;
        }
    }

    public RulModel Model => _model;

    public int Assets => _assets.Count;

    /// <summary>Readings ignored because their cycle had closed already (late or repeated).</summary>
    public long Ignored { get; private set; }

    /// <summary>Whether the reading is one of an asset's RUL channels (cheap; no state touched).</summary>
    public static bool IsChannel(in SensorReading reading) =>
        reading.AssetId is not null && reading.SensorType is not null && ChannelIndex.ContainsKey(reading.SensorType);

    /// <summary>Takes one reading; true when it closed a cycle, with the estimate after that cycle.</summary>
    public bool OnReading(in SensorReading reading, out RulEstimate estimate)
    {
        estimate = default;
        if (reading.AssetId is null || reading.SensorType is null || !ChannelIndex.TryGetValue(reading.SensorType, out var channel))
        {
            return false;
        }
        if (!_assets.TryGetValue(reading.AssetId, out var asset))
        {
            asset = new Asset(reading.AssetId, new AssetFeatureState(_model.Spec, _model.Artefact.Conditions), _model.Spec.Window, reading.Position.Partition);
            _assets[reading.AssetId] = asset;
        }
        if (reading.Timestamp <= asset.ClosedTs || (asset.Mask != 0 && reading.Timestamp < asset.PendingTs))
        {
            Ignored++;
            return false;
        }
        var closed = false;
        if (asset.Mask != 0 && reading.Timestamp > asset.PendingTs)
        {
            closed = Close(asset, out estimate);
        }
        if (asset.Mask == 0)
        {
            asset.PendingTs = reading.Timestamp;
            asset.PendingOffset = reading.Position.Offset;
        }
        asset.Pending[channel] = reading.Value;
        asset.Mask |= 1u << channel;
        if (!closed && (asset.Mask & _required) == _required)
        {
            closed = Close(asset, out estimate);
        }
        return closed;
    }

    /// <summary>Lowest input offset of <paramref name="partition"/> the assets' open state needs, or null.</summary>
    public long? LowestNeededOffset(int partition)
    {
        long? lowest = null;
        var idleBefore = _newestCycle.TryGetValue(partition, out var newest) ? newest - _idleMs : long.MinValue;
        foreach (var asset in _assets.Values)
        {
            if (asset.Partition == partition && (asset.ClosedTs >= idleBefore || asset.Mask != 0)
                && asset.NeededOffset() is { } o && (lowest is null || o < lowest))
            {
                lowest = o;
            }
        }
        return lowest;
    }

    /// <summary>Forgets the assets of partitions no longer assigned.</summary>
    public void DropPartitions(IReadOnlyCollection<int> partitions)
    {
        ArgumentNullException.ThrowIfNull(partitions);
        List<string>? gone = null;
        foreach (var (id, asset) in _assets)
        {
            if (partitions.Contains(asset.Partition))
            {
                (gone ??= []).Add(id);
            }
        }
        foreach (var id in gone ?? [])
        {
            _assets.Remove(id);
        }
        foreach (var p in partitions)
        {
            _newestCycle.Remove(p);
        }
    }

    private bool Close(Asset asset, out RulEstimate estimate)
    {
        estimate = default;
        var missing = _required & ~asset.Mask;
        asset.Mask = 0;
        asset.ClosedTs = asset.PendingTs;
        if (!_newestCycle.TryGetValue(asset.Partition, out var newest) || asset.ClosedTs > newest)
        {
            _newestCycle[asset.Partition] = asset.ClosedTs;
        }
        if (missing != 0)
        {
            if (!asset.HasLast)
            {
                // Nothing to carry forward yet: the asset's first, incomplete cycle teaches nothing.
                return false;
            }
            for (var i = 0; i < asset.Pending.Length; i++)
            {
                if ((missing & (1u << i)) != 0)
                {
                    asset.Pending[i] = i == 0 ? asset.Last[0] + 1 : asset.Last[i];
                }
            }
        }
        asset.RecordOffset(asset.PendingOffset);
        asset.Features.AddCycle(asset.Pending);
        asset.Pending.CopyTo(asset.Last, 0);
        asset.HasLast = true;
        asset.Features.WriteFeatures(_features);
        var (rul, lower, upper) = _model.Estimate(_features);
        estimate = new RulEstimate(asset.Id, asset.ClosedTs, asset.Features.Cycle, rul, lower, upper, _model.Version);
        return true;
    }

    private sealed class Asset(string id, AssetFeatureState features, int window, int partition)
    {
        public readonly string Id = id;
        public readonly AssetFeatureState Features = features;
        public readonly int Partition = partition;
        public readonly double[] Pending = new double[RulChannels.All.Count];
        public readonly double[] Last = new double[RulChannels.All.Count];
        /// <summary>First input offset of each cycle in the feature ring (same slots).</summary>
        private readonly long[] _cycleOffsets = new long[window];
        private long _firstOffset = -1;
        public bool HasLast;
        public uint Mask;
        public long PendingTs;
        public long PendingOffset;
        public long ClosedTs = long.MinValue;

        public void RecordOffset(long offset)
        {
            if (_firstOffset < 0)
            {
                _firstOffset = offset;
            }
            _cycleOffsets[(int)(Features.Count % _cycleOffsets.Length)] = offset;
        }

        public long? NeededOffset()
        {
            long? needed = Features.Count == 0 ? null
                : Features.Count < _cycleOffsets.Length ? _firstOffset
                : _cycleOffsets[(int)(Features.Count % _cycleOffsets.Length)];
            if (Mask != 0 && (needed is null || PendingOffset < needed))
            {
                needed = PendingOffset;
            }
            return needed;
        }
    }
}
