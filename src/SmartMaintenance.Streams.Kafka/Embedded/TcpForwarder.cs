using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace SmartMaintenance.Streams.Kafka.Embedded;

/// <summary>
/// Listens on a fixed loopback port and relays every accepted connection, byte for byte, to one
/// mock broker's (random) port. All client traffic passes through here, so each direction is one
/// async receive/send loop over a large pooled buffer with Nagle off on both legs.
/// </summary>
internal sealed class TcpForwarder : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly IPEndPoint _target;
    private readonly int _bufferSize;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<Connection, byte> _connections = new();
    private readonly Task _acceptLoop;

    private TcpForwarder(Socket listener, IPEndPoint target, int bufferSize)
    {
        _listener = listener;
        _target = target;
        _bufferSize = bufferSize;
        _acceptLoop = Task.Run(AcceptLoopAsync);
    }

    public IPEndPoint LocalEndPoint => (IPEndPoint)_listener.LocalEndPoint!;

    /// <summary>Total bytes relayed in both directions since start (diagnostics).</summary>
    public long BytesForwarded => Interlocked.Read(ref _bytes);

    private long _bytes;

    public static TcpForwarder Start(IPAddress listenAddress, int listenPort, IPEndPoint target, int bufferSize)
    {
        var listener = new Socket(listenAddress.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            listener.Bind(new IPEndPoint(listenAddress, listenPort));
            listener.Listen(512);
        }
        catch (SocketException ex)
        {
            listener.Dispose();
            throw new InvalidOperationException(
                $"Embedded Kafka broker: cannot listen on {listenAddress}:{listenPort} ({ex.SocketErrorCode}: {ex.Message}). Is another broker running? Choose another base port.", ex);
        }
        return new TcpForwarder(listener, target, bufferSize);
    }

    private async Task AcceptLoopAsync()
    {
        var ct = _stop.Token;
        while (!ct.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptAsync(ct).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                if (ct.IsCancellationRequested)
                {
                    return;
                }
                // E.g. out of file descriptors: back off instead of spinning.
                await Task.Delay(10, CancellationToken.None).ConfigureAwait(false);
                continue;
            }
            _ = HandleAsync(client, ct);
        }
    }

    private async Task HandleAsync(Socket client, CancellationToken ct)
    {
        var upstream = new Socket(_target.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        var connection = new Connection(client, upstream);
        _connections.TryAdd(connection, 0);
        try
        {
            client.NoDelay = true;
            upstream.NoDelay = true;
            await upstream.ConnectAsync(_target, ct).ConfigureAwait(false);
            var up = PumpAsync(client, upstream, ct);
            var down = PumpAsync(upstream, client, ct);
            // Either side closing ends the pair: Kafka connections are request/response, never half-open.
            await Task.WhenAny(up, down).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // Broker down (connection refused) or shutting down: the client sees a closed connection and retries.
        }
        finally
        {
            connection.Close();
            _connections.TryRemove(connection, out _);
        }
    }

    private async Task PumpAsync(Socket from, Socket to, CancellationToken ct)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(_bufferSize);
        try
        {
            while (true)
            {
                var read = await from.ReceiveAsync(buffer.AsMemory(), SocketFlags.None, ct).ConfigureAwait(false);
                if (read == 0)
                {
                    return;
                }
                var sent = 0;
                while (sent < read)
                {
                    sent += await to.SendAsync(buffer.AsMemory(sent, read - sent), SocketFlags.None, ct).ConfigureAwait(false);
                }
                Interlocked.Add(ref _bytes, read);
            }
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // Peer reset or shutdown; the caller closes both sockets.
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Drops all relayed connections (clients reconnect); the listener stays.</summary>
    public void CloseConnections()
    {
        foreach (var c in _connections.Keys)
        {
            c.Close();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _listener.Dispose();
        CloseConnections();
        try
        {
            await _acceptLoop.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        _stop.Dispose();
    }

    private sealed class Connection(Socket client, Socket upstream)
    {
        private int _closed;

        public void Close()
        {
            if (Interlocked.Exchange(ref _closed, 1) != 0)
            {
                return;
            }
            Shut(client);
            Shut(upstream);
        }

        private static void Shut(Socket s)
        {
            try
            {
                if (s.Connected)
                {
                    s.Shutdown(SocketShutdown.Both);
                }
            }
            catch (SocketException)
            {
            }
            catch (ObjectDisposedException)
            {
            }
            s.Dispose();
        }
    }
}
