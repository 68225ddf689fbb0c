using System.Diagnostics;
using System.Globalization;
using Npgsql;
using SmartMaintenance.Streams.Storage;

namespace SmartMaintenance.Streams.E2E;

/// <summary>
/// Where PostgreSQL's extra cost in (c) comes from, without the engine on the box: the engine's own batches, recorded
/// during one run, are written again by the database side alone, in variants that add one difference at a time to the
/// bare COPY of (b). Alternating round by round; PostgreSQL CPU per reading (from /proc) and rows/s per variant.
/// </summary>
/// <remarks>
/// copy1: (b), the readings in the engine's order, one COPY per 20,000 rows, one connection (autocommit).
/// copy2: the same readings split as the engine splits them (partition p → connection p % 2), two connections at once,
///        one COPY per batch part: what two writers inserting into one table cost PostgreSQL.
/// sink2-readings: the sink (transaction, offset lock and upsert), readings and offsets only, two connections.
/// sink2: the engine's batches exactly (aggregates, anomalies, alerts, detector state), two connections.
/// sink1: every batch's parts merged, one connection.
/// </remarks>
internal static class SinkSplit
{
    /// <summary>Deep copies every batch it is given (before the inner sink sees it), per writer.</summary>
    public sealed class Recorder(IStorageSink inner, List<StorageBatch> into) : IStorageSink
    {
        public async Task WriteAsync(StorageBatch batch, CancellationToken ct)
        {
            lock (into)
            {
                into.Add(Copy(batch));
            }
            await inner.WriteAsync(batch, ct).ConfigureAwait(false);
        }

        public Task<IReadOnlyDictionary<int, OffsetMark>> LoadOffsetsAsync(string group, string topic, CancellationToken ct) =>
            inner.LoadOffsetsAsync(group, topic, ct);

        public Task<int> LoadDetectorStateAsync(string group, string topic, IReadOnlyCollection<int> partitions, DetectorStateHandler onRow, CancellationToken ct) =>
            inner.LoadDetectorStateAsync(group, topic, partitions, onRow, ct);

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }

    public static StorageBatch Copy(StorageBatch b, bool readingsOnly = false, bool noState = false)
    {
        var c = new StorageBatch();
        c.Readings.AddRange(b.Readings);
        c.Offsets.AddRange(b.Offsets);
        if (readingsOnly)
        {
            return c;
        }
        c.Aggregates.AddRange(b.Aggregates);
        c.Anomalies.AddRange(b.Anomalies);
        c.Alerts.AddRange(b.Alerts);
        c.Retractions.AddRange(b.Retractions);
        if (noState)
        {
            return c;
        }
        foreach (var row in b.DetectorStates)
        {
            var start = (int)c.StateData.Length;
            c.StateData.Write(b.StateBytes(row));
            c.DetectorStates.Add(row with { Start = start });
        }
        return c;
    }

    private static StorageBatch Merge(StorageBatch x, StorageBatch y)
    {
        var m = Copy(x);
        var tail = Copy(y);
        m.Readings.AddRange(tail.Readings);
        m.Offsets.AddRange(tail.Offsets);
        m.Aggregates.AddRange(tail.Aggregates);
        m.Anomalies.AddRange(tail.Anomalies);
        m.Alerts.AddRange(tail.Alerts);
        m.Retractions.AddRange(tail.Retractions);
        foreach (var row in tail.DetectorStates)
        {
            var start = (int)m.StateData.Length;
            m.StateData.Write(tail.StateBytes(row));
            m.DetectorStates.Add(row with { Start = start });
        }
        return m;
    }

    /// <summary>Runs the variants on the recorded batches (<paramref name="perWriter"/>: each writer's batches in commit order).</summary>
    public static async Task RunAsync(NpgsqlDataSource dataSource, StorageOptions storage, List<StorageBatch>[] perWriter, CpuMeter meter, int rounds, IReadOnlyList<string> variants,
        string? pgDataDirectory = null)
    {
        var readings = perWriter.Sum(w => w.Sum(b => b.Readings.Count));
        // copy1: every reading in commit order (writer 0's batch i, then writer 1's batch i, …), in 20,000-row COPYs.
        var all = new List<Contracts.SensorReading>(readings);
        var batches = perWriter.Max(w => w.Count);
        for (var i = 0; i < batches; i++)
        {
            foreach (var w in perWriter)
            {
                if (i < w.Count)
                {
                    all.AddRange(w[i].Readings);
                }
            }
        }
        var copy1 = new List<StorageBatch>();
        for (var i = 0; i < all.Count; i += storage.BatchMaxRows)
        {
            var b = new StorageBatch();
            b.Readings.AddRange(all.GetRange(i, Math.Min(storage.BatchMaxRows, all.Count - i)));
            copy1.Add(b);
        }
        var readingsOnly = perWriter.Select(w => w.Select(b => Copy(b, readingsOnly: true)).ToList()).ToArray();
        var noState = perWriter.Select(w => w.Select(b => Copy(b, noState: true)).ToList()).ToArray();
        var merged = new List<StorageBatch>();
        for (var i = 0; i < batches; i++)
        {
            StorageBatch? m = null;
            foreach (var w in perWriter)
            {
                if (i < w.Count)
                {
                    m = m is null ? Copy(w[i]) : Merge(m, w[i]);
                }
            }
            merged.Add(m!);
        }
        List<StorageBatch>[] mergedReadings = [merged.Select(b => Copy(b, readingsOnly: true)).ToList()];
        List<StorageBatch>[] mergedNoState = [merged.Select(b => Copy(b, noState: true)).ToList()];
        var results = variants.ToDictionary(v => v, _ => new List<(double Seconds, double Pg, double Backends)>());
        for (var round = 0; round < rounds; round++)
        {
            for (var k = 0; k < variants.Count; k++)
            {
                var v = variants[(k + round) % variants.Count];
                await ResetAsync(dataSource).ConfigureAwait(false);
                var perf = PerfRecorder.Start(v + "-" + round.ToString(CultureInfo.InvariantCulture));
                var before = meter.Take();
                var sw = Stopwatch.StartNew();
                switch (v)
                {
                    case "copy1":
                        await StorageBench.BareCopyAsync(dataSource, [copy1]).ConfigureAwait(false);
                        break;
                    case "copy2":
                        await StorageBench.BareCopyAsync(dataSource, readingsOnly).ConfigureAwait(false);
                        break;
                    case "sink2-readings":
                        await ReplayAsync(dataSource, storage, readingsOnly).ConfigureAwait(false);
                        break;
                    case "sink2":
                        await ReplayAsync(dataSource, storage, perWriter).ConfigureAwait(false);
                        break;
                    case "sink2-nostate":
                        await ReplayAsync(dataSource, storage, noState).ConfigureAwait(false);
                        break;
                    case "sink1":
                        await ReplayAsync(dataSource, storage, [merged]).ConfigureAwait(false);
                        break;
                    case "sink1-readings":
                        await ReplayAsync(dataSource, storage, mergedReadings).ConfigureAwait(false);
                        break;
                    case "sink1-nostate":
                        await ReplayAsync(dataSource, storage, mergedNoState).ConfigureAwait(false);
                        break;
                    default:
                        throw new ArgumentException($"unknown variant {v}");
                }
                var seconds = sw.Elapsed.TotalSeconds;
                var cpu = CpuMeter.PerReading(before, meter.Take(), readings);
                perf?.Stop(pgDataDirectory);
                double Field(string name) => double.Parse(cpu.Split(' ').First(f => f.StartsWith(name + "=", StringComparison.Ordinal)).Split('=')[1], CultureInfo.InvariantCulture);
                results[v].Add((seconds, Field("cpu_pg_us"), Field("cpu_pg_backends_us")));
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"RESULT stage=split variant={v} round={round} readings={readings} seconds={seconds:F3} readings_per_s={readings / seconds:F0} load={File.ReadAllText("/proc/loadavg").Split(' ')[0]} {cpu}"));
            }
        }
        var baseline = results.TryGetValue("copy1", out var b1) ? Median(b1.Select(r => r.Backends)) : double.NaN;
        foreach (var (v, r) in results)
        {
            var backends = Median(r.Select(x => x.Backends));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"SUMMARY variant={v} rounds={r.Count} readings_per_s={readings / Median(r.Select(x => x.Seconds)):F0} pg_us={Median(r.Select(x => x.Pg)):F2} pg_backends_us={backends:F2} over_copy1={backends - baseline:F2}"));
        }
    }

    /// <summary>As the engine's writer: batch i of every writer in parallel, then batch i + 1.</summary>
    private static async Task ReplayAsync(NpgsqlDataSource dataSource, StorageOptions storage, List<StorageBatch>[] perWriter)
    {
        var sinks = perWriter.Select(_ => new PostgresSink(dataSource, storage)).ToArray();
        try
        {
            var batches = perWriter.Max(w => w.Count);
            var writes = new Task[perWriter.Length];
            for (var i = 0; i < batches; i++)
            {
                for (var w = 0; w < perWriter.Length; w++)
                {
                    writes[w] = i < perWriter[w].Count ? sinks[w].WriteAsync(perWriter[w][i], default) : Task.CompletedTask;
                }
                await Task.WhenAll(writes).ConfigureAwait(false);
            }
        }
        finally
        {
            foreach (var s in sinks)
            {
                await s.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private static async Task ResetAsync(NpgsqlDataSource dataSource)
    {
        await using (var cmd = dataSource.CreateCommand("TRUNCATE detector_state"))
        {
            await cmd.ExecuteNonQueryAsync().ConfigureAwait(false);
        }
        await StorageBench.ResetAsync(dataSource).ConfigureAwait(false);
    }

    private static double Median(IEnumerable<double> values)
    {
        var s = values.Order().ToArray();
        return s.Length == 0 ? double.NaN : s.Length % 2 == 1 ? s[s.Length / 2] : (s[(s.Length / 2) - 1] + s[s.Length / 2]) / 2;
    }
}
