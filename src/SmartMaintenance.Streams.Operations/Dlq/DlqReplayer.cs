using System.Globalization;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Kafka;

namespace SmartMaintenance.Streams.Operations.Dlq;

/// <summary>What to replay.</summary>
public sealed record ReplayRequest
{
    public required string DlqTopic { get; init; }

    /// <summary>Records to replay (a reason is required by the CLI so nothing is replayed by accident).</summary>
    public required DlqFilter Filter { get; init; }

    /// <summary>Where records without a <c>dlq.source.topic</c> header go (the DLQ's source topic by configuration).</summary>
    public string? FallbackSourceTopic { get; init; }

    public ReplayTransform? Transform { get; init; }

    /// <summary>Report what would happen; claim and produce nothing.</summary>
    public bool DryRun { get; init; }

    /// <summary>Replay records even if a claim exists (recovery after a crash between claim and produce).</summary>
    public bool Force { get; init; }

    /// <summary>Records claimed (and produced) per database round trip; the crash window of at most one batch.</summary>
    public int BatchSize { get; init; } = 500;
}

/// <summary>One record that was not replayed, and why.</summary>
public sealed record ReplaySkip(string Coordinates, string Reason, string Why);

/// <summary>What a replay did (or, dry-run, would do).</summary>
public sealed class ReplayReport
{
    public bool DryRun { get; init; }
    public long Scanned { get; set; }
    public long Matched { get; set; }
    public long Replayed { get; set; }
    public long AlreadyReplayed { get; set; }
    public long TransformFailed { get; set; }
    public long ProduceFailed { get; set; }

    /// <summary>Replayed readings whose <c>ts</c> is older than the engines' stored watermark of their target topic: the
    /// engine may dead-letter them again as <c>late</c> (docs/operations.md, "Replayed readings must not be late").</summary>
    public long BehindWatermark { get; set; }
    public SortedDictionary<string, long> ByTarget { get; } = new(StringComparer.Ordinal);
    public SortedDictionary<string, long> ByReason { get; } = new(StringComparer.Ordinal);

    /// <summary>The first skipped records with the cause (transform failures, produce errors), at most 20.</summary>
    public List<ReplaySkip> Skips { get; } = [];
}

/// <summary>
/// Re-publishes DLQ records to their source topic, each at most once per claim in <c>dlq_replays</c>.
/// </summary>
/// <remarks>
/// Per batch: claim (INSERT … ON CONFLICT DO NOTHING RETURNING, committed), produce the claimed records, wait for the
/// acknowledgements, release the claims of records whose delivery failed. A record whose claim already exists is not
/// produced again, so a second replay is a no-op and concurrent replays never both publish a record. A crash (kill -9,
/// power loss) after the claim commits and before the broker acknowledged leaves claimed records unpublished: never
/// duplicated, not lost either (the DLQ record stays in the DLQ); <see cref="ReplayRequest.Force"/> replays them
/// (docs/operations.md). Replayed records keep key and non-DLQ headers and carry <c>dlq.replayed.from</c>.
/// </remarks>
public sealed class DlqReplayer(KafkaOptions kafka, ReplayLedger ledger)
{
    private const int MaxSkips = 20;
    private readonly KafkaOptions _kafka = kafka ?? throw new ArgumentNullException(nameof(kafka));
    private readonly ReplayLedger _ledger = ledger ?? throw new ArgumentNullException(nameof(ledger));

    public async Task<ReplayReport> ReplayAsync(ReplayRequest request, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentOutOfRangeException.ThrowIfLessThan(request.BatchSize, 1);
        var report = new ReplayReport { DryRun = request.DryRun };
        var already = request.DryRun || !request.Force ? await _ledger.ReplayedAsync(request.DlqTopic, ct).ConfigureAwait(false) : [];
        using var producer = request.DryRun ? null : new ProducerBuilder<byte[]?, byte[]>(_kafka.BuildProducerConfig()).Build();
        var batch = new List<(DlqRecord Record, string Target, byte[] Value)>(request.BatchSize);
        var floors = new Dictionary<string, long?>(StringComparer.Ordinal);
        foreach (var record in new DlqReader(_kafka).Read(request.DlqTopic, ct))
        {
            report.Scanned++;
            if (!request.Filter.Matches(record))
            {
                continue;
            }
            report.Matched++;
            if (!request.Force && already.ContainsKey((record.Partition, record.Offset)))
            {
                report.AlreadyReplayed++;
                continue;
            }
            var target = record.SourceTopic ?? request.FallbackSourceTopic;
            if (target is null)
            {
                Skip(report, record, "no dlq.source.topic header and no fallback topic");
                report.ProduceFailed++;
                continue;
            }
            var value = record.Value;
            if (request.Transform is { } transform && !transform.TryApply(value, out value, out var error))
            {
                report.TransformFailed++;
                Skip(report, record, "transform: " + error);
                continue;
            }
            if (!floors.TryGetValue(target, out var floor))
            {
                floor = await _ledger.WatermarkFloorAsync(target, ct).ConfigureAwait(false);
                floors[target] = floor;
            }
            if (floor is { } f && EventTimeMs(value) is { } ts && ts < f)
            {
                report.BehindWatermark++;
            }
            if (request.DryRun)
            {
                Count(report, record, target);
                continue;
            }
            batch.Add((record, target, value));
            if (batch.Count >= request.BatchSize)
            {
                await FlushBatchAsync(request, producer!, batch, report, ct).ConfigureAwait(false);
            }
        }
        if (batch.Count > 0)
        {
            await FlushBatchAsync(request, producer!, batch, report, ct).ConfigureAwait(false);
        }
        return report;
    }

    private async Task FlushBatchAsync(ReplayRequest request, IProducer<byte[]?, byte[]> producer, List<(DlqRecord Record, string Target, byte[] Value)> batch,
        ReplayReport report, CancellationToken ct)
    {
        var records = batch.ConvertAll(b => b.Record);
        var claimed = await _ledger.ClaimAsync(request.DlqTopic, records, request.Force, ct).ConfigureAwait(false);
        var failed = new List<(DlqRecord Record, string Error)>();
        var produced = new List<(DlqRecord Record, string Target)>();
        foreach (var (record, target, value) in batch)
        {
            if (!claimed.Contains((record.Partition, record.Offset)))
            {
                report.AlreadyReplayed++; // Another replay claimed it since we read the ledger.
                continue;
            }
            var message = new Message<byte[]?, byte[]> { Key = record.Key, Value = value, Headers = ReplayHeaders(record) };
            produced.Add((record, target));
            try
            {
                producer.Produce(target, message, r =>
                {
                    if (r.Error.IsError)
                    {
                        lock (failed)
                        {
                            failed.Add((record, r.Error.Reason));
                        }
                    }
                });
            }
            catch (ProduceException<byte[]?, byte[]> ex)
            {
                lock (failed)
                {
                    failed.Add((record, ex.Error.Reason));
                }
            }
        }
        // Wait for every acknowledgement (the idempotent producer retries transient errors until message.timeout.ms).
        await Task.Run(() => producer.Flush(ct), ct).ConfigureAwait(false);
        var failedSet = new HashSet<DlqRecord>(ReferenceEqualityComparer.Instance);
        foreach (var (record, error) in failed)
        {
            failedSet.Add(record);
            report.ProduceFailed++;
            Skip(report, record, "produce: " + error);
        }
        if (failedSet.Count > 0)
        {
            await _ledger.ReleaseAsync(request.DlqTopic, [.. failedSet], ct).ConfigureAwait(false);
        }
        foreach (var (record, target) in produced)
        {
            if (!failedSet.Contains(record))
            {
                Count(report, record, target);
            }
        }
        batch.Clear();
    }

    /// <summary>The reading's <c>ts</c> (RFC 3339 or epoch ms) as Unix ms; null when absent or not a reading.</summary>
    public static long? EventTimeMs(ReadOnlySpan<byte> payload)
    {
        try
        {
            var reader = new Utf8JsonReader(payload);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return null;
            }
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isTs = reader.ValueTextEquals("ts"u8);
                if (!reader.Read())
                {
                    return null;
                }
                if (isTs)
                {
                    if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var ms))
                    {
                        return ms;
                    }
                    return reader.TokenType == JsonTokenType.String
                        && DateTimeOffset.TryParse(reader.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t)
                        ? t.ToUnixTimeMilliseconds() : null;
                }
                reader.Skip();
            }
        }
        catch (JsonException)
        {
        }
        return null;
    }

    private static void Count(ReplayReport report, DlqRecord record, string target)
    {
        report.Replayed++;
        report.ByTarget[target] = report.ByTarget.GetValueOrDefault(target) + 1;
        report.ByReason[record.Reason] = report.ByReason.GetValueOrDefault(record.Reason) + 1;
    }

    private static void Skip(ReplayReport report, DlqRecord record, string why)
    {
        if (report.Skips.Count < MaxSkips)
        {
            report.Skips.Add(new ReplaySkip(record.Coordinates, record.Reason, why));
        }
    }

    /// <summary>The original headers without the DLQ's own (the engine adds fresh ones if the record fails again), plus the replay origin.</summary>
    public static Headers ReplayHeaders(DlqRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        var headers = new Headers();
        foreach (var (key, value) in record.Headers)
        {
            if (!key.StartsWith("dlq.", StringComparison.Ordinal))
            {
                headers.Add(key, value);
            }
        }
        headers.Add(DlqHeaders.ReplayedFrom, Encoding.UTF8.GetBytes(record.Coordinates));
        return headers;
    }
}
