using System.Diagnostics;
using HdrHistogram;

namespace SmartMaintenance.Streams.Load;

/// <summary>Outcome of an HTTP query load: answers by status, throughput and latency (microseconds, HdrHistogram).</summary>
public sealed record HttpQueryReport(long Requests, IReadOnlyDictionary<int, long> Statuses, long Failed, double Seconds, double PerSecond,
    double P50Ms, double P99Ms, double MaxMs, int Clients);

/// <summary>
/// Closed-loop HTTP load: <c>clients</c> concurrent clients, each sending its next GET as soon as the previous answer
/// arrived, over the given paths round-robin, for a duration after a warm-up (operator API state queries:
/// `smstream load api-state`).
/// </summary>
public static class HttpQueryLoad
{
    public static async Task<HttpQueryReport> RunAsync(Uri baseAddress, IReadOnlyList<string> paths, IReadOnlyDictionary<string, string> headers,
        int clients, TimeSpan warmup, TimeSpan duration, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(baseAddress);
        ArgumentNullException.ThrowIfNull(paths);
        ArgumentNullException.ThrowIfNull(headers);
        ArgumentOutOfRangeException.ThrowIfLessThan(clients, 1);
        if (paths.Count == 0)
        {
            throw new ArgumentException("at least one path is needed", nameof(paths));
        }
        using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = clients, PooledConnectionLifetime = Timeout.InfiniteTimeSpan };
        using var http = new HttpClient(handler) { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(30) };
        foreach (var (name, value) in headers)
        {
            http.DefaultRequestHeaders.TryAddWithoutValidation(name, value);
        }
        var histograms = new LongHistogram[clients];
        var statuses = new Dictionary<int, long>[clients];
        var failed = new long[clients];
        var started = Stopwatch.GetTimestamp();
        var measureFrom = started + (long)(warmup.TotalSeconds * Stopwatch.Frequency);
        var end = measureFrom + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var tasks = new Task[clients];
        for (var c = 0; c < clients; c++)
        {
            var client = c;
            histograms[c] = new LongHistogram(TimeStamp.Seconds(60), 3);
            statuses[c] = [];
            tasks[c] = Task.Run(async () =>
            {
                var i = client;
                while (!ct.IsCancellationRequested)
                {
                    var t0 = Stopwatch.GetTimestamp();
                    if (t0 >= end)
                    {
                        break;
                    }
                    int status;
                    try
                    {
                        using var response = await http.GetAsync(paths[i++ % paths.Count], ct).ConfigureAwait(false);
                        await response.Content.ReadAsByteArrayAsync(ct).ConfigureAwait(false);
                        status = (int)response.StatusCode;
                    }
                    catch (HttpRequestException)
                    {
                        status = 0;
                    }
                    if (t0 < measureFrom)
                    {
                        continue;
                    }
                    histograms[client].RecordValue(Math.Max(1, (long)Stopwatch.GetElapsedTime(t0).TotalMicroseconds));
                    statuses[client][status] = statuses[client].GetValueOrDefault(status) + 1;
                    if (status is 0 or >= 500)
                    {
                        failed[client]++;
                    }
                }
            }, ct);
        }
        await Task.WhenAll(tasks).ConfigureAwait(false);
        var total = new LongHistogram(TimeStamp.Seconds(60), 3);
        var merged = new Dictionary<int, long>();
        foreach (var h in histograms)
        {
            total.Add(h);
        }
        foreach (var s in statuses)
        {
            foreach (var (k, v) in s)
            {
                merged[k] = merged.GetValueOrDefault(k) + v;
            }
        }
        var seconds = duration.TotalSeconds;
        return new HttpQueryReport(total.TotalCount, merged, failed.Sum(), seconds, total.TotalCount / seconds,
            total.GetValueAtPercentile(50) / 1000.0, total.GetValueAtPercentile(99) / 1000.0, total.GetMaxValue() / 1000.0, clients);
    }
}
