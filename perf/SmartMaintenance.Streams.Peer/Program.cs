using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Runtime;
using System.Text.Json;
using Confluent.Kafka;
using Streamiz.Kafka.Net;
using Streamiz.Kafka.Net.Crosscutting;
using Streamiz.Kafka.Net.Processors;
using Streamiz.Kafka.Net.SerDes;
using Streamiz.Kafka.Net.State;
using Streamiz.Kafka.Net.Stream;
using Streamiz.Kafka.Net.Table;

namespace SmartMaintenance.Streams.Peer;

/// <summary>
/// perf/e2e stage (d): Streamiz.Kafka.Net 1.8.2 doing a 1-minute event-time tumbling aggregation (count/sum/min/max) per
/// sensor from the readings topic to an output topic; envelopes are flat-mapped into readings.
/// In-memory window store with change logging off (the embedded broker has no CreateTopics).
/// usage: --bootstrap B --topic T --out O --readings N [--threads 1] [--cache-mb 0] [--max-poll 500] [--commit-ms 30000]
///        [--warmup-topic W --warmup-readings M]   (the same topology runs untimed on W first, in this process)
/// Prints `RESULT stage=peer …` once N readings went through the aggregation.
/// </summary>
internal static class Program
{
    private static long _seen;
    private static long _firstTicks;

    private static async Task<int> Main(string[] args)
    {
        var a = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            a[args[i].TrimStart('-')] = args[i + 1];
        }
        string S(string k, string? d = null) => a.TryGetValue(k, out var v) ? v : d ?? throw new ArgumentException($"--{k} is required");
        int I(string k, int d) => a.TryGetValue(k, out var v) ? int.Parse(v, CultureInfo.InvariantCulture) : d;
        var expected = I("readings", 1_000_000);
        var cacheMb = I("cache-mb", 0);

        var maxPoll = I("max-poll", 500);
        var threads = I("threads", 1);
        var commitMs = I("commit-ms", 30_000);
        if (a.TryGetValue("warmup-topic", out var warm))
        {
            // Same process, same topology, untimed, until a pass compiles fewer than --warmup-quiet methods (as our stages
            // do, perf/SmartMaintenance.Streams.E2E/JitWarmup.cs): the timed run measures the steady state, like ours.
            for (var pass = 0; pass < I("warmup-max-passes", 4); pass++)
            {
                var before = JitInfo.GetCompiledMethodCount();
                await RunAsync(warm, S("out"), I("warmup-readings", expected), cacheMb, maxPoll, threads, commitMs, S("bootstrap")).ConfigureAwait(false);
                var compiled = JitInfo.GetCompiledMethodCount() - before;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"WARM stage=peer pass={pass} jit_methods={compiled}"));
                if (compiled < I("warmup-quiet", 50))
                {
                    break;
                }
            }
            // Background promotions queued by the last pass finish before the clock starts.
            var last = JitInfo.GetCompiledMethodCount();
            for (var (waited, quiet) = (0, 0); waited < 15_000 && quiet < 1000; waited += 250)
            {
                await Task.Delay(250).ConfigureAwait(false);
                var now = JitInfo.GetCompiledMethodCount();
                quiet = now == last ? quiet + 250 : 0;
                last = now;
            }
        }
        var jitMethods = JitInfo.GetCompiledMethodCount();
        var jitTime = JitInfo.GetCompilationTime();
        var (seen, seconds) = await RunAsync(S("topic"), S("out"), expected, cacheMb, maxPoll, threads, commitMs, S("bootstrap")).ConfigureAwait(false);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"RESULT stage=peer readings={seen} seconds={seconds:F3} readings_per_s={seen / seconds:F0} threads={threads} cache_mb={cacheMb} max_poll={maxPoll} rss_mb={Environment.WorkingSet / 1048576.0:F0} warm={(warm is null ? 0 : 1)} load={File.ReadAllText("/proc/loadavg").Split(' ')[0]} jit_methods={JitInfo.GetCompiledMethodCount() - jitMethods} jit_ms={(JitInfo.GetCompilationTime() - jitTime).TotalMilliseconds:F0}"));
        return seen >= expected ? 0 : 4;
    }

    private static async Task<(long Seen, double Seconds)> RunAsync(string topic, string output, long expected, int cacheMb, int maxPoll, int threads, int commitMs, string bootstrap)
    {
        Interlocked.Exchange(ref _seen, 0);
        Interlocked.Exchange(ref _firstTicks, 0);
        var config = new StreamConfig<StringSerDes, StringSerDes>
        {
            ApplicationId = "e2e-peer-" + Guid.NewGuid().ToString("N")[..8],
            BootstrapServers = bootstrap,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            NumStreamThreads = threads,
            DefaultTimestampExtractor = new ReadingTimestamp(),
            MaxPollRecords = maxPoll,
            CommitIntervalMs = commitMs,
            DefaultStateStoreCacheMaxBytes = cacheMb * 1024L * 1024L,
        };
        var store = InMemoryWindows.As<string, Agg>("agg-store", TimeSpan.FromHours(1)).WithValueSerdes(new AggSerDes()).WithLoggingDisabled();
        store = cacheMb > 0 ? store.WithCachingEnabled(CacheSize.OfMb(cacheMb)) : store.WithCachingDisabled();

        var builder = new StreamBuilder();
        builder.Stream<string, string>(topic)
            .FlatMapValues((v, _) => Readings(v))
            .Peek((_, _, _) =>
            {
                if (Interlocked.Increment(ref _seen) == 1)
                {
                    Interlocked.Exchange(ref _firstTicks, Stopwatch.GetTimestamp());
                }
            })
            .GroupByKey()
            .WindowedBy(TumblingWindowOptions.Of(TimeSpan.FromMinutes(1)))
            .Aggregate(() => new Agg(0, 0, double.MaxValue, double.MinValue),
                (_, v, agg) => new Agg(agg.Count + 1, agg.Sum + v.Value, Math.Min(agg.Min, v.Value), Math.Max(agg.Max, v.Value)), store)
            .ToStream()
            .Map((k, v, _) => KeyValuePair.Create(k.Key + "@" + k.Window.StartMs.ToString(CultureInfo.InvariantCulture),
                string.Create(CultureInfo.InvariantCulture, $"{{\"count\":{v.Count},\"sum\":{v.Sum},\"min\":{v.Min},\"max\":{v.Max}}}")))
            .To(output);

        var stream = new KafkaStream(builder.Build(), config);
        var wall = Stopwatch.StartNew();
        await stream.StartAsync().ConfigureAwait(false);
        while (Interlocked.Read(ref _seen) < expected && wall.Elapsed < TimeSpan.FromMinutes(10))
        {
            await Task.Delay(5).ConfigureAwait(false);
        }
        var seconds = Stopwatch.GetElapsedTime(Interlocked.Read(ref _firstTicks)).TotalSeconds;
        var seen = Interlocked.Read(ref _seen);
        stream.Dispose();
        return (seen, seconds);
    }

    /// <summary>One reading or a batch envelope → (value) per reading; malformed input yields nothing.</summary>
    private static IEnumerable<Reading> Readings(string? json)
    {
        if (json is null)
        {
            return [];
        }
        try
        {
            using var doc = JsonDocument.Parse(json);
            var root = doc.RootElement;
            if (root.TryGetProperty("readings", out var arr) && arr.ValueKind == JsonValueKind.Array)
            {
                var list = new List<Reading>(arr.GetArrayLength());
                foreach (var e in arr.EnumerateArray())
                {
                    if (e.TryGetProperty("value", out var v) && v.ValueKind == JsonValueKind.Number)
                    {
                        list.Add(new Reading(v.GetDouble()));
                    }
                }
                return list;
            }
            return root.TryGetProperty("value", out var one) && one.ValueKind == JsonValueKind.Number ? [new Reading(one.GetDouble())] : [];
        }
        catch (JsonException)
        {
            return [];
        }
    }

    private sealed record Reading(double Value);

    private sealed record Agg(long Count, double Sum, double Min, double Max);

    private sealed class AggSerDes : AbstractSerDes<Agg>
    {
        public override byte[] Serialize(Agg data, SerializationContext context)
        {
            var b = new byte[32];
            BinaryPrimitives.WriteInt64LittleEndian(b, data.Count);
            BinaryPrimitives.WriteDoubleLittleEndian(b.AsSpan(8), data.Sum);
            BinaryPrimitives.WriteDoubleLittleEndian(b.AsSpan(16), data.Min);
            BinaryPrimitives.WriteDoubleLittleEndian(b.AsSpan(24), data.Max);
            return b;
        }

        public override Agg Deserialize(byte[] data, SerializationContext context) => data is null ? null! : new Agg(
            BinaryPrimitives.ReadInt64LittleEndian(data), BinaryPrimitives.ReadDoubleLittleEndian(data.AsSpan(8)),
            BinaryPrimitives.ReadDoubleLittleEndian(data.AsSpan(16)), BinaryPrimitives.ReadDoubleLittleEndian(data.AsSpan(24)));
    }

    /// <summary>Event time = the message's (first) reading's ts: RFC 3339 or epoch ms.</summary>
    private sealed class ReadingTimestamp : ITimestampExtractor
    {
        public long Extract(ConsumeResult<object, object> record, long partitionTime)
        {
            var json = record.Message.Value as string;
            if (json is null)
            {
                return partitionTime;
            }
            var i = json.IndexOf("\"ts\":", StringComparison.Ordinal);
            if (i < 0)
            {
                return partitionTime;
            }
            var s = json.AsSpan(i + 5);
            if (s.Length > 0 && s[0] == '"')
            {
                var end = s[1..].IndexOf('"');
                return end > 0 && DateTimeOffset.TryParse(s.Slice(1, end), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var dto)
                    ? dto.ToUnixTimeMilliseconds() : partitionTime;
            }
            var n = 0;
            while (n < s.Length && char.IsDigit(s[n]))
            {
                n++;
            }
            return long.TryParse(s[..n], NumberStyles.None, CultureInfo.InvariantCulture, out var ms) ? ms : partitionTime;
        }
    }
}
