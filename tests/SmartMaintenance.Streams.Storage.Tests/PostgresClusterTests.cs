using System.Net;
using System.Net.Sockets;
using Npgsql;
using Xunit;

namespace SmartMaintenance.Streams.Storage.Tests;

public sealed class PostgresClusterTests
{
    [Fact]
    public async Task A_picked_port_taken_before_the_server_binds_it_is_replaced_by_another()
    {
        // Another process holding the port the probe returned: the race that made a test run's cluster fail to start.
        using var squatter = new TcpListener(IPAddress.Loopback, 0);
        squatter.Start();
        var taken = ((IPEndPoint)squatter.LocalEndpoint).Port;
        var picks = 0;
        int Pick() => Interlocked.Increment(ref picks) == 1 ? taken : 0;

        var dataDir = Path.Combine(Path.GetTempPath(), $"smstream-pg-race-{Guid.NewGuid():N}"[..36]);
        await using var cluster = new PostgresCluster(new PostgresClusterOptions { DataDirectory = dataDir, PickPort = PickFree(Pick) });
        var connectionString = await cluster.StartAsync();

        Assert.Equal(2, picks);
        Assert.NotEqual(taken, cluster.Port);
        await using var conn = new NpgsqlConnection(connectionString + ";Pooling=false");
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand("SELECT 1", conn);
        Assert.Equal(1, await cmd.ExecuteScalarAsync());
    }

    [Fact]
    public async Task A_configured_port_in_use_fails_the_start_with_the_server_log()
    {
        using var squatter = new TcpListener(IPAddress.Loopback, 0);
        squatter.Start();
        var taken = ((IPEndPoint)squatter.LocalEndpoint).Port;

        var dataDir = Path.Combine(Path.GetTempPath(), $"smstream-pg-busy-{Guid.NewGuid():N}"[..36]);
        await using var cluster = new PostgresCluster(new PostgresClusterOptions { DataDirectory = dataDir, Port = taken });
        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => cluster.StartAsync());

        // A port the caller asked for is never swapped silently.
        Assert.Equal(taken, cluster.Port);
        Assert.Contains("Address already in use", ex.Message, StringComparison.Ordinal);
    }

    /// <summary>The given picker, where 0 means "a free port from the OS".</summary>
    private static Func<int> PickFree(Func<int> pick) => () =>
    {
        var port = pick();
        if (port != 0)
        {
            return port;
        }
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    };
}
