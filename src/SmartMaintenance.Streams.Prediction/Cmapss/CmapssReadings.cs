using System.Globalization;
using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Prediction.Rul;

namespace SmartMaintenance.Streams.Prediction.Cmapss;

/// <summary>A C-MAPSS engine as stream readings: asset <c>PREFIX-u{unit}</c>, one reading per channel per cycle,
/// sensor type = channel name, event time = <c>start + cycle × step</c>.</summary>
public sealed class CmapssReadings(string assetPrefix, DateTimeOffset start, TimeSpan step)
{
    private readonly Dictionary<int, (string Asset, string[] Sensors)> _ids = [];

    public string AssetId(int unit) => Ids(unit).Asset;

    public long Timestamp(double cycle) => start.ToUnixTimeMilliseconds() + (long)(cycle * step.TotalMilliseconds);

    /// <summary>The 25 readings of one cycle (a row of <see cref="RulChannels.All"/>) in channel order.</summary>
    public void Cycle(int unit, double[] row, List<SensorReading> into, SourcePosition position = default)
    {
        ArgumentNullException.ThrowIfNull(row);
        ArgumentNullException.ThrowIfNull(into);
        var (asset, sensors) = Ids(unit);
        var ts = Timestamp(row[0]);
        for (var i = 0; i < RulChannels.All.Count; i++)
        {
            into.Add(new SensorReading(sensors[i], ts, row[i], asset, RulChannels.All[i], Position: position));
        }
    }

    private (string Asset, string[] Sensors) Ids(int unit)
    {
        if (!_ids.TryGetValue(unit, out var ids))
        {
            var asset = string.Create(CultureInfo.InvariantCulture, $"{assetPrefix}-u{unit}");
            ids = (asset, [.. RulChannels.All.Select(c => asset + "." + c)]);
            _ids[unit] = ids;
        }
        return ids;
    }
}
