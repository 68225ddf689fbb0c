using System.Globalization;
using SmartMaintenance.Streams.Prediction.Rul;

namespace SmartMaintenance.Streams.Prediction.Cmapss;

/// <summary>One engine of a C-MAPSS split: its cycles in order, each row the 25 channels of <see cref="RulChannels.All"/>.</summary>
public sealed record CmapssUnit(int Unit, IReadOnlyList<double[]> Rows)
{
    public int Cycles => Rows.Count;

    /// <summary>The last cycle's number (the failure cycle of a training engine).</summary>
    public int LastCycle => (int)Rows[^1][0];
}

/// <summary>Reads C-MAPSS text files (whitespace-separated: unit, cycle, setting1..3, s1..s21).</summary>
public static class CmapssData
{
    public const int Columns = 26;

    /// <summary>The FD001 split vendored in the repository (tests/data/cmapss-fd001), found upwards from the binary.</summary>
    /// <exception cref="DirectoryNotFoundException">Not run from a build inside a clone of the repository.</exception>
    public static string VendoredFd001()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "tests", "data", "cmapss-fd001");
            if (Directory.Exists(candidate))
            {
                return candidate;
            }
        }
        throw new DirectoryNotFoundException("tests/data/cmapss-fd001 not found above " + AppContext.BaseDirectory);
    }

    public static IReadOnlyList<CmapssUnit> Read(string path)
    {
        var units = new List<CmapssUnit>();
        List<double[]>? rows = null;
        var unit = -1;
        var lineNo = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNo++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }
            var parts = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length != Columns)
            {
                throw new InvalidDataException($"{path}:{lineNo}: expected {Columns} columns (unit, cycle, setting1..3, s1..s21), found {parts.Length}.");
            }
            var u = int.Parse(parts[0], CultureInfo.InvariantCulture);
            var row = new double[Columns - 1];
            for (var i = 1; i < Columns; i++)
            {
                if (!double.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out row[i - 1]) || !double.IsFinite(row[i - 1]))
                {
                    throw new InvalidDataException($"{path}:{lineNo}: column {i + 1} ('{parts[i]}') is not a finite number.");
                }
            }
            if (u != unit)
            {
                rows = [];
                units.Add(new CmapssUnit(u, rows));
                unit = u;
            }
            rows!.Add(row);
        }
        return units;
    }
}
