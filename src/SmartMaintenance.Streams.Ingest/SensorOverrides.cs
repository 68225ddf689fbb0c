using System.Collections.Frozen;

namespace SmartMaintenance.Streams.Ingest;

/// <summary>What the sensor registry says about one sensor: fills a reading's missing asset/type/unit, and its range
/// (when set) replaces the sensor type's range from Validation:Ranges.</summary>
public sealed record SensorOverride(string? AssetId, string? SensorType, string? Unit, double? RangeMin, double? RangeMax)
{
    public bool HasRange => RangeMin is not null || RangeMax is not null;
}

/// <summary>The sensor registry as validation sees it: an immutable snapshot swapped whole, so the consume loop reads it
/// without locking while the operator API (or its refresher) replaces it.</summary>
public sealed class SensorOverrides
{
    private FrozenDictionary<string, SensorOverride> _map = FrozenDictionary<string, SensorOverride>.Empty;

    public int Count => Volatile.Read(ref _map).Count;

    public void Replace(IEnumerable<KeyValuePair<string, SensorOverride>> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        Volatile.Write(ref _map, entries.ToFrozenDictionary(StringComparer.Ordinal));
    }

    public bool TryGet(string sensorId, out SensorOverride entry)
    {
        var map = Volatile.Read(ref _map);
        if (map.Count > 0 && map.TryGetValue(sensorId, out var e))
        {
            entry = e;
            return true;
        }
        entry = null!;
        return false;
    }
}
