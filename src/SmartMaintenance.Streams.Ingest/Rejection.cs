using SmartMaintenance.Streams.Contracts;

namespace SmartMaintenance.Streams.Ingest;

/// <summary>A rejected message, or one rejected reading inside a batch envelope.</summary>
/// <param name="Index">-1 when the whole message is rejected; else the reading's index in the envelope.</param>
/// <param name="Start">Start of the rejected bytes in the message value (0 for a whole message).</param>
/// <param name="Length">Length of the rejected bytes; the DLQ record carries exactly these bytes.</param>
public readonly record struct Rejection(RejectReason Reason, string Detail, int Index, int Start, int Length)
{
    public bool IsWholeMessage => Index < 0;
}
