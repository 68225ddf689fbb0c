using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace SmartMaintenance.Streams.Observability.Tests;

/// <summary>Debian's Prometheus in the foreground on a free loopback port, scraping the given targets every second
/// and evaluating the repository's rules every second; killed and its data deleted on dispose.</summary>
internal sealed class PrometheusServer : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _directory;
    private readonly StringBuilder _log = new();

    private PrometheusServer(Process process, string directory, Uri address)
    {
        _process = process;
        _directory = directory;
        Address = address;
        Http = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(20) };
    }

    public Uri Address { get; }

    public HttpClient Http { get; }

    /// <summary>The configuration the server runs with: jobs smstream-engine / smstream-notifier as in prometheus/prometheus.yml.</summary>
    public static string Config(IReadOnlyDictionary<string, Uri> jobs, string rulesGlob)
    {
        var sb = new StringBuilder();
        sb.AppendLine("global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\n  evaluation_interval: 1s");
        sb.AppendLine("rule_files:\n  - " + rulesGlob);
        sb.AppendLine("scrape_configs:");
        foreach (var (job, uri) in jobs)
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"  - job_name: {job}\n    static_configs:\n      - targets: [\"{uri.Authority}\"]");
        }
        return sb.ToString();
    }

    public static async Task<PrometheusServer> StartAsync(IReadOnlyDictionary<string, Uri> jobs)
    {
        var binary = Tools.Require("prometheus", "prometheus");
        var directory = Path.Combine(Path.GetTempPath(), "smstream-prom-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(directory);
        var configFile = Path.Combine(directory, "prometheus.yml");
        await File.WriteAllTextAsync(configFile, Config(jobs, Repo.PathOf("prometheus", "rules", "*.yml")));
        var port = Tools.FreePort();
        var psi = new ProcessStartInfo(binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[]
        {
            "--config.file=" + configFile,
            "--storage.tsdb.path=" + Path.Combine(directory, "data"),
            $"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        })
        {
            psi.ArgumentList.Add(a);
        }
        var process = Process.Start(psi) ?? throw new InvalidOperationException("cannot start prometheus");
        var server = new PrometheusServer(process, directory, new Uri($"http://127.0.0.1:{port}/"));
        process.OutputDataReceived += (_, e) => server.Append(e.Data);
        process.ErrorDataReceived += (_, e) => server.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(20))
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException("prometheus exited: " + server.Log);
            }
            try
            {
                using var ready = await server.Http.GetAsync(new Uri("-/ready", UriKind.Relative));
                if (ready.IsSuccessStatusCode)
                {
                    return server;
                }
            }
            catch (HttpRequestException)
            {
            }
            await Task.Delay(100);
        }
        await server.DisposeAsync();
        throw new InvalidOperationException("prometheus did not become ready in 20 s: " + server.Log);
    }

    public string Log
    {
        get
        {
            lock (_log)
            {
                return _log.ToString();
            }
        }
    }

    private void Append(string? line)
    {
        if (line is not null)
        {
            lock (_log)
            {
                _log.AppendLine(line);
            }
        }
    }

    /// <summary>An instant query; <c>Error</c> is Prometheus' error text, <c>Series</c> the result vector (name/labels → value).</summary>
    public async Task<QueryResult> QueryAsync(string promql)
    {
        using var response = await Http.PostAsync(new Uri("api/v1/query", UriKind.Relative),
            new FormUrlEncodedContent([new KeyValuePair<string, string>("query", promql)]));
        var json = await response.Content.ReadFromJsonAsync<JsonElement>();
        if (json.GetProperty("status").GetString() != "success")
        {
            return new QueryResult(json.TryGetProperty("error", out var e) ? e.GetString() : "unknown error", []);
        }
        var data = json.GetProperty("data");
        var series = new List<Series>();
        if (data.GetProperty("resultType").GetString() is "vector" or "matrix")
        {
            foreach (var item in data.GetProperty("result").EnumerateArray())
            {
                var labels = new Dictionary<string, string>();
                foreach (var l in item.GetProperty("metric").EnumerateObject())
                {
                    labels[l.Name] = l.Value.GetString() ?? "";
                }
                var value = item.TryGetProperty("value", out var v) ? v[1].GetString() : null;
                series.Add(new Series(labels, value is null ? double.NaN : double.Parse(value, CultureInfo.InvariantCulture)));
            }
        }
        else
        {
            series.Add(new Series(new Dictionary<string, string>(), double.Parse(data.GetProperty("result")[1].GetString()!, CultureInfo.InvariantCulture)));
        }
        return new QueryResult(null, series);
    }

    /// <summary>Waits until <paramref name="promql"/> returns a series whose value satisfies <paramref name="condition"/>.</summary>
    /// <summary>An instant query retried while it returns no series (up to <paramref name="timeout"/>, default 10 s): a
    /// scrape that timed out on a loaded machine marks the target's series stale until the next one succeeds.</summary>
    public async Task<QueryResult> QuerySeriesAsync(string promql, TimeSpan? timeout = null)
    {
        var sw = Stopwatch.StartNew();
        QueryResult last;
        while ((last = await QueryAsync(promql)).Error is null && last.Series.Count == 0 && sw.Elapsed < (timeout ?? TimeSpan.FromSeconds(10)))
        {
            await Task.Delay(250);
        }
        return last;
    }

    public async Task<QueryResult> WaitForAsync(string promql, Func<double, bool> condition, TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        QueryResult last;
        do
        {
            last = await QueryAsync(promql);
            if (last.Error is null && last.Series.Any(s => condition(s.Value)))
            {
                return last;
            }
            await Task.Delay(250);
        }
        while (sw.Elapsed < timeout);
        throw new TimeoutException($"'{promql}' did not satisfy the condition within {timeout}: error={last.Error}, series={last.Series.Count}, values={string.Join(",", last.Series.Select(s => s.Value))}");
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill();
                await _process.WaitForExitAsync();
            }
        }
        catch (InvalidOperationException)
        {
        }
        _process.Dispose();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

internal sealed record Series(IReadOnlyDictionary<string, string> Labels, double Value);

internal sealed record QueryResult(string? Error, IReadOnlyList<Series> Series);
