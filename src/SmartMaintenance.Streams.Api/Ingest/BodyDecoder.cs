using Microsoft.AspNetCore.Http;
using SmartMaintenance.Streams.Api.Http;
using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Ingest;

namespace SmartMaintenance.Streams.Api.Ingest;

/// <summary>Decodes a request body with the engine's own <see cref="ReadingDecoder"/> (same validation, same sensor
/// registry) and turns its rejections into one problem document: the DLQ reason codes, each naming the field.</summary>
public sealed class BodyDecoder
{
    private readonly ReadingDecoder _decoder;
    private readonly Lock _lock = new();

    public BodyDecoder(ValidationOptions validation, SensorOverrides overrides)
    {
        _decoder = new ReadingDecoder(validation) { Overrides = overrides };
    }

    /// <summary>One problem entry per rejected reading.</summary>
    public sealed record ReadingError(int? Index, string Reason, string Field, string Detail);

    public static async Task<byte[]> ReadBodyAsync(HttpRequest request, int maxBytes)
    {
        ArgumentNullException.ThrowIfNull(request);
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int n;
        while ((n = await request.Body.ReadAsync(chunk, request.HttpContext.RequestAborted)) > 0)
        {
            if (buffer.Length + n > maxBytes)
            {
                throw new ApiProblem(StatusCodes.Status413PayloadTooLarge, "Payload too large", $"body exceeds Api:MaxBodyBytes={maxBytes}", "body");
            }
            buffer.Write(chunk, 0, n);
        }
        return buffer.ToArray();
    }

    /// <summary>The valid readings; throws a 400 (413 for too_large) problem when anything was rejected.</summary>
    public (List<SensorReading> Readings, bool Envelope) Decode(byte[] body)
    {
        var readings = new List<SensorReading>();
        var rejects = new List<Rejection>();
        bool envelope;
        lock (_lock)
        {
            _decoder.Decode(body, SourcePosition.None, readings, rejects);
            envelope = _decoder.LastWasEnvelope;
        }
        if (rejects.Count == 0 && readings.Count == 0)
        {
            throw ApiProblem.BadField("readings", "no readings in the body");
        }
        if (rejects.Count > 0)
        {
            var errors = new ReadingError[rejects.Count];
            for (var i = 0; i < errors.Length; i++)
            {
                var r = rejects[i];
                var field = FieldOf(r.Reason, r.Detail);
                errors[i] = new ReadingError(r.IsWholeMessage ? null : r.Index, r.Reason.ToCode(), envelope && !r.IsWholeMessage ? $"readings[{r.Index}].{field}" : field, r.Detail);
            }
            var first = errors[0];
            var status = rejects[0].Reason == RejectReason.TooLarge ? StatusCodes.Status413PayloadTooLarge : StatusCodes.Status400BadRequest;
            throw new ApiProblem(status, "Rejected reading", $"{first.Reason}: {first.Detail}", first.Field,
                new Dictionary<string, object?> { ["reason"] = first.Reason, ["errors"] = errors });
        }
        return (readings, envelope);
    }

    private static string FieldOf(RejectReason reason, string detail) => reason switch
    {
        RejectReason.NonFiniteValue or RejectReason.OutOfRange when detail.StartsWith("quality", StringComparison.Ordinal) => "quality",
        RejectReason.NonFiniteValue or RejectReason.OutOfRange => "value",
        RejectReason.FutureTimestamp or RejectReason.PastTimestamp => "ts",
        RejectReason.TooManyReadings => "readings",
        RejectReason.MissingField => FirstWordAfterColon(detail),
        RejectReason.InvalidField => FirstWord(detail),
        _ => "body",
    };

    private static string FirstWord(string detail)
    {
        var space = detail.IndexOf(' ', StringComparison.Ordinal);
        var word = space < 0 ? detail : detail[..space];
        return word.Length is > 0 and < 40 && word.All(c => char.IsAsciiLetterLower(c) || c == '_') ? word : "body";
    }

    private static string FirstWordAfterColon(string detail)
    {
        var colon = detail.IndexOf(':', StringComparison.Ordinal);
        return colon < 0 ? "body" : FirstWord(detail[(colon + 1)..].TrimStart());
    }
}
