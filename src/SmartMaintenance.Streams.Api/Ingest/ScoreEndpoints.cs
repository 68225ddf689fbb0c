using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using SmartMaintenance.Streams.Api.Security;
using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Scoring;
using SmartMaintenance.Streams.Scoring.Detectors;

namespace SmartMaintenance.Streams.Api.Ingest;

/// <summary>POST /api/v1/score: readings in, detector scores out, with no side effect (a fresh detector pipeline per
/// request, configured as the engine's; nothing produced or stored).</summary>
public static class ScoreEndpoints
{
    /// <summary>Scores of one reading: the ensemble's output, whether it fired, and each detector's score in [0,1].</summary>
    public sealed record ReadingScore(string SensorId, DateTimeOffset Ts, double Value, double Score, bool Fired, string? Detector, int? Severity,
        IReadOnlyDictionary<string, double> Detectors);

    /// <summary>The answer: one entry per reading, in order.</summary>
    public sealed record ScoreResult(IReadOnlyList<ReadingScore> Scores, int Fired);

    public static void Map(RouteGroupBuilder api)
    {
        ArgumentNullException.ThrowIfNull(api);
        api.MapPost("/score", ScoreAsync).RequireAuthorization(Roles.Operate).WithTags("Score").WithName("Score")
            .WithSummary("Score a reading or an envelope of readings (in order, per sensor) with the engine's detectors; nothing is stored or produced.")
            .Accepts<System.Text.Json.JsonElement>("application/json").Produces<ScoreResult>();
    }

    private static async Task<IResult> ScoreAsync(HttpContext http, ApiServices s, BodyDecoder decoder)
    {
        var body = await BodyDecoder.ReadBodyAsync(http.Request, s.Options.MaxBodyBytes);
        var (readings, _) = decoder.Decode(body);
        var pipeline = new DetectorPipeline(s.Scoring);
        var scores = new List<ReadingScore>(readings.Count);
        var fired = 0;
        foreach (var r in readings)
        {
            var output = pipeline.Score(r, out var result, out var anomaly);
            fired += result.Fired ? 1 : 0;
            scores.Add(new ReadingScore(r.SensorId, r.Time, r.Value, Finite(output), result.Fired, anomaly?.Detector, anomaly?.Severity, Detectors(result)));
        }
        return Results.Ok(new ScoreResult(scores, fired));
    }

    private static Dictionary<string, double> Detectors(in EnsembleResult r) => new(StringComparer.Ordinal)
    {
        ["level"] = Finite(r.Level.Score),
        ["spike"] = Finite(r.Spike.Score),
        ["shift"] = Finite(r.Shift.Score),
        ["flatline"] = Finite(r.Flatline.Score),
        ["context"] = Finite(r.Context.Score),
        ["slow_context"] = Finite(r.SlowContext.Score),
        ["range"] = Finite(r.Range.Score),
        ["seasonal"] = Finite(r.Seasonal.Score),
    };

    private static double Finite(double v) => double.IsFinite(v) ? v : 0;
}
