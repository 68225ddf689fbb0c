using System.CommandLine;
using System.Globalization;
using SmartMaintenance.Streams.Load;

namespace SmartMaintenance.Streams.Cli.Commands;

/// <summary><c>smstream load api-state</c>: closed-loop load on the operator API's live-state query (docs/performance.md).</summary>
internal static class LoadApiStateCommand
{
    public static Command Create()
    {
        var url = new Option<string>("--url") { Description = "Base URL of the engine's HTTP host.", Required = true };
        var key = new Option<string>("--key") { Description = "API key (any role).", Required = true };
        var sensors = new Option<string[]>("--sensor") { Description = "Sensor ids to query, round-robin (repeat the option).", Required = true, AllowMultipleArgumentsPerToken = true };
        var clients = new Option<int>("--clients") { Description = "Concurrent clients.", DefaultValueFactory = _ => 100 };
        var duration = new Option<int>("--seconds") { Description = "Measured seconds.", DefaultValueFactory = _ => 20 };
        var warmup = new Option<int>("--warmup") { Description = "Warm-up seconds (not measured).", DefaultValueFactory = _ => 3 };
        var cmd = new Command("api-state", "Closed-loop GET /api/v1/state/sensors/{id} from N clients; prints requests/s and latency percentiles; exit 1 on any 5xx.");
        foreach (var o in new Option[] { url, key, sensors, clients, duration, warmup })
        {
            cmd.Options.Add(o);
        }
        cmd.SetAction(async (parse, ct) =>
        {
            var paths = parse.GetValue(sensors)!.Select(s => "/api/v1/state/sensors/" + Uri.EscapeDataString(s)).ToList();
            var report = await HttpQueryLoad.RunAsync(new Uri(parse.GetValue(url)!), paths,
                new Dictionary<string, string> { ["X-Api-Key"] = parse.GetValue(key)! }, parse.GetValue(clients),
                TimeSpan.FromSeconds(parse.GetValue(warmup)), TimeSpan.FromSeconds(parse.GetValue(duration)), ct).ConfigureAwait(false);
            var inv = CultureInfo.InvariantCulture;
            await Console.Out.WriteLineAsync(string.Create(inv,
                $"clients={report.Clients} requests={report.Requests} seconds={report.Seconds:0} req/s={report.PerSecond:0} p50_ms={report.P50Ms:0.00} p99_ms={report.P99Ms:0.00} max_ms={report.MaxMs:0.00} statuses={string.Join(' ', report.Statuses.OrderBy(s => s.Key).Select(s => $"{s.Key}x{s.Value}"))}")).ConfigureAwait(false);
            return report.Failed == 0 ? 0 : 1;
        });
        return cmd;
    }
}
