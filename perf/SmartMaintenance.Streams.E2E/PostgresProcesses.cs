using System.Globalization;

namespace SmartMaintenance.Streams.E2E;

/// <summary>The processes of the throwaway PostgreSQL cluster, read from /proc (for CPU accounting and perf).</summary>
internal static class PostgresProcesses
{
    /// <summary>The postmaster's pid, or null when no server runs on <paramref name="dataDirectory"/>.</summary>
    public static int? Postmaster(string? dataDirectory) =>
        dataDirectory is not null && File.Exists(Path.Combine(dataDirectory, "postmaster.pid"))
            ? int.Parse(File.ReadLines(Path.Combine(dataDirectory, "postmaster.pid")).First(), CultureInfo.InvariantCulture)
            : null;

    /// <summary>The live children of <paramref name="postmaster"/> (backends and background workers): their pid, the
    /// /proc stat fields after the command name (fields[1] is the parent pid) and their /proc directory.</summary>
    public static IEnumerable<(int Pid, string[] Fields, string Directory)> Children(int postmaster)
    {
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            var name = Path.GetFileName(dir);
            if (name.Length == 0 || !char.IsAsciiDigit(name[0]))
            {
                continue;
            }
            string[] fields;
            try
            {
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            }
            catch (IOException)
            {
                // The process ended while we looked.
                continue;
            }
            if (int.Parse(fields[1], CultureInfo.InvariantCulture) == postmaster)
            {
                yield return (int.Parse(name, CultureInfo.InvariantCulture), fields, dir);
            }
        }
    }
}
