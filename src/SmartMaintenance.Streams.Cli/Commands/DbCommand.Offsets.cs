using System.CommandLine;
using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Engine;
using SmartMaintenance.Streams.Kafka;

namespace SmartMaintenance.Streams.Cli.Commands;

/// <summary><c>smstream db offsets reset</c>: moves a group's offsets of record, the way out of stale stored offsets.</summary>
internal static partial class DbCommand
{
    private static Command Offsets()
    {
        var database = DatabaseOption();
        var bootstrap = new Option<string>("--bootstrap") { Description = "Kafka bootstrap servers.", DefaultValueFactory = _ => "127.0.0.1:19092" };
        var group = new Option<string>("--group") { Description = "Consumer group whose offsets of record move.", DefaultValueFactory = _ => Topics.EngineGroup };
        var topic = new Option<string>("--topic") { Description = "Topic.", DefaultValueFactory = _ => Topics.Readings };
        var to = new Option<string>("--to") { Description = "earliest, latest, or an RFC 3339 time (the first record at or after it).", Required = true };
        var dryRun = new Option<bool>("--dry-run") { Description = "Show the moves without writing them." };
        var reset = new Command("reset", "Move the stored offsets of record (stream_offsets) of a group on a topic to its start, end or a time; stop the group's engines first.");
        foreach (var o in new Option[] { database, bootstrap, group, topic, to, dryRun })
        {
            reset.Options.Add(o);
        }
        reset.SetAction(async (parse, ct) =>
        {
            var cs = ConnectionString(parse.GetValue(database));
            var (g, t, target) = (parse.GetValue(group)!, parse.GetValue(topic)!, parse.GetValue(to)!);
            List<OffsetReset.Move> moves;
            try
            {
                moves = await OffsetReset.PlanAsync(cs, g, t, new KafkaOptions { BootstrapServers = parse.GetValue(bootstrap)! }, target, ct).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or Npgsql.NpgsqlException)
            {
                await Console.Error.WriteLineAsync($"smstream db offsets reset: {ex.Message}").ConfigureAwait(false);
                return 2;
            }
            foreach (var m in moves)
            {
                await Console.Out.WriteLineAsync($"{t}[{m.Partition}]: {(m.From is { } f ? f.ToString(System.Globalization.CultureInfo.InvariantCulture) : "none")} -> {(m.To is { } n ? n.ToString(System.Globalization.CultureInfo.InvariantCulture) : "removed")}").ConfigureAwait(false);
            }
            if (parse.GetValue(dryRun))
            {
                await Console.Out.WriteLineAsync("dry run: nothing written").ConfigureAwait(false);
                return 0;
            }
            await OffsetReset.ApplyAsync(cs, g, t, moves, ct).ConfigureAwait(false);
            await Console.Out.WriteLineAsync($"offsets of group '{g}' on '{t}' reset to {target}").ConfigureAwait(false);
            return 0;
        });
        var cmd = new Command("offsets", "Stored offsets of record.");
        cmd.Subcommands.Add(reset);
        return cmd;
    }
}
