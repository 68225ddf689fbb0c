using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
using Confluent.Kafka;

namespace SmartMaintenance.Streams.Kafka.Embedded;

/// <summary>
/// An in-process Kafka cluster for development and tests: librdkafka's mock cluster, reachable by any
/// Kafka client over TCP on fixed loopback ports (one forwarder per broker). See docs/embedded-broker.md.
/// </summary>
/// <remarks>
/// Limits of the mock: each partition keeps only the last 5 MiB or 100,000 record batches (older ones
/// are dropped: use lz4/zstd and enough partitions); nothing is persisted (a restart is empty);
/// transactions are accepted but not emulated; CreateTopics/DeleteTopics/DescribeConfigs/
/// CreatePartitions are unsupported (use <see cref="CreateTopic"/>); ListConsumerGroups crashes the caller.
/// </remarks>
public sealed class EmbeddedKafkaBroker : IAsyncDisposable, IDisposable
{
    private readonly Lock _gate = new();
    private readonly TcpForwarder[] _forwarders;
    private IntPtr _rk;
    private IntPtr _cluster;

    private EmbeddedKafkaBroker(IntPtr rk, IntPtr cluster, TcpForwarder[] forwarders, IPEndPoint[] mockEndpoints, string mockBootstrap, string host)
    {
        _rk = rk;
        _cluster = cluster;
        _forwarders = forwarders;
        MockBootstrapServers = mockBootstrap;
        BrokerCount = mockEndpoints.Length;
        if (forwarders.Length == 0)
        {
            Ports = Array.ConvertAll(mockEndpoints, e => e.Port);
            BootstrapServers = mockBootstrap;
            return;
        }
        var ports = Array.ConvertAll(forwarders, f => f.LocalEndPoint.Port);
        Ports = ports;
        BootstrapServers = string.Join(',', Array.ConvertAll(ports, p => $"{host}:{p.ToString(CultureInfo.InvariantCulture)}"));
    }

    /// <summary>The fixed addresses clients use, e.g. <c>127.0.0.1:19092,127.0.0.1:19093,127.0.0.1:19094</c>.</summary>
    public string BootstrapServers { get; }

    /// <summary>The mock brokers' own random ports. With forwarders on, metadata advertises the forwarders,
    /// so a client bootstrapping here still moves to them; start with <see cref="EmbeddedBrokerOptions.Forwarders"/>
    /// = false for a direct baseline.</summary>
    public string MockBootstrapServers { get; }

    /// <summary>Port clients reach broker id i+1 on (its forwarder's, or the mock's own without forwarders).</summary>
    public IReadOnlyList<int> Ports { get; }

    public int BrokerCount { get; }

    /// <summary>Bytes relayed by all forwarders so far, both directions.</summary>
    public long BytesForwarded
    {
        get
        {
            long total = 0;
            foreach (var f in _forwarders)
            {
                total += f.BytesForwarded;
            }
            return total;
        }
    }

    /// <summary>Starts the mock cluster, its forwarders and the configured topics.</summary>
    /// <exception cref="InvalidOperationException">librdkafka could not be loaded, or a port is taken.</exception>
    public static Task<EmbeddedKafkaBroker> StartAsync(EmbeddedBrokerOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        cancellationToken.ThrowIfCancellationRequested();
        // Native start-up blocks briefly (thread creation, listeners); keep it off the caller's context.
        return Task.Run(() => Start(options), cancellationToken);
    }

    private static unsafe EmbeddedKafkaBroker Start(EmbeddedBrokerOptions options)
    {
        try
        {
            LibRdKafka.EnsureLoaded();
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException)
        {
            throw new InvalidOperationException(
                "Embedded Kafka broker: cannot load librdkafka (from the librdkafka.redist package, runtimes/<rid>/native). " + ex.Message, ex);
        }

        var errstr = stackalloc byte[512];
        var conf = LibRdKafka.rd_kafka_conf_new();
        SetConf(conf, "log_level", options.LogLevel.ToString(CultureInfo.InvariantCulture), errstr);
        SetConf(conf, "client.id", "smstream-embedded-broker", errstr);
        var rk = LibRdKafka.rd_kafka_new(LibRdKafka.ProducerType, conf, errstr, 512);
        if (rk == IntPtr.Zero)
        {
            LibRdKafka.rd_kafka_conf_destroy(conf);
            throw new InvalidOperationException("Embedded Kafka broker: rd_kafka_new failed: " + Marshal.PtrToStringUTF8((IntPtr)errstr));
        }

        var cluster = LibRdKafka.rd_kafka_mock_cluster_new(rk, options.Brokers);
        if (cluster == IntPtr.Zero)
        {
            LibRdKafka.rd_kafka_destroy(rk);
            throw new InvalidOperationException("Embedded Kafka broker: rd_kafka_mock_cluster_new failed (see librdkafka log above)");
        }

        var forwarders = new List<TcpForwarder>(options.Brokers);
        try
        {
            // Without a controller AdminClient requests (metadata with controller, describe cluster) time out.
            LibRdKafka.rd_kafka_mock_set_controller_id(cluster, 1);
            LibRdKafka.rd_kafka_mock_group_initial_rebalance_delay_ms(cluster, options.InitialRebalanceDelayMs);

            // Broker i+1's listener is the i-th entry: the mock builds this list walking its brokers in id order.
            var mockBootstrap = Marshal.PtrToStringUTF8(LibRdKafka.rd_kafka_mock_cluster_bootstraps(cluster)) ?? "";
            var targets = ParseEndpoints(mockBootstrap);
            if (targets.Length != options.Brokers)
            {
                throw new InvalidOperationException($"Embedded Kafka broker: unexpected mock bootstrap list '{mockBootstrap}'");
            }

            var listenAddress = IPAddress.Parse(options.Host);
            for (var i = 0; options.Forwarders && i < targets.Length; i++)
            {
                var port = options.BasePort == 0 ? 0 : options.BasePort + i;
                forwarders.Add(TcpForwarder.Start(listenAddress, port, targets[i], options.ForwarderBufferBytes));
            }
            for (var i = 0; i < forwarders.Count; i++)
            {
                // Metadata responses now name the forwarders, so clients never see the random ports.
                LibRdKafka.rd_kafka_mock_broker_set_host_port(cluster, i + 1, options.Host, forwarders[i].LocalEndPoint.Port);
            }

            var broker = new EmbeddedKafkaBroker(rk, cluster, forwarders.ToArray(), targets, mockBootstrap, options.Host);
            foreach (var (name, partitions) in options.Topics)
            {
                broker.CreateTopic(name, partitions);
            }
            return broker;
        }
        catch
        {
            foreach (var f in forwarders)
            {
                f.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }
            LibRdKafka.rd_kafka_mock_cluster_destroy(cluster);
            LibRdKafka.rd_kafka_destroy(rk);
            throw;
        }
    }

    private static unsafe void SetConf(IntPtr conf, string name, string value, byte* errstr)
    {
        if (LibRdKafka.rd_kafka_conf_set(conf, name, value, errstr, 512) != LibRdKafka.ConfOk)
        {
            LibRdKafka.rd_kafka_conf_destroy(conf);
            throw new InvalidOperationException($"Embedded Kafka broker: {name}={value}: " + Marshal.PtrToStringUTF8((IntPtr)errstr));
        }
    }

    private static IPEndPoint[] ParseEndpoints(string bootstrap)
    {
        var parts = bootstrap.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var result = new IPEndPoint[parts.Length];
        for (var i = 0; i < parts.Length; i++)
        {
            var colon = parts[i].LastIndexOf(':');
            var host = parts[i][..colon];
            var address = host is "localhost" ? IPAddress.Loopback : IPAddress.Parse(host);
            result[i] = new IPEndPoint(address, int.Parse(parts[i].AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture));
        }
        return result;
    }

    /// <summary>Creates a topic (the mock does not implement the CreateTopics admin request).</summary>
    /// <exception cref="KafkaException">With <see cref="ErrorCode.TopicAlreadyExists"/> if it exists.</exception>
    public void CreateTopic(string name, int partitions, int replicationFactor = 0)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentOutOfRangeException.ThrowIfLessThan(partitions, 1);
        var rf = replicationFactor > 0 ? Math.Min(replicationFactor, BrokerCount) : Math.Min(3, BrokerCount);
        var err = (ErrorCode)LibRdKafka.rd_kafka_mock_topic_create(Cluster(), name, partitions, rf);
        if (err != ErrorCode.NoError)
        {
            throw new KafkaException(err);
        }
    }

    /// <summary>The next <paramref name="errors"/>.Length requests with this API key (e.g. 0 = Produce,
    /// 1 = Fetch, 8 = OffsetCommit) fail with these errors, in order. <see cref="ErrorCode.Local_Transport"/>
    /// makes the broker drop the connection instead.</summary>
    public unsafe void PushRequestErrors(short apiKey, params ErrorCode[] errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        if (errors.Length == 0)
        {
            return;
        }
        var codes = new int[errors.Length];
        for (var i = 0; i < errors.Length; i++)
        {
            codes[i] = (int)errors[i];
        }
        fixed (int* p = codes)
        {
            LibRdKafka.rd_kafka_mock_push_request_errors_array(Cluster(), apiKey, (nuint)codes.Length, p);
        }
    }

    /// <summary>Forgets errors pushed for <paramref name="apiKey"/> that have not fired yet.</summary>
    public void ClearRequestErrors(short apiKey) => LibRdKafka.rd_kafka_mock_clear_request_errors(Cluster(), apiKey);

    /// <summary>Disconnects broker <paramref name="brokerId"/> (1..N) and refuses new connections.
    /// Leadership does not move: its partitions are unavailable until <see cref="SetBrokerUp"/>.</summary>
    public void SetBrokerDown(int brokerId)
    {
        CheckBrokerId(brokerId);
        Check(LibRdKafka.rd_kafka_mock_broker_set_down(Cluster(), brokerId));
        if (_forwarders.Length > 0)
        {
            _forwarders[brokerId - 1].CloseConnections();
        }
    }

    public void SetBrokerUp(int brokerId)
    {
        CheckBrokerId(brokerId);
        Check(LibRdKafka.rd_kafka_mock_broker_set_up(Cluster(), brokerId));
    }

    /// <summary>Delays every response of broker <paramref name="brokerId"/> (-1: all) by <paramref name="rttMs"/>.</summary>
    public void SetBrokerRtt(int brokerId, int rttMs)
    {
        if (brokerId != -1)
        {
            CheckBrokerId(brokerId);
        }
        ArgumentOutOfRangeException.ThrowIfNegative(rttMs);
        Check(LibRdKafka.rd_kafka_mock_broker_set_rtt(Cluster(), brokerId, rttMs));
    }

    private void CheckBrokerId(int brokerId) => ArgumentOutOfRangeException.ThrowIfGreaterThan((uint)(brokerId - 1), (uint)(BrokerCount - 1), nameof(brokerId));

    private static void Check(int err)
    {
        if (err != 0)
        {
            throw new KafkaException((ErrorCode)err);
        }
    }

    private IntPtr Cluster()
    {
        var c = _cluster;
        ObjectDisposedException.ThrowIf(c == IntPtr.Zero, this);
        return c;
    }

    public async ValueTask DisposeAsync()
    {
        IntPtr cluster, rk;
        lock (_gate)
        {
            cluster = _cluster;
            rk = _rk;
            _cluster = IntPtr.Zero;
            _rk = IntPtr.Zero;
        }
        if (cluster == IntPtr.Zero)
        {
            return;
        }
        foreach (var f in _forwarders)
        {
            await f.DisposeAsync().ConfigureAwait(false);
        }
        // Native teardown joins the mock thread; run it off the caller's thread.
        await Task.Run(() =>
        {
            LibRdKafka.rd_kafka_mock_cluster_destroy(cluster);
            LibRdKafka.rd_kafka_destroy(rk);
        }).ConfigureAwait(false);
    }

    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();
}
