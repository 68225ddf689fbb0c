using System.Diagnostics;
using System.Globalization;
using Npgsql;
using SmartMaintenance.Streams.Testing;
using Xunit;

namespace SmartMaintenance.Streams.Operations.Tests;

/// <summary>The DLQ and backup tests share one embedded broker and one throwaway PostgreSQL cluster.</summary>
[CollectionDefinition(Name)]
public sealed class ServicesCollection : ICollectionFixture<KafkaFixture>, ICollectionFixture<PostgresFixture>
{
    public const string Name = "services";
}

internal static class Cli
{
    /// <summary>Runs smstream to completion (90 s limit).</summary>
    public static Task<(int Exit, string Out, string Err)> Run(IDictionary<string, string>? env, params string[] args) =>
        SmstreamCli.RunAsync(env, TimeSpan.FromSeconds(90), args);

    public static string RepositoryRoot() => RepositoryPaths.Root();
}

internal static class Readings
{
    /// <summary>Event times well inside Validation:MaxPastAge and behind the clock.</summary>
    public static readonly DateTimeOffset Base = DateTimeOffset.UtcNow.AddHours(-3);

    public static string Ts(int i) => Base.AddMilliseconds(i * 250L).ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture);

    public static TestMessage Valid(int sensor, int i) => TestMessage.Utf8($"s-{sensor}",
        $$"""{"sensor_id":"s-{{sensor}}","ts":"{{Ts(i)}}","value":{{(20 + (i % 17) * 0.1).ToString("R", CultureInfo.InvariantCulture)}},"sensor_type":"temperature","unit":"C","seq":{{i}}}""");
}

internal static class Db
{
    public static async Task<T> Scalar<T>(string connectionString, string sql)
    {
        await using var conn = new NpgsqlConnection(connectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, conn);
        var value = await cmd.ExecuteScalarAsync();
        return value is DBNull or null ? default! : (T)Convert.ChangeType(value, typeof(T), CultureInfo.InvariantCulture);
    }
}

internal static class Wait
{
    public static async Task Until(Func<bool> condition, Task run, TimeSpan timeout, string what)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            if (run.IsCompleted)
            {
                await run;
                Assert.Fail($"engine stopped before: {what}");
            }
            Assert.True(sw.Elapsed < timeout, $"not within {timeout}: {what}");
            await Task.Delay(50);
        }
    }

    public static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var sw = Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(sw.Elapsed < timeout, $"not within {timeout}: {what}");
            await Task.Delay(100);
        }
    }
}
