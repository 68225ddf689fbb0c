using System.Diagnostics;
using System.Globalization;
using System.Text;
using Confluent.Kafka;
using SmartMaintenance.Streams.Kafka;
using SmartMaintenance.Streams.Kafka.Embedded;

namespace SmartMaintenance.Streams.BrokerThroughput;

/// <summary>
/// Produce and consume N ~100-byte messages through the embedded broker's forwarders and directly
/// against the mock's own ports, alternating, and print msg/s and the forwarded/direct ratio.
/// <c>dotnet run -c Release --project perf/SmartMaintenance.Streams.BrokerThroughput -- [messages] [rounds]</c>
/// </summary>
internal static class Program
{
    private const int Partitions = 24; // 1M x 100 B over 24 partitions stays under the mock's 5 MiB per partition

    private static async Task<int> Main(string[] args)
    {
        var messages = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 1_000_000;
        var rounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 2;
        var payloads = Payloads(messages);
        var results = new Dictionary<bool, List<(double Produce, double Consume)>> { [true] = [], [false] = [] };
        for (var round = 0; round < rounds; round++)
        {
            foreach (var forwarded in new[] { false, true })
            {
                var r = await RunAsync(forwarded, payloads);
                results[forwarded].Add(r);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"round {round + 1} {(forwarded ? "forwarded" : "direct   ")}: produce {r.Produce,9:F0} msg/s  consume {r.Consume,9:F0} msg/s"));
            }
        }
        var produceRatio = Median(results[true], x => x.Produce) / Median(results[false], x => x.Produce);
        var consumeRatio = Median(results[true], x => x.Consume) / Median(results[false], x => x.Consume);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"median direct:    produce {Median(results[false], x => x.Produce):F0} msg/s, consume {Median(results[false], x => x.Consume):F0} msg/s"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"median forwarded: produce {Median(results[true], x => x.Produce):F0} msg/s, consume {Median(results[true], x => x.Consume):F0} msg/s"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"forwarded/direct: produce {produceRatio:F2}, consume {consumeRatio:F2}"));
        return 0;
    }

    private static async Task<(double Produce, double Consume)> RunAsync(bool forwarded, byte[][] payloads)
    {
        await using var broker = await EmbeddedKafkaBroker.StartAsync(new EmbeddedBrokerOptions
        {
            BasePort = 0,
            Forwarders = forwarded,
            Topics = { ["bench"] = Partitions },
        });
        var kafka = new KafkaOptions { BootstrapServers = broker.BootstrapServers, ClientId = "bench" };

        using (var producer = new ProducerBuilder<byte[], byte[]>(kafka.BuildProducerConfig()).Build())
        {
            var failed = 0L;
            Action<DeliveryReport<byte[], byte[]>> onDelivery = r =>
            {
                if (r.Error.IsError)
                {
                    Interlocked.Increment(ref failed);
                }
            };
            var clock = Stopwatch.StartNew();
            for (var i = 0; i < payloads.Length; i++)
            {
                var message = new Message<byte[], byte[]> { Value = payloads[i] };
                while (true)
                {
                    try
                    {
                        producer.Produce(new TopicPartition("bench", i % Partitions), message, onDelivery);
                        break;
                    }
                    catch (ProduceException<byte[], byte[]> ex) when (ex.Error.Code == ErrorCode.Local_QueueFull)
                    {
                        producer.Poll(TimeSpan.FromMilliseconds(10));
                    }
                }
            }
            producer.Flush();
            var produceRate = payloads.Length / clock.Elapsed.TotalSeconds;
            if (failed > 0)
            {
                throw new InvalidOperationException($"{failed} deliveries failed");
            }

            var consumerConfig = kafka.BuildConsumerConfig("bench");
            consumerConfig.EnableAutoCommit = false;
            using var consumer = new ConsumerBuilder<byte[], byte[]>(consumerConfig).Build();
            var assignment = new List<TopicPartitionOffset>();
            for (var p = 0; p < Partitions; p++)
            {
                assignment.Add(new TopicPartitionOffset("bench", p, Offset.Beginning));
            }
            clock.Restart();
            consumer.Assign(assignment);
            var received = 0;
            var deadline = DateTime.UtcNow.AddMinutes(2);
            while (received < payloads.Length && DateTime.UtcNow < deadline)
            {
                if (consumer.Consume(TimeSpan.FromMilliseconds(100)) is not null)
                {
                    received++;
                }
            }
            var consumeRate = received / clock.Elapsed.TotalSeconds;
            if (received < payloads.Length)
            {
                throw new InvalidOperationException($"consumed only {received} of {payloads.Length} (retention exceeded?)");
            }
            consumer.Close();
            return (produceRate, consumeRate);
        }
    }

    private static byte[][] Payloads(int count)
    {
        var random = new Random(1);
        var result = new byte[count][];
        for (var i = 0; i < count; i++)
        {
            var text = string.Create(CultureInfo.InvariantCulture,
                $"{{\"sensor_id\":\"asset-{i % 2500:D4}.temperature\",\"ts\":{1764000000000L + i},\"value\":{random.NextDouble() * 100:F3},\"seq\":{i}}}");
            result[i] = Encoding.UTF8.GetBytes(text.PadRight(100));
        }
        return result;
    }

    private static double Median(List<(double Produce, double Consume)> values, Func<(double Produce, double Consume), double> pick)
    {
        var sorted = values.Select(pick).Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
    }
}
