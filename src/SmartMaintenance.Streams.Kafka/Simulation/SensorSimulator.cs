using System.Diagnostics;
using Confluent.Kafka;

namespace SmartMaintenance.Streams.Kafka.Simulation;

/// <summary>
/// Publishes <see cref="SensorDataGenerator"/>'s messages to Kafka at a steady rate and reports what
/// it published. One loop paces against an absolute schedule (reading n is due n / Rate seconds after
/// the start), checked on a 5 ms tick, so the rate stays exact without a timer or task per record.
/// </summary>
public static class SensorSimulator
{
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(5);

    /// <summary>Publishes with a producer built from <paramref name="kafka"/> (flushed and disposed at the end).</summary>
    public static async Task<SimulationSummary> RunAsync(SimulatorOptions options, KafkaOptions kafka, CancellationToken cancellationToken = default,
        ISimulationObserver? observer = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(kafka);
        kafka.Validate();
        using var producer = new ProducerBuilder<byte[], byte[]>(kafka.BuildProducerConfig()).Build();
        return await RunAsync(options, producer, cancellationToken, observer).ConfigureAwait(false);
    }

    /// <summary>Publishes to the cluster at <paramref name="bootstrapServers"/> with the project's producer defaults.</summary>
    public static Task<SimulationSummary> RunAsync(SimulatorOptions options, string bootstrapServers, CancellationToken cancellationToken = default) =>
        RunAsync(options, new KafkaOptions { BootstrapServers = bootstrapServers, ClientId = "smstream-simulator" }, cancellationToken);

    /// <summary>Publishes with the caller's producer (flushed, not disposed). Cancellation stops generating,
    /// publishes the partly filled envelopes and returns the counts of what was published. <paramref name="observer"/>
    /// is told of every injected episode and valid reading as it is generated.</summary>
    public static async Task<SimulationSummary> RunAsync(SimulatorOptions options, IProducer<byte[], byte[]> producer, CancellationToken cancellationToken = default,
        ISimulationObserver? observer = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(producer);
        options.Validate();
        var seed = options.Seed ?? Random.Shared.Next();
        var generator = new SensorDataGenerator(options, seed, options.EffectiveStartTime(DateTimeOffset.UtcNow)) { Observer = observer };
        var failures = new DeliveryFailures();
        var topic = options.Topic;
        var rate = options.Rate;
        // Token bucket refilled by one PeriodicTimer: readings due by now (rate x elapsed) plus one tick's
        // worth of burst may go; no timer or task per record, and the schedule is absolute, so late
        // ticks are caught up and the long-run rate is exact.
        var burst = Math.Max(1.0, rate * Tick.TotalSeconds);
        using var timer = rate > 0 ? new PeriodicTimer(Tick) : null;

        var clock = Stopwatch.StartNew();
        long sent = 0;
        var stopping = false;
        while (true)
        {
            // Runs end on their count (Rate x Duration, or MaxReadings: reproducible), or on cancellation when open-ended.
            if (!stopping && cancellationToken.IsCancellationRequested)
            {
                generator.Complete();
                stopping = true;
            }
            if (!generator.TryNext(out var message))
            {
                break;
            }
            while (timer is not null && !stopping && sent + message.Readings > (rate * clock.Elapsed.TotalSeconds) + burst)
            {
                try
                {
                    await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    // Still publish this message: the generator has counted it.
                    generator.Complete();
                    stopping = true;
                }
            }
            Produce(producer, topic, message, failures.Handler);
            sent += message.Readings;
        }

        await Task.Run(() =>
        {
            // Flush ignores cancellation here on purpose: the summary must describe delivered messages.
            while (producer.Flush(TimeSpan.FromSeconds(1)) > 0)
            {
            }
        }, CancellationToken.None).ConfigureAwait(false);
        clock.Stop();
        return generator.Summary(clock.Elapsed, failures.Count);
    }

    private static void Produce(IProducer<byte[], byte[]> producer, string topic, SimulatedMessage message, Action<DeliveryReport<byte[], byte[]>> handler)
    {
        // Confluent.Kafka takes a byte[] per message; the generator's buffer is reused, so copy once here.
        var kafkaMessage = new Message<byte[], byte[]> { Key = message.Key, Value = message.Value.ToArray() };
        while (true)
        {
            try
            {
                producer.Produce(topic, kafkaMessage, handler);
                return;
            }
            catch (ProduceException<byte[], byte[]> ex) when (ex.Error.Code == ErrorCode.Local_QueueFull)
            {
                // Local queue full: let librdkafka send and serve delivery reports, then retry.
                producer.Poll(TimeSpan.FromMilliseconds(50));
            }
        }
    }

    private sealed class DeliveryFailures
    {
        private long _count;

        public DeliveryFailures() => Handler = OnDelivery;

        /// <summary>Created once per run: no closure per record.</summary>
        public Action<DeliveryReport<byte[], byte[]>> Handler { get; }

        public long Count => Interlocked.Read(ref _count);

        private void OnDelivery(DeliveryReport<byte[], byte[]> report)
        {
            if (report.Error.IsError)
            {
                Interlocked.Increment(ref _count);
            }
        }
    }
}
