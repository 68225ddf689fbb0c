using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using SmartMaintenance.Streams.Testing;
using Xunit;
using Xunit.Abstractions;

namespace SmartMaintenance.Streams.Reliability.Tests;

[Collection(ServicesCollection.Name)]
public sealed class NotifierCrashTests(KafkaFixture kafka, PostgresFixture postgres, ITestOutputHelper output)
{
    [Fact]
    public async Task Notifier_sigkilled_mid_delivery_and_restarted_delivers_every_event_repeating_only_in_flight_ones_under_the_same_key()
    {
        const int events = 300;
        var kills = Math.Max(3, Scale.Kills / 4);
        var topic = kafka.CreateUniqueTopic("rel-alerts", 3);
        var dlq = kafka.CreateUniqueTopic("rel-alerts-dlq", 1);
        var db = await postgres.CreateDatabaseAsync();
        var published = DateTimeOffset.UtcNow;
        await kafka.ProduceAsync(topic, Enumerable.Range(0, events).Select(i => TestMessage.Utf8($"asset-{i % 20}", AlertJson(i, published))));

        using var receiver = new Receiver(TimeSpan.FromMilliseconds(40));
        var env = new Dictionary<string, string>
        {
            ["SMSTREAM_HTTP__LISTEN"] = "127.0.0.1:0",
            ["SMSTREAM_NOTIFIER__TOPIC"] = topic,
            ["SMSTREAM_NOTIFIER__DLQTOPIC"] = dlq,
            ["SMSTREAM_NOTIFIER__GROUPID"] = "rel-notifier-" + Guid.NewGuid().ToString("N")[..8],
            ["SMSTREAM_NOTIFIER__CHANNELS__hook__TYPE"] = "webhook",
            ["SMSTREAM_NOTIFIER__CHANNELS__hook__URL"] = receiver.Url,
            ["SMSTREAM_NOTIFIER__CHANNELS__hook__SECRET"] = "reliability",
            ["SMSTREAM_NOTIFIER__ROUTES__0__NAME"] = "all",
            // A killed member holds its partitions until its session times out: keep that short (librdkafka's default is 45 s).
            ["SMSTREAM_NOTIFIER__KAFKA__session.timeout.ms"] = "6000",
            ["SMSTREAM_NOTIFIER__KAFKA__heartbeat.interval.ms"] = "1500",
            ["SMSTREAM_NOTIFIER__ROUTES__0__CHANNELS__0"] = "hook",
        };
        string[] args = ["notify", "--bootstrap", kafka.BootstrapServers, "--database", db];
        var random = new Random(Scale.Seed);
        for (var k = 0; k < kills; k++)
        {
            using var notify = SmstreamProcess.Start(args, env);
            // Mid-delivery: wait for new requests to arrive, then kill while more are in flight.
            var before = receiver.Total;
            await EngineRun.WaitUntilAsync(() => Task.FromResult(receiver.Total >= Math.Min(events, before + random.Next(5, 40))), TimeSpan.FromSeconds(150), notify);
            await notify.KillAsync();
            output.WriteLine($"kill {k + 1}: {receiver.Total} requests received, {receiver.Distinct} distinct keys");
        }
        using (var last = SmstreamProcess.Start(args, env))
        {
            await EngineRun.WaitUntilAsync(() => Task.FromResult(receiver.Distinct >= events), TimeSpan.FromSeconds(180), last);
            // Anything still to come (a late repeat) arrives now, then a graceful stop.
            await Task.Delay(2000);
            await last.TerminateAsync(TimeSpan.FromSeconds(45));
        }

        var expected = Enumerable.Range(0, events).Select(i => $"{AlertId(i)}:open:0").ToHashSet(StringComparer.Ordinal);
        var received = receiver.Keys;
        Assert.True(expected.SetEquals(received.Keys), $"missing: {string.Join(',', expected.Except(received.Keys).Take(10))}; unexpected: {string.Join(',', received.Keys.Except(expected).Take(10))}");
        var repeats = received.Where(r => r.Value > 1).ToList();
        output.WriteLine($"{events} events, {kills} kills: {receiver.Total} requests, {repeats.Count} keys received twice or more");
        // At-least-once on the wire: only deliveries in flight at a kill repeat (one at a time per notifier), and under the same key.
        Assert.InRange(repeats.Sum(r => r.Value - 1), 0, kills);
        Assert.All(receiver.Signed, s => Assert.True(s));
    }

    private static string AlertId(int i) => "al_rel" + i.ToString("D6", CultureInfo.InvariantCulture);

    internal static string AlertJson(int i, DateTimeOffset t)
    {
        var ts = t.ToString("O", CultureInfo.InvariantCulture);
        return $$"""{"alert_id":"{{AlertId(i)}}","status":"open","revision":0,"severity":3,"sensor_id":"s-{{i}}","asset_id":"asset-{{i % 20}}","sensor_type":"vibration","detector":"zscore","score":0.91,"threshold":0.8,"value":9.84,"window_start":"{{ts}}","window_end":"{{ts}}","first_seen":"{{ts}}","last_seen":"{{ts}}","published_at":"{{ts}}","evidence":{"z":4.7},"correlation_id":"{{AlertId(i)}}"}""";
    }

    /// <summary>A loopback HTTP receiver counting requests per Idempotency-Key; answers 200 after a delay, so deliveries are in flight when the notifier dies.</summary>
    internal sealed class Receiver : IDisposable
    {
        private readonly HttpListener _listener = new();
        private readonly ConcurrentDictionary<string, int> _keys = new(StringComparer.Ordinal);
        private readonly ConcurrentBag<bool> _signed = [];
        private readonly TimeSpan _delay;
        private readonly Task _loop;
        private int _total;

        public Receiver(TimeSpan delay)
        {
            _delay = delay;
            var port = FreePort();
            Url = $"http://127.0.0.1:{port}/hook/";
            _listener.Prefixes.Add(Url);
            _listener.Start();
            _loop = Task.Run(LoopAsync);
        }

        public string Url { get; }
        public int Total => Volatile.Read(ref _total);
        public int Distinct => _keys.Count;
        public IReadOnlyDictionary<string, int> Keys => new Dictionary<string, int>(_keys, StringComparer.Ordinal);
        public IReadOnlyCollection<bool> Signed => [.. _signed];

        private async Task LoopAsync()
        {
            while (_listener.IsListening)
            {
                HttpListenerContext ctx;
                try
                {
                    ctx = await _listener.GetContextAsync();
                }
                catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
                {
                    return;
                }
                _ = Task.Run(async () =>
                {
                    using (var body = new StreamReader(ctx.Request.InputStream))
                    {
                        await body.ReadToEndAsync();
                    }
                    await Task.Delay(_delay);
                    var key = ctx.Request.Headers["Idempotency-Key"] ?? "";
                    _signed.Add(!string.IsNullOrEmpty(ctx.Request.Headers["X-Signature"]));
                    _keys.AddOrUpdate(key, 1, (_, n) => n + 1);
                    Interlocked.Increment(ref _total);
                    ctx.Response.StatusCode = 200;
                    ctx.Response.Close();
                });
            }
        }

        private static int FreePort()
        {
            using var l = new TcpListener(IPAddress.Loopback, 0);
            l.Start();
            return ((IPEndPoint)l.LocalEndpoint).Port;
        }

        public void Dispose()
        {
            _listener.Stop();
            _listener.Close();
            _loop.Wait(TimeSpan.FromSeconds(5));
        }
    }
}
