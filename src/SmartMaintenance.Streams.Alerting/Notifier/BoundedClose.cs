using Confluent.Kafka;
using Microsoft.Extensions.Logging;

namespace SmartMaintenance.Streams.Alerting.Notifier;

/// <summary>Closes a consumer (final commit, leave the group) on a thread of its own and waits at most a timeout:
/// librdkafka's close waits for the group coordinator and, with every broker unreachable, blocks far beyond any
/// shutdown deadline. Past the timeout the close is left to finish in the background and the process stops anyway.</summary>
internal static class BoundedClose
{
    /// <summary>True when the close finished in time (the caller may dispose the consumer); false when it was abandoned
    /// (the consumer must then not be disposed while the close still uses it).</summary>
    public static bool Run<TKey, TValue>(IConsumer<TKey, TValue> consumer, TimeSpan timeout, ILogger logger)
    {
        var closing = Task.Factory.StartNew(() =>
        {
            try
            {
                consumer.Close();
            }
            catch (KafkaException ex)
            {
                NotifierLog.ConsumerError(logger, ex.Error.Reason);
            }
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        if (closing.Wait(timeout))
        {
            return true;
        }
        NotifierLog.CloseTimedOut(logger, timeout);
        return false;
    }
}
