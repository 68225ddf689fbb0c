namespace SmartMaintenance.Streams.Observability.Tests;

/// <summary>Paths in the repository the tests run from (dashboards, Prometheus rules, compose file, docs).</summary>
internal static class Repo
{
    public static string Root { get; } = FindRoot();

    public static string PathOf(params string[] parts) => Path.Combine([Root, .. parts]);

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "SmartMaintenance.Streams.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException("SmartMaintenance.Streams.sln not found above " + AppContext.BaseDirectory);
    }
}
