using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Npgsql;
using SmartMaintenance.Streams.Cli.Hosting;
using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Kafka;
using SmartMaintenance.Streams.Operations.Dlq;
using SmartMaintenance.Streams.Storage;

namespace SmartMaintenance.Streams.Cli.Commands;

/// <summary><c>smstream dlq stats | inspect | replay</c>: what went to the dead-letter queues, and putting it back (docs/operations.md).</summary>
internal static class DlqCommand
{
    public static Command Create()
    {
        var cmd = new Command("dlq", "Dead-letter queues: counts (stats), records with reason and payload (inspect), re-publishing fixed records once (replay).");
        cmd.Subcommands.Add(Stats());
        cmd.Subcommands.Add(Inspect());
        cmd.Subcommands.Add(Replay());
        return cmd;
    }

    private static Option<string[]> TopicOption(string description) => new("--topic")
    {
        Description = description,
        AllowMultipleArgumentsPerToken = true,
    };

    private static Option<string?> SinceOption() => new("--since")
    {
        Description = "Only records dead-lettered at or after this time: RFC 3339 (2026-11-25T03:00:00Z) or an age (30m, 2h).",
    };

    private static Command Stats()
    {
        var topic = TopicOption("readings, alerts or a DLQ topic name (repeatable); default: both DLQ topics.");
        var cmd = new Command("stats", "Records per DLQ topic and reason, how many were replayed, oldest and newest dead-letter time.");
        AppConfiguration.AddCommon(cmd);
        cmd.Options.Add(topic);
        cmd.SetAction(async (parse, ct) =>
        {
            var ctx = Context.Load(parse);
            var topics = parse.GetValue(topic) is { Length: > 0 } t ? t : ["readings", "alerts"];
            var builder = new DlqStatsBuilder();
            await using var db = ctx.OpenLedgerOrWarn();
            var known = db is not null;
            foreach (var name in topics)
            {
                var (dlq, _) = ctx.Resolve(name);
                var replayed = await ctx.ReplayedAsync(db, dlq, ct).ConfigureAwait(false);
                known &= replayed is not null;
                foreach (var r in new DlqReader(ctx.Kafka).Read(dlq, ct))
                {
                    builder.Add(r, replayed?.ContainsKey((r.Partition, r.Offset)) ?? false);
                }
            }
            var rows = builder.Build();
            var table = new List<string[]> { new[] { "TOPIC", "REASON", "COUNT", "REPLAYED", "OLDEST", "NEWEST" } };
            long total = 0;
            foreach (var row in rows)
            {
                total += row.Count;
                table.Add([row.Topic, row.Reason, Num(row.Count), known ? Num(row.Replayed) : "?", Time(row.Oldest), Time(row.Newest)]);
            }
            WriteTable(table, rightAligned: [2, 3]);
            Console.WriteLine($"total: {Num(total)} record(s) in {string.Join(", ", topics.Select(n => ctx.Resolve(n).Dlq))}");
            return 0;
        });
        return cmd;
    }

    private static Command Inspect()
    {
        var topic = TopicOption("readings (default), alerts or a DLQ topic name.");
        var reason = new Option<string[]>("--reason") { Description = "Only these reasons (dlq.reason codes, docs/contracts/dlq.md); repeatable or comma-separated.", AllowMultipleArgumentsPerToken = true };
        var since = SinceOption();
        var limit = new Option<int>("--limit") { Description = "Show at most this many records (oldest first).", DefaultValueFactory = _ => 20 };
        var format = new Option<string>("--format") { Description = "table or json.", DefaultValueFactory = _ => "table" };
        format.AcceptOnlyFromAmong("table", "json");
        var maxBytes = new Option<int>("--max-bytes") { Description = "Payload bytes shown per record; longer payloads are cut (binary is shown as hex).", DefaultValueFactory = _ => 160 };
        var cmd = new Command("inspect", "DLQ records with reason, detail, source topic/partition/offset and the original payload (truncated; binary as hex).");
        AppConfiguration.AddCommon(cmd);
        cmd.Options.Add(topic);
        cmd.Options.Add(reason);
        cmd.Options.Add(since);
        cmd.Options.Add(limit);
        cmd.Options.Add(format);
        cmd.Options.Add(maxBytes);
        cmd.SetAction(async (parse, ct) =>
        {
            var ctx = Context.Load(parse);
            var (dlq, _) = ctx.Resolve(Single(parse.GetValue(topic)) ?? "readings");
            var filter = Filter(parse.GetValue(reason), parse.GetValue(since), required: false);
            var max = parse.GetValue(limit);
            var bytes = parse.GetValue(maxBytes);
            if (max < 1 || bytes < 1)
            {
                throw new ConfigurationException(max < 1 ? "--limit" : "--max-bytes", "must be at least 1");
            }
            await using var db = ctx.OpenLedgerOrWarn();
            var replayed = await ctx.ReplayedAsync(db, dlq, ct).ConfigureAwait(false);
            var known = replayed is not null;
            replayed ??= [];
            var shown = new List<DlqRecord>();
            long matched = 0;
            foreach (var r in new DlqReader(ctx.Kafka).Read(dlq, ct))
            {
                if (filter.Matches(r) && ++matched <= max)
                {
                    shown.Add(r);
                }
            }
            shown.Sort((a, b) => a.Time.CompareTo(b.Time));
            if (parse.GetValue(format) == "json")
            {
                WriteJson(shown, replayed, bytes, matched);
                return 0;
            }
            var table = new List<string[]> { new[] { "DLQ RECORD", "TIME", "REASON", "SOURCE", "REPLAYED", "DETAIL", "KEY", "PAYLOAD" } };
            foreach (var r in shown)
            {
                table.Add([r.Coordinates, Time(r.Time), r.Reason, Source(r), replayed.TryGetValue((r.Partition, r.Offset), out var at) ? Time(at) : (known ? "no" : "?"),
                    Cut(r.Detail, 60), r.Key is null ? "(null)" : PayloadPreview.Format(r.Key, 40), PayloadPreview.Format(r.Value, bytes)]);
            }
            WriteTable(table, rightAligned: []);
            Console.WriteLine($"{Num(shown.Count)} of {Num(matched)} matching record(s) in {dlq}");
            return 0;
        });
        return cmd;
    }

    private static Command Replay()
    {
        var topic = TopicOption("readings (default), alerts or a DLQ topic name.");
        var reason = new Option<string[]>("--reason") { Description = "Replay records with these reasons (required; repeatable or comma-separated; 'all' for every reason).", AllowMultipleArgumentsPerToken = true, Required = true };
        var since = SinceOption();
        var transform = new Option<FileInfo?>("--transform") { Description = "JSON transform applied to each payload before re-publishing (rename, set, scale, convert, drop; docs/operations.md)." };
        var dryRun = new Option<bool>("--dry-run") { Description = "Show what would be replayed; publish and claim nothing." };
        var force = new Option<bool>("--force") { Description = "Also replay records already marked replayed (only after a crash between claim and publish; see docs/operations.md)." };
        var cmd = new Command("replay", "Re-publish matching DLQ records to their source topic (optionally transformed), each once: a second replay is a no-op.");
        AppConfiguration.AddCommon(cmd);
        cmd.Options.Add(topic);
        cmd.Options.Add(reason);
        cmd.Options.Add(since);
        cmd.Options.Add(transform);
        cmd.Options.Add(dryRun);
        cmd.Options.Add(force);
        cmd.SetAction(async (parse, ct) =>
        {
            var ctx = Context.Load(parse);
            var (dlq, source) = ctx.Resolve(Single(parse.GetValue(topic)) ?? "readings");
            var filter = Filter(parse.GetValue(reason), parse.GetValue(since), required: true);
            var file = parse.GetValue(transform);
            var fix = file is null ? null : ReplayTransform.Load(file.FullName);
            await using var db = NpgsqlDataSource.Create(ctx.Storage.ConnectionString);
            using var scope = new Shutdown(ct);
            var report = await new DlqReplayer(ctx.Kafka, new ReplayLedger(db)).ReplayAsync(new ReplayRequest
            {
                DlqTopic = dlq,
                Filter = filter,
                FallbackSourceTopic = source,
                Transform = fix,
                DryRun = parse.GetValue(dryRun),
                Force = parse.GetValue(force),
            }, scope.Token).ConfigureAwait(false);
            var reasons = filter.Reasons.Count == 0 ? "all" : string.Join(",", filter.Reasons.Order(StringComparer.Ordinal));
            Console.WriteLine($"{(report.DryRun ? "dry run: would replay" : "replayed")} from {dlq} (reasons: {reasons}{(fix is null ? "" : $"; transform: {file!.Name}, {fix.StepCount} step(s)")})");
            Console.WriteLine($"  scanned          {Num(report.Scanned)}");
            Console.WriteLine($"  matched          {Num(report.Matched)}");
            Console.WriteLine($"  {(report.DryRun ? "would replay" : "replayed"),-16} {Num(report.Replayed)}{Breakdown(report.ByTarget)}");
            Console.WriteLine($"  already replayed {Num(report.AlreadyReplayed)}");
            Console.WriteLine($"  transform failed {Num(report.TransformFailed)} (left in the DLQ)");
            Console.WriteLine($"  produce failed   {Num(report.ProduceFailed)} (claims released; run again)");
            if (report.BehindWatermark > 0)
            {
                Console.WriteLine($"  behind watermark {Num(report.BehindWatermark)} (event time older than the engine's stored watermark: may be dead-lettered again as 'late'; docs/operations.md)");
            }
            foreach (var (r, n) in report.ByReason)
            {
                Console.WriteLine($"  reason {r}: {Num(n)}");
            }
            foreach (var s in report.Skips)
            {
                Console.WriteLine($"  skipped {s.Coordinates} [{s.Reason}]: {s.Why}");
            }
            return report.ProduceFailed > 0 ? 1 : 0;
        });
        return cmd;
    }

    private static string Breakdown(SortedDictionary<string, long> byTarget) =>
        byTarget.Count == 0 ? "" : " → " + string.Join(", ", byTarget.Select(kv => $"{kv.Key}: {Num(kv.Value)}"));

    private static string? Single(string[]? values) => values is { Length: > 0 } v ? v[^1] : null;

    private static DlqFilter Filter(string[]? reasons, string? since, bool required)
    {
        var set = new HashSet<string>(StringComparer.Ordinal);
        foreach (var item in reasons ?? [])
        {
            foreach (var code in item.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                if (code == "all")
                {
                    continue;
                }
                if (!RejectReasons.TryParse(code, out _) && code != "unknown")
                {
                    throw new ConfigurationException("--reason", $"'{code}' is not a DLQ reason ({string.Join(", ", RejectReasons.All.Select(r => r.ToCode()))}, or all)");
                }
                set.Add(code);
            }
        }
        if (required && set.Count == 0 && !(reasons ?? []).Any(r => r.Contains("all", StringComparison.Ordinal)))
        {
            throw new ConfigurationException("--reason", "name the reason(s) to replay, or 'all'");
        }
        return new DlqFilter { Reasons = set, Since = since is null ? null : ParseSince(since) };
    }

    private static DateTimeOffset ParseSince(string text)
    {
        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at) && text.Contains('-', StringComparison.Ordinal))
        {
            return at.ToUniversalTime();
        }
        return DateTimeOffset.UtcNow - DurationParser.Parse(text, "--since");
    }

    private static string Source(DlqRecord r)
    {
        var s = $"{r.SourceTopic ?? "?"}/{Opt(r.SourcePartition)}/{Opt(r.SourceOffset)}";
        return r.SourceIndex is { } i ? $"{s}[{i}]" : s;
    }

    private static string Opt<T>(T? v) where T : struct, IFormattable => v is { } x ? x.ToString(null, CultureInfo.InvariantCulture) : "?";

    private static string Num(long n) => n.ToString(CultureInfo.InvariantCulture);

    private static string Time(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture);

    private static string Cut(string s, int max)
    {
        var flat = s.Replace('\n', ' ').Replace('\r', ' ');
        return flat.Length <= max ? flat : flat[..(max - 1)] + "…";
    }

    private static void WriteTable(List<string[]> rows, int[] rightAligned)
    {
        var widths = new int[rows[0].Length];
        foreach (var row in rows)
        {
            for (var i = 0; i < row.Length - 1; i++)
            {
                widths[i] = Math.Max(widths[i], row[i].Length);
            }
        }
        var sb = new StringBuilder();
        foreach (var row in rows)
        {
            sb.Clear();
            for (var i = 0; i < row.Length; i++)
            {
                if (i > 0)
                {
                    sb.Append("  ");
                }
                sb.Append(i == row.Length - 1 ? row[i] : Array.IndexOf(rightAligned, i) >= 0 ? row[i].PadLeft(widths[i]) : row[i].PadRight(widths[i]));
            }
            Console.WriteLine(sb.ToString().TrimEnd());
        }
    }

    private static void WriteJson(List<DlqRecord> records, Dictionary<(int, long), DateTimeOffset> replayed, int maxBytes, long matched)
    {
        using var stdout = Console.OpenStandardOutput();
        using (var w = new Utf8JsonWriter(stdout, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteNumber("matched", matched);
            w.WriteStartArray("records");
            foreach (var r in records)
            {
                w.WriteStartObject();
                w.WriteString("topic", r.Topic);
                w.WriteNumber("partition", r.Partition);
                w.WriteNumber("offset", r.Offset);
                w.WriteString("time", r.Time);
                w.WriteString("reason", r.Reason);
                w.WriteString("detail", r.Detail);
                w.WriteStartObject("source");
                w.WriteString("topic", r.SourceTopic);
                Nullable(w, "partition", r.SourcePartition);
                Nullable(w, "offset", r.SourceOffset);
                Nullable(w, "index", r.SourceIndex);
                w.WriteEndObject();
                if (r.ReplayedFrom is { } from)
                {
                    w.WriteString("replayed_from", from);
                }
                if (replayed.TryGetValue((r.Partition, r.Offset), out var at))
                {
                    w.WriteString("replayed_at", at);
                }
                Payload(w, "key", r.Key, maxBytes);
                Payload(w, "value", r.Value, maxBytes);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        stdout.WriteByte((byte)'\n');
    }

    // Text stays text (JSON-escaped by the writer); anything else is hex, so the output is always valid JSON.
    private static void Payload(Utf8JsonWriter w, string name, byte[]? bytes, int maxBytes)
    {
        if (bytes is null)
        {
            w.WriteNull(name);
            return;
        }
        w.WriteNumber(name + "_bytes", bytes.Length);
        w.WriteBoolean(name + "_truncated", bytes.Length > maxBytes);
        var take = bytes.AsSpan(0, Math.Min(bytes.Length, maxBytes));
        if (PayloadPreview.IsText(bytes))
        {
            while (take.Length > 0 && take.Length < bytes.Length && (bytes[take.Length] & 0xC0) == 0x80)
            {
                take = take[..^1];
            }
            w.WriteString(name, Encoding.UTF8.GetString(take));
        }
        else
        {
            w.WriteString(name + "_hex", Convert.ToHexString(take).ToLowerInvariant());
        }
    }

    private static void Nullable<T>(Utf8JsonWriter w, string name, T? value) where T : struct, IConvertible
    {
        if (value is { } v)
        {
            w.WriteNumber(name, v.ToInt64(CultureInfo.InvariantCulture));
        }
        else
        {
            w.WriteNull(name);
        }
    }

    /// <summary>The settings every dlq subcommand needs, bound and validated like the engine's.</summary>
    private sealed record Context(KafkaOptions Kafka, TopicNames Topics, StorageOptions Storage)
    {
        private bool _warned;

        public static Context Load(ParseResult parse)
        {
            var configuration = AppConfiguration.Build(parse);
            var ctx = new Context(
                AppConfiguration.Bind<KafkaOptions>(configuration, "Kafka"),
                AppConfiguration.Bind<TopicNames>(configuration, "Topics"),
                AppConfiguration.Bind<StorageOptions>(configuration, "Storage"));
            ctx.Kafka.Validate();
            ctx.Topics.Validate();
            return ctx;
        }

        /// <summary>"readings"/"alerts" or a topic name → (DLQ topic, its source topic by configuration).</summary>
        public (string Dlq, string? Source) Resolve(string name) => name switch
        {
            "readings" => (Topics.ReadingsDlq, Topics.Readings),
            "alerts" => (Topics.AlertsDlq, Topics.Alerts),
            _ when name == Topics.ReadingsDlq => (name, Topics.Readings),
            _ when name == Topics.AlertsDlq => (name, Topics.Alerts),
            _ => (name, null),
        };

        /// <summary>The replay ledger for the "replayed" columns; stats and inspect still work without the database.</summary>
        public NpgsqlDataSource? OpenLedgerOrWarn()
        {
            try
            {
                var cs = new NpgsqlConnectionStringBuilder(Storage.ConnectionString) { Timeout = 5 };
                return NpgsqlDataSource.Create(cs.ConnectionString);
            }
            catch (ArgumentException ex)
            {
                Console.Error.WriteLine($"smstream dlq: Storage:ConnectionString is not usable ({ex.Message}); replay status not shown");
                return null;
            }
        }

        /// <summary>Claims of <paramref name="dlq"/>'s records; null when the database cannot tell.</summary>
        public async Task<Dictionary<(int, long), DateTimeOffset>?> ReplayedAsync(NpgsqlDataSource? db, string dlq, CancellationToken ct)
        {
            if (db is null)
            {
                return null;
            }
            try
            {
                return await new ReplayLedger(db).ReplayedAsync(dlq, ct).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is NpgsqlException or StorageException or TimeoutException)
            {
                if (!_warned)
                {
                    _warned = true;
                    await Console.Error.WriteLineAsync($"smstream dlq: database unavailable ({ex.Message}); replay status not shown").ConfigureAwait(false);
                }
                return null;
            }
        }
    }
}
