using System.Runtime.InteropServices;

namespace SmartMaintenance.Streams.Cli.Hosting;

/// <summary>Turns Ctrl-C and SIGTERM into a cancellation, so every command stops gracefully.</summary>
internal sealed class Shutdown : IDisposable
{
    private readonly CancellationTokenSource _cts;
    private readonly PosixSignalRegistration _sigterm;
    private readonly PosixSignalRegistration _sigint;

    public Shutdown(CancellationToken linked)
    {
        _cts = CancellationTokenSource.CreateLinkedTokenSource(linked);
        _sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Handle);
        _sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Handle);
    }

    public CancellationToken Token => _cts.Token;

    private void Handle(PosixSignalContext context)
    {
        context.Cancel = true;
        _cts.Cancel();
    }

    public void Dispose()
    {
        _sigterm.Dispose();
        _sigint.Dispose();
        _cts.Dispose();
    }
}
