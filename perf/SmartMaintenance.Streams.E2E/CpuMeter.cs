using System.Globalization;

namespace SmartMaintenance.Streams.E2E;

/// <summary>
/// CPU time (user + system) of every process a stage runs on: this process (split into the engine's consume thread,
/// librdkafka's threads and the rest), the throwaway PostgreSQL cluster (postmaster, live backends and the children it
/// reaped) and the broker process. On this shared 2-core box wall-clock rates move ±30 % with other people's load,
/// while CPU time per reading moves far less: it says what a stage costs, not how much CPU it happened to get.
/// </summary>
internal sealed class CpuMeter(string? pgDataDirectory, int? brokerPid)
{
    private static readonly double TickSeconds = 1.0 / 100; // USER_HZ on Linux

    /// <summary>CPU seconds per component at one instant; <paramref name="Threads"/> holds each thread's (by tid), so a
    /// thread that ends between two samples (a retiring thread-pool worker) drops out instead of counting negative.</summary>
    public readonly record struct Sample(double Process, double Postgres, double Broker, Dictionary<string, (string Comm, double Cpu)>? Threads,
        Dictionary<int, (PgKind Kind, double Cpu)>? PgProcesses);

    /// <summary>What a PostgreSQL child process is, from its title (<c>postgres: walwriter</c>, <c>postgres: user db host(port) idle</c>).</summary>
    public enum PgKind
    {
        Backend,
        Background,
        Autovacuum,
    }

    public Sample Take()
    {
        var threads = new Dictionary<string, (string Comm, double Cpu)>(StringComparer.Ordinal);
        foreach (var task in Directory.EnumerateDirectories("/proc/self/task"))
        {
            threads[Path.GetFileName(task)] = ReadStat(Path.Combine(task, "stat"));
        }
        var pg = new Dictionary<int, (PgKind Kind, double Cpu)>();
        return new Sample(ReadStat("/proc/self/stat").Cpu, Postgres(pg), brokerPid is { } b ? ReadStat($"/proc/{b}/stat").Cpu : 0, threads, pg);
    }

    /// <summary>The difference as µs per reading, as `key=value` pairs for a RESULT line.</summary>
    public static string PerReading(Sample from, Sample to, long readings)
    {
        double Us(double seconds) => seconds * 1e6 / Math.Max(1, readings);
        var process = to.Process - from.Process;
        double consume = 0, kafka = 0, jit = 0, pool = 0;
        foreach (var (tid, (comm, cpu)) in to.Threads ?? [])
        {
            var used = cpu - (from.Threads is { } before && before.TryGetValue(tid, out var b) ? b.Cpu : 0);
            // Thread names as the kernel keeps them (15 characters).
            if (comm.StartsWith("smstream-consum", StringComparison.Ordinal))
            {
                consume += used;
            }
            else if (comm.StartsWith("rdk:", StringComparison.Ordinal))
            {
                kafka += used;
            }
            else if (comm.StartsWith(".NET Tiered", StringComparison.Ordinal))
            {
                // The tiered JIT's background thread: start-up work that a long-running engine no longer pays.
                jit += used;
            }
            else if (comm.StartsWith(".NET TP Worker", StringComparison.Ordinal))
            {
                // Thread-pool workers: the engine's writer (COPY encoding, Npgsql) and any spinning between work items.
                pool += used;
            }
        }
        var pg = to.Postgres - from.Postgres;
        // PostgreSQL split by process: client backends (the COPYs and the sink's statements), background processes
        // (walwriter, background writer, checkpointer, launchers) and the rest: autovacuum workers, live or reaped.
        double backends = 0, background = 0;
        foreach (var (pid, (kind, cpu)) in to.PgProcesses ?? [])
        {
            var used = cpu - (from.PgProcesses is { } before && before.TryGetValue(pid, out var b) ? b.Cpu : 0);
            if (kind == PgKind.Backend)
            {
                backends += used;
            }
            else if (kind == PgKind.Background)
            {
                background += used;
            }
        }
        var broker = to.Broker - from.Broker;
        return string.Create(CultureInfo.InvariantCulture,
            $"cpu_us={Us(process + pg + broker):F2} cpu_process_us={Us(process):F2} cpu_consume_us={Us(consume):F2} cpu_rdkafka_us={Us(kafka):F2} cpu_other_us={Us(process - consume - kafka):F2} cpu_jit_us={Us(jit):F2} cpu_pool_us={Us(pool):F2} cpu_pg_us={Us(pg):F2} cpu_pg_backends_us={Us(backends):F2} cpu_pg_background_us={Us(background):F2} cpu_pg_autovacuum_us={Us(pg - backends - background):F2} cpu_broker_us={Us(broker):F2}");
    }

    private double Postgres(Dictionary<int, (PgKind Kind, double Cpu)> processes)
    {
        if (PostgresProcesses.Postmaster(pgDataDirectory) is not { } postmaster)
        {
            return 0;
        }
        // Reaped backends are in the postmaster's children time; live ones are read one by one.
        var total = ReadStat($"/proc/{postmaster}/stat", includeChildren: true).Cpu;
        foreach (var (pid, fields, dir) in PostgresProcesses.Children(postmaster))
        {
            try
            {
                var cpu = (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) * TickSeconds;
                total += cpu;
                processes[pid] = (Kind(File.ReadAllText(Path.Combine(dir, "cmdline"))), cpu);
            }
            catch (IOException)
            {
                // The process ended while we looked.
            }
        }
        return total;
    }

    private static PgKind Kind(string title)
    {
        if (title.StartsWith("postgres: autovacuum worker", StringComparison.Ordinal))
        {
            return PgKind.Autovacuum;
        }
        // Client backends are titled "postgres: <user> <database> <host>(<port>) <state>".
        return title.StartsWith("postgres: walwriter", StringComparison.Ordinal) || title.StartsWith("postgres: checkpointer", StringComparison.Ordinal)
            || title.StartsWith("postgres: background writer", StringComparison.Ordinal) || title.StartsWith("postgres: autovacuum launcher", StringComparison.Ordinal)
            || title.StartsWith("postgres: logical replication launcher", StringComparison.Ordinal) || title.StartsWith("postgres: archiver", StringComparison.Ordinal)
            ? PgKind.Background
            : PgKind.Backend;
    }

    private static (string Comm, double Cpu) ReadStat(string path, bool includeChildren = false)
    {
        try
        {
            var stat = File.ReadAllText(path);
            var open = stat.IndexOf('(', StringComparison.Ordinal);
            var close = stat.LastIndexOf(')');
            var fields = stat[(close + 2)..].Split(' ');
            // After the command: state(0) ppid(1) … utime(11) stime(12) cutime(13) cstime(14)
            var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            if (includeChildren)
            {
                ticks += long.Parse(fields[13], CultureInfo.InvariantCulture) + long.Parse(fields[14], CultureInfo.InvariantCulture);
            }
            return (stat[(open + 1)..close], ticks * TickSeconds);
        }
        catch (IOException)
        {
            return ("", 0);
        }
    }
}
