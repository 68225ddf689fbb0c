using System.Reflection;
using System.Runtime.InteropServices;

namespace SmartMaintenance.Streams.Kafka.Embedded;

/// <summary>P/Invoke surface of librdkafka's mock cluster (rdkafka_mock.h) plus the few core calls it needs.</summary>
/// <remarks>
/// The mock API is experimental and outside librdkafka's ABI guarantees; signatures here match
/// librdkafka.redist 2.16.0, which Confluent.Kafka 2.16.0 ships. Varargs functions are avoided
/// (their calling convention differs per platform): errors are pushed with the <c>_array</c> variant.
/// </remarks>
internal static unsafe partial class LibRdKafka
{
    private const string Lib = "librdkafka";

    static LibRdKafka() => NativeLibrary.SetDllImportResolver(typeof(LibRdKafka).Assembly, Resolve);

    /// <summary>Forces the resolver to be installed and the library loaded; throws with the reason if it cannot be.</summary>
    public static void EnsureLoaded()
    {
        var version = Marshal.PtrToStringUTF8(rd_kafka_version_str()) ?? "?";
        if (string.IsNullOrEmpty(version))
        {
            throw new DllNotFoundException("librdkafka loaded but reported no version");
        }
    }

    // Debian 12 lacks libsasl2.so.3, which the package's default linux build links against; its
    // centos8 build does not, so try that next (Confluent.Kafka's own loader does the same).
    private static IntPtr Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath)
    {
        if (libraryName != Lib)
        {
            return IntPtr.Zero;
        }
        if (NativeLibrary.TryLoad(libraryName, assembly, searchPath, out var handle))
        {
            return handle;
        }
        foreach (var candidate in Candidates())
        {
            if (File.Exists(candidate) && NativeLibrary.TryLoad(candidate, out handle))
            {
                return handle;
            }
        }
        return IntPtr.Zero;
    }

    private static IEnumerable<string> Candidates()
    {
        var arch = RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? "arm64" : "x64";
        var dirs = new List<string> { AppContext.BaseDirectory };
        var confluentDir = Path.GetDirectoryName(typeof(Confluent.Kafka.Library).Assembly.Location);
        if (!string.IsNullOrEmpty(confluentDir))
        {
            dirs.Add(confluentDir);
        }
        foreach (var dir in dirs)
        {
            yield return Path.Combine(dir, "runtimes", $"linux-{arch}", "native", "centos8-librdkafka.so");
            yield return Path.Combine(dir, "centos8-librdkafka.so");
            yield return Path.Combine(dir, "runtimes", $"linux-{arch}", "native", "librdkafka.so");
            yield return Path.Combine(dir, "librdkafka.so");
        }
    }

    public const int ProducerType = 0;
    public const int ConfOk = 0;

    [LibraryImport(Lib)] public static partial IntPtr rd_kafka_version_str();
    [LibraryImport(Lib)] public static partial IntPtr rd_kafka_conf_new();
    [LibraryImport(Lib)] public static partial void rd_kafka_conf_destroy(IntPtr conf);

    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int rd_kafka_conf_set(IntPtr conf, string name, string value, byte* errstr, nuint errstrSize);

    [LibraryImport(Lib)] public static partial IntPtr rd_kafka_new(int type, IntPtr conf, byte* errstr, nuint errstrSize);
    [LibraryImport(Lib)] public static partial void rd_kafka_destroy(IntPtr rk);

    [LibraryImport(Lib)] public static partial IntPtr rd_kafka_mock_cluster_new(IntPtr rk, int brokerCount);
    [LibraryImport(Lib)] public static partial void rd_kafka_mock_cluster_destroy(IntPtr cluster);
    [LibraryImport(Lib)] public static partial IntPtr rd_kafka_mock_cluster_bootstraps(IntPtr cluster);
    [LibraryImport(Lib)] public static partial void rd_kafka_mock_set_controller_id(IntPtr cluster, int brokerId);
    [LibraryImport(Lib)] public static partial void rd_kafka_mock_group_initial_rebalance_delay_ms(IntPtr cluster, int delayMs);

    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    public static partial void rd_kafka_mock_broker_set_host_port(IntPtr cluster, int brokerId, string host, int port);

    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int rd_kafka_mock_topic_create(IntPtr cluster, string topic, int partitionCount, int replicationFactor);

    [LibraryImport(Lib)] public static partial void rd_kafka_mock_push_request_errors_array(IntPtr cluster, short apiKey, nuint count, int* errors);
    [LibraryImport(Lib)] public static partial void rd_kafka_mock_clear_request_errors(IntPtr cluster, short apiKey);
    [LibraryImport(Lib)] public static partial int rd_kafka_mock_broker_set_down(IntPtr cluster, int brokerId);
    [LibraryImport(Lib)] public static partial int rd_kafka_mock_broker_set_up(IntPtr cluster, int brokerId);
    [LibraryImport(Lib)] public static partial int rd_kafka_mock_broker_set_rtt(IntPtr cluster, int brokerId, int rttMs);
}
