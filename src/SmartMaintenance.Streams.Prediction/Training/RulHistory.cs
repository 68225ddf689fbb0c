using Npgsql;
using NpgsqlTypes;
using SmartMaintenance.Streams.Prediction.Cmapss;
using SmartMaintenance.Streams.Prediction.Rul;

namespace SmartMaintenance.Streams.Prediction.Training;

/// <summary>Run-to-failure history from the <c>readings</c> table: each asset's readings grouped into cycles (one per
/// timestamp), an asset's last cycle in the range taken as its failure.</summary>
public static class RulHistory
{
    /// <summary>Assets whose id starts with <paramref name="assetPrefix"/>, with readings in [from, to); a cycle missing a
    /// channel carries that channel's last value (the cycle counter advances by one), as the engine does.</summary>
    public static async Task<IReadOnlyList<CmapssUnit>> LoadAsync(NpgsqlDataSource dataSource, string assetPrefix, DateTimeOffset from, DateTimeOffset to, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        ArgumentNullException.ThrowIfNull(assetPrefix);
        await using var cmd = dataSource.CreateCommand("""
            SELECT asset_id, ts, sensor_type, value FROM readings
            WHERE asset_id LIKE $1 AND ts >= $2 AND ts < $3 AND sensor_type = ANY($4)
            ORDER BY asset_id, ts
            """);
        cmd.Parameters.AddWithValue(assetPrefix.Replace("%", "\\%", StringComparison.Ordinal).Replace("_", "\\_", StringComparison.Ordinal) + "%");
        cmd.Parameters.AddWithValue(from);
        cmd.Parameters.AddWithValue(to);
        cmd.Parameters.Add(new NpgsqlParameter { Value = RulChannels.All.ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        var units = new List<CmapssUnit>();
        string? asset = null;
        DateTime cycleTs = default;
        List<double[]>? rows = null;
        double[]? row = null;
        var seen = 0u;
        await using var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        while (await reader.ReadAsync(ct).ConfigureAwait(false))
        {
            var a = reader.GetString(0);
            var ts = reader.GetDateTime(1);
            var channel = RulChannels.IndexOf(reader.GetString(2));
            var value = reader.GetDouble(3);
            if (a != asset)
            {
                Finish(rows, row, seen);
                asset = a;
                rows = [];
                units.Add(new CmapssUnit(units.Count + 1, rows));
                row = null;
            }
            if (row is null || ts != cycleTs)
            {
                Finish(rows, row, seen);
                row = new double[RulChannels.All.Count];
                seen = 0;
                cycleTs = ts;
            }
            row[channel] = value;
            seen |= 1u << channel;
        }
        Finish(rows, row, seen);
        units.RemoveAll(u => u.Rows.Count == 0);
        return units;

        static void Finish(List<double[]>? rows, double[]? row, uint seen)
        {
            if (rows is null || row is null)
            {
                return;
            }
            var all = (1u << RulChannels.All.Count) - 1;
            if ((seen & all) != all)
            {
                if (rows.Count == 0)
                {
                    return; // nothing to carry forward from
                }
                var last = rows[^1];
                for (var i = 0; i < row.Length; i++)
                {
                    if ((seen & (1u << i)) == 0)
                    {
                        row[i] = i == 0 ? last[0] + 1 : last[i];
                    }
                }
            }
            rows.Add(row);
        }
    }
}
