using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Text;
using Npgsql;
using Xunit;
using Xunit.Abstractions;

namespace SmartMaintenance.Streams.Api.Tests;

/// <summary>
/// 10,000 hostile requests (seeded: SMSTREAM_FUZZ_SEED, count SMSTREAM_FUZZ_REQUESTS) against the running API: not one
/// answer is a 5xx, and the engine still consumes afterwards. A share goes over raw TCP with malformed request lines and
/// headers that no HTTP client would send.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class FuzzTests(ApiFixture fx, ITestOutputHelper output)
{
    private static int Count => int.TryParse(Environment.GetEnvironmentVariable("SMSTREAM_FUZZ_REQUESTS"), out var n) ? n : 10_000;
    private static int Seed => int.TryParse(Environment.GetEnvironmentVariable("SMSTREAM_FUZZ_SEED"), out var s) ? s : 23;

    [Fact]
    public async Task Ten_thousand_hostile_requests_get_no_5xx_and_the_engine_keeps_consuming()
    {
        var keys = fx.Keys.Values.Append(fx.RevokedKey).ToList();
        var generator = new HostileRequests(Seed);
        var requests = new ConcurrentQueue<HostileRequests.Hostile>();
        for (var i = 0; i < Count; i++)
        {
            requests.Enqueue(generator.Next(keys));
        }
        var statuses = new ConcurrentDictionary<int, int>();
        var failures = new ConcurrentQueue<string>();
        using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = 16, PooledConnectionLifetime = TimeSpan.FromMinutes(5) };
        using var client = new HttpClient(handler) { BaseAddress = fx.Main.Server.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        var raw = 0;
        var workers = Enumerable.Range(0, 16).Select(w => Task.Run(async () =>
        {
            var n = 0;
            while (requests.TryDequeue(out var r))
            {
                int status;
                if (++n % 20 == w % 20)
                {
                    status = await RawAsync(r);
                    Interlocked.Increment(ref raw);
                }
                else
                {
                    status = await SendAsync(client, r);
                }
                statuses.AddOrUpdate(status, 1, (_, c) => c + 1);
                if (status >= 500)
                {
                    failures.Enqueue($"{status} {r.Method} {r.PathAndQuery} {(r.Body is null ? "" : Encoding.UTF8.GetString(r.Body.AsSpan(0, Math.Min(200, r.Body.Length))))}");
                }
            }
        })).ToArray();
        await Task.WhenAll(workers);
        output.WriteLine($"{Count} requests ({raw} raw), seed {Seed}: " + string.Join(", ", statuses.OrderBy(kv => kv.Key).Select(kv => $"{kv.Key}×{kv.Value}")));
        Assert.True(failures.IsEmpty, $"{failures.Count} answers were 5xx, e.g.:\n" + string.Join("\n", failures.Take(10)));
        Assert.Equal(Count, statuses.Values.Sum());

        // Still consuming: a reading produced after the storm is stored.
        var sensor = "after-fuzz-" + Guid.NewGuid().ToString("N")[..6];
        var (ingest, body, _) = await fx.SendAsync(HttpMethod.Post, "/api/v1/readings", "operator",
            $$"""{"sensor_id":"{{sensor}}","ts":{{DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()}},"value":1}""");
        Assert.True(ingest == 202, body?.ToJsonString());
        await using var ds = NpgsqlDataSource.Create(fx.Database);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            await using var cmd = ds.CreateCommand("SELECT count(*) FROM readings WHERE sensor_id = $1");
            cmd.Parameters.AddWithValue(sensor);
            if ((long)(await cmd.ExecuteScalarAsync())! == 1)
            {
                break;
            }
            Assert.True(DateTime.UtcNow < deadline, "the engine stored nothing after the fuzz run");
            await Task.Delay(100);
        }
    }

    private static async Task<int> SendAsync(HttpClient client, HostileRequests.Hostile r)
    {
        using var request = new HttpRequestMessage(new HttpMethod(r.Method), r.PathAndQuery);
        foreach (var (name, value) in r.Headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }
        if (r.Body is not null)
        {
            request.Content = new ByteArrayContent(r.Body);
            request.Content.Headers.TryAddWithoutValidation("Content-Type", r.ContentType);
        }
        using var response = await client.SendAsync(request);
        await response.Content.ReadAsByteArrayAsync();
        return (int)response.StatusCode;
    }

    /// <summary>The same request written by hand with a twist HttpClient would refuse (bad request line, header
    /// injection, wrong Content-Length, bare LF), then the status of the answer (400 from Kestrel itself included).</summary>
    private async Task<int> RawAsync(HostileRequests.Hostile r)
    {
        var uri = fx.Main.Server.BaseAddress;
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(uri.Host, uri.Port);
        await using var stream = tcp.GetStream();
        var twist = Math.Abs(r.PathAndQuery.GetHashCode(StringComparison.Ordinal)) % 5;
        (string Name, string Value) key = r.Headers.Count > 0 ? r.Headers[0] : ("X-Junk", "1");
        var body = r.Body ?? [];
        var head = twist switch
        {
            0 => $"{r.Method} {r.PathAndQuery} HTTP/1.1\r\nHost: x\r\n{key.Name}: {key.Value}\r\nContent-Length: {body.Length + 10}\r\nConnection: close\r\n\r\n",
            1 => $"{r.Method} {r.PathAndQuery} HTTP/1.1\nHost: x\n{key.Name}: {key.Value}\nConnection: close\n\n",
            2 => $"{r.Method} /api/v1/alerts\u0001\u007f HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            3 => $"{r.Method} {r.PathAndQuery} HTTP/1.1\r\nHost: x\r\n{key.Name}: {key.Value}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\n",
            _ => $"{r.Method} {r.PathAndQuery} HTTP/1.1\r\nHost: x\r\n{new string('X', 40_000)}: y\r\nConnection: close\r\n\r\n",
        };
        try
        {
            await stream.WriteAsync(Encoding.Latin1.GetBytes(head));
            if (twist == 0)
            {
                await stream.WriteAsync(body);
                tcp.Client.Shutdown(SocketShutdown.Send);
            }
            var buffer = new byte[64];
            var read = 0;
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            while (read < 12)
            {
                var n = await stream.ReadAsync(buffer.AsMemory(read), timeout.Token);
                if (n == 0)
                {
                    // Closed without an answer (Kestrel drops some malformed connections): not a 5xx.
                    return 0;
                }
                read += n;
            }
            return int.Parse(Encoding.ASCII.GetString(buffer, 9, 3), System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return 0;
        }
    }
}
