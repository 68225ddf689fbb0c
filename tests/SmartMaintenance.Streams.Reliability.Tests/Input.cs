using System.Globalization;
using SmartMaintenance.Streams.Testing;

namespace SmartMaintenance.Streams.Reliability.Tests;

/// <summary>The valid input of the fault tests: reading i has seq i, so the stored set can be checked exactly.</summary>
internal static class Input
{
    public const int Sensors = 200;

    /// <summary>Reading <paramref name="i"/>: sensor i % 200, 250 ms apart per index, every 40th reading of a sensor a spike so alerts open.</summary>
    public static TestMessage Reading(DateTimeOffset start, int i)
    {
        var sensor = i % Sensors;
        var perSensor = i / Sensors;
        var ts = start.AddMilliseconds(i * 50L).ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture);
        var value = perSensor % 40 == 39 ? 900.0 + sensor : 20 + (perSensor % 17) * 0.1 + sensor * 0.01;
        var v = value.ToString("R", CultureInfo.InvariantCulture);
        return TestMessage.Utf8($"s-{sensor}", $$"""{"sensor_id":"s-{{sensor}}","ts":"{{ts}}","value":{{v}},"sensor_type":"temperature","unit":"C","seq":{{i}}}""");
    }

    /// <summary>Event times start this far back so that <paramref name="count"/> readings end before now.</summary>
    public static DateTimeOffset StartFor(int count) => DateTimeOffset.UtcNow.AddMilliseconds(-count * 50L - 600_000);

    public static IEnumerable<TestMessage> Readings(int count)
    {
        var start = StartFor(count);
        for (var i = 0; i < count; i++)
        {
            yield return Reading(start, i);
        }
    }

    /// <summary>Produces <paramref name="count"/> readings evenly over <paramref name="over"/>, in the background of a test.</summary>
    public static Task ProduceLiveAsync(KafkaFixture kafka, string topic, int count, TimeSpan over, CancellationToken ct = default) => Task.Run(async () =>
    {
        var start = StartFor(count);
        var slices = Math.Max(1, (int)(over.TotalMilliseconds / 100));
        var perSlice = (count + slices - 1) / slices;
        var sw = System.Diagnostics.Stopwatch.StartNew();
        for (var s = 0; s * perSlice < count; s++)
        {
            var from = s * perSlice;
            var to = Math.Min(count, from + perSlice);
            await kafka.ProduceAsync(topic, Enumerable.Range(from, to - from).Select(i => Reading(start, i)), ct);
            var due = TimeSpan.FromMilliseconds(100.0 * (s + 1));
            if (due > sw.Elapsed)
            {
                await Task.Delay(due - sw.Elapsed, ct);
            }
        }
    }, ct);

    /// <summary>SHA-256 over the sorted seq list 0..count-1, as PostgreSQL computes it in <see cref="Ledger"/>.</summary>
    public static string ExpectedChecksum(int count)
    {
        var text = string.Join(',', Enumerable.Range(0, count).Select(i => i.ToString(CultureInfo.InvariantCulture)));
        return Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(text)));
    }
}
