using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Runtime.InteropServices;
using Confluent.Kafka;
using SmartMaintenance.Streams.Kafka;

namespace SmartMaintenance.Streams.E2E;

/// <summary>
/// What bypassing Confluent.Kafka's per-message marshaling would save on the engine's consume thread (perf/e2e round 4):
/// the same topic read to its end, alternately through <see cref="IConsumer{TKey, TValue}.Consume(TimeSpan)"/> with the
/// engine's settings (key and value copied into reused buffers, timestamp and headers marshaled) and through librdkafka's
/// <c>rd_kafka_consumer_poll</c> on such a consumer's own handle (payload read in place, timestamp read, message destroyed).
/// Prints the polling thread's and the process's CPU per message. A measurement only: the engine does not poll this way.
/// </summary>
internal static unsafe class RawPoll
{
    private const int ThreadCpuClock = 3; // CLOCK_THREAD_CPUTIME_ID

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern int ClockGetTime(int clock, out TimeSpec time);

    public static int Run(string bootstrap, string topic, long messages, int rounds)
    {
        for (var round = 0; round < rounds; round++)
        {
            // ABBA: each variant goes first in every other round.
            var order = round % 2 == 0 ? new[] { false, true } : [true, false];
            foreach (var raw in order)
            {
                var (seen, wall, threadCpu, processCpu, checksum) = Measure(bootstrap, topic, messages, raw);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"RESULT stage=rawpoll variant={(raw ? "raw" : "confluent")} round={round} messages={seen} seconds={wall:F3} messages_per_s={seen / wall:F0} thread_cpu_us={threadCpu * 1e6 / seen:F3} process_cpu_us={processCpu * 1e6 / seen:F3} checksum={checksum} load={File.ReadAllText("/proc/loadavg").Split(' ')[0]}"));
            }
        }
        return 0;
    }

    private static (long Seen, double Wall, double ThreadCpu, double ProcessCpu, long Checksum) Measure(string bootstrap, string topic, long messages, bool raw)
    {
        var config = new KafkaOptions { BootstrapServers = bootstrap }.BuildEngineConsumerConfig("e2e-rawpoll-" + Guid.NewGuid().ToString("N")[..8]);
        config.AutoOffsetReset = AutoOffsetReset.Earliest;
        var key = new CopyInto();
        var value = new CopyInto();
        using var consumer = new ConsumerBuilder<int, int>(config).SetKeyDeserializer(key).SetValueDeserializer(value).Build();
        consumer.Subscribe(topic);
        long seen = 0, checksum = 0;
        var sw = new Stopwatch();
        double thread0 = 0, process0 = 0;
        var process = Process.GetCurrentProcess();
        if (raw)
        {
            var rk = ((SafeHandle)typeof(Handle).GetProperty("LibrdkafkaHandle", BindingFlags.NonPublic | BindingFlags.Instance)!
                .GetValue(consumer.Handle)!).DangerousGetHandle();
            var lib = NativeLibrary.Load(LoadedLibrdkafka());
            var poll = (delegate* unmanaged<IntPtr, int, IntPtr>)NativeLibrary.GetExport(lib, "rd_kafka_consumer_poll");
            var destroy = (delegate* unmanaged<IntPtr, void>)NativeLibrary.GetExport(lib, "rd_kafka_message_destroy");
            var timestamp = (delegate* unmanaged<IntPtr, int*, long>)NativeLibrary.GetExport(lib, "rd_kafka_message_timestamp");
            var idle = 0;
            while (seen < messages && idle < 30)
            {
                var m = poll(rk, 1000);
                if (m == IntPtr.Zero)
                {
                    idle++;
                    continue;
                }
                var p = (byte*)m;
                if (*(int*)p != 0)
                {
                    destroy(m);
                    continue;
                }
                if (!sw.IsRunning)
                {
                    (thread0, process0) = (ThreadCpu(), process.TotalProcessorTime.TotalSeconds);
                    sw.Start();
                }
                // rd_kafka_message_t on x64: err, rkt, partition, payload, len, key, key_len, offset.
                var payload = new ReadOnlySpan<byte>(*(void**)(p + 24), (int)*(nuint*)(p + 32));
                var partition = *(int*)(p + 16);
                var offset = *(long*)(p + 56);
                int tsType;
                var ts = timestamp(m, &tsType);
                checksum += payload.Length + partition + offset + (payload.Length > 0 ? payload[0] : 0) + (ts & 1) + (long)*(nuint*)(p + 48);
                destroy(m);
                seen++;
            }
        }
        else
        {
            while (seen < messages)
            {
                var cr = consumer.Consume(TimeSpan.FromSeconds(30));
                if (cr is null)
                {
                    break;
                }
                if (!sw.IsRunning)
                {
                    (thread0, process0) = (ThreadCpu(), process.TotalProcessorTime.TotalSeconds);
                    sw.Start();
                }
                checksum += cr.Message.Value + cr.Partition.Value + cr.Offset.Value + value.First + (cr.Message.Timestamp.UnixTimestampMs & 1) + cr.Message.Key;
                seen++;
            }
        }
        sw.Stop();
        var threadCpu = ThreadCpu() - thread0;
        process.Refresh();
        var processCpu = process.TotalProcessorTime.TotalSeconds - process0;
        consumer.Close();
        return (seen, sw.Elapsed.TotalSeconds, threadCpu, processCpu, checksum);
    }

    private static double ThreadCpu()
    {
        ClockGetTime(ThreadCpuClock, out var t);
        return t.Seconds + (t.Nanoseconds / 1e9);
    }

    /// <summary>The librdkafka file Confluent.Kafka loaded (so that the calls go to the same library instance).</summary>
    private static string LoadedLibrdkafka()
    {
        foreach (var line in File.ReadLines("/proc/self/maps"))
        {
            var at = line.IndexOf('/', StringComparison.Ordinal);
            if (at >= 0 && line.Contains("librdkafka", StringComparison.Ordinal))
            {
                return line[at..];
            }
        }
        throw new InvalidOperationException("librdkafka is not loaded");
    }

    /// <summary>As the engine's ReusedBytes: the bytes copied into one reused buffer (returns the length).</summary>
    private sealed class CopyInto : IDeserializer<int>
    {
        private byte[] _buffer = new byte[4096];

        public int First => _buffer[0];

        public int Deserialize(ReadOnlySpan<byte> data, bool isNull, SerializationContext context)
        {
            if (data.Length > _buffer.Length)
            {
                _buffer = new byte[data.Length * 2];
            }
            data.CopyTo(_buffer);
            return data.Length;
        }
    }
}
