using System.Globalization;
using System.Text.Json;

namespace SmartMaintenance.Streams.Scoring.Nab;

/// <summary>One labelled series of a NAB-layout corpus.</summary>
/// <param name="Name">Relative name as in the labels file, e.g. <c>realKnownCause/nyc_taxi.csv</c>.</param>
/// <param name="Timestamps">Unix ms (UTC), strictly increasing.</param>
/// <param name="Windows">Labelled anomaly windows as inclusive row-index ranges.</param>
public sealed record NabSeries(string Name, long[] Timestamps, double[] Values, IReadOnlyList<(int Left, int Right)> Windows);

/// <summary>A cost profile of NAB (weights of true positives, false negatives, false positives).</summary>
public sealed record NabProfile(string Name, double TpWeight, double FnWeight, double FpWeight);

/// <summary>Reads a folder in NAB's layout: data/&lt;folder&gt;/&lt;name&gt;.csv, labels/combined_windows.json, profiles.json.</summary>
public static class NabCorpus
{
    public static IReadOnlyList<NabSeries> Load(string root)
    {
        ArgumentNullException.ThrowIfNull(root);
        var labelsPath = Path.Combine(root, "labels", "combined_windows.json");
        using var labels = JsonDocument.Parse(File.ReadAllBytes(labelsPath));
        var series = new List<NabSeries>();
        foreach (var entry in labels.RootElement.EnumerateObject())
        {
            var path = Path.Combine(root, "data", entry.Name);
            var (ts, values) = ReadCsv(path);
            var windows = new List<(int, int)>();
            foreach (var w in entry.Value.EnumerateArray())
            {
                var start = ParseTime(w[0].GetString()!);
                var end = ParseTime(w[1].GetString()!);
                var left = Array.BinarySearch(ts, start);
                left = left < 0 ? ~left : left;
                var right = Array.BinarySearch(ts, end);
                right = right < 0 ? ~right - 1 : right;
                if (left <= right && left < ts.Length)
                {
                    windows.Add((left, right));
                }
            }
            series.Add(new NabSeries(entry.Name, ts, values, windows));
        }
        series.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
        return series;
    }

    public static IReadOnlyList<NabProfile> LoadProfiles(string root)
    {
        ArgumentNullException.ThrowIfNull(root);
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(root, "profiles.json")));
        var profiles = new List<NabProfile>();
        foreach (var p in doc.RootElement.EnumerateObject())
        {
            var m = p.Value.GetProperty("CostMatrix");
            profiles.Add(new NabProfile(p.Name, m.GetProperty("tpWeight").GetDouble(), m.GetProperty("fnWeight").GetDouble(), m.GetProperty("fpWeight").GetDouble()));
        }
        return profiles;
    }

    public static (long[] Timestamps, double[] Values) ReadCsv(string path)
    {
        var ts = new List<long>();
        var values = new List<double>();
        using var reader = new StreamReader(path);
        var header = reader.ReadLine();
        if (header is null || !header.StartsWith("timestamp", StringComparison.Ordinal))
        {
            throw new InvalidDataException($"{path}: expected a 'timestamp,value' header.");
        }
        string? line;
        while ((line = reader.ReadLine()) is not null)
        {
            if (line.Length == 0)
            {
                continue;
            }
            var comma = line.IndexOf(',', StringComparison.Ordinal);
            ts.Add(ParseTime(line[..comma]));
            values.Add(double.Parse(line.AsSpan(comma + 1), NumberStyles.Float, CultureInfo.InvariantCulture));
        }
        return (ts.ToArray(), values.ToArray());
    }

    public static long ParseTime(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string[] formats = ["yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd HH:mm:ss.ffffff"];
        var t = DateTime.ParseExact(text, formats, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal);
        return new DateTimeOffset(t, TimeSpan.Zero).ToUnixTimeMilliseconds();
    }

    public static string FormatTime(long unixMs) =>
        DateTimeOffset.FromUnixTimeMilliseconds(unixMs).UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);
}
