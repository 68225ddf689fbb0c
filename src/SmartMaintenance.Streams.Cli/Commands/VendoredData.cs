namespace SmartMaintenance.Streams.Cli.Commands;

/// <summary>Finds a data set vendored in the repository (tests/data/NAME), so commands work from a clone with nothing beside it.</summary>
internal static class VendoredData
{
    /// <summary>tests/data/<paramref name="name"/> under the clone: the one the <c>smstream</c> wrapper names in SMSTREAM_HOME,
    /// else the first found upwards from the current directory, else upwards from the binary.</summary>
    public static string? Find(string name)
    {
        var relative = Path.Combine("tests", "data", name);
        if (Environment.GetEnvironmentVariable("SMSTREAM_HOME") is { Length: > 0 } home && Directory.Exists(Path.Combine(home, relative)))
        {
            return Path.Combine(home, relative);
        }
        return Upwards(Directory.GetCurrentDirectory(), relative) ?? Upwards(AppContext.BaseDirectory, relative);
    }

    private static string? Upwards(string start, string relative)
    {
        for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, relative);
            if (Directory.Exists(candidate))
            {
                return candidate;
            }
        }
        return null;
    }
}
