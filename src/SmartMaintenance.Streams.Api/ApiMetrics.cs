using Prometheus;

namespace SmartMaintenance.Streams.Api;

/// <summary>Metrics of the operator API (request counts and latency come from the host; these are its effects).</summary>
public static class ApiMetrics
{
    public static readonly Counter Ingested = Metrics.CreateCounter(
        "smstream_api_ingested_readings_total", "Readings accepted by POST /api/v1/readings and acknowledged by the broker.");

    public static readonly Counter Forwarded = Metrics.CreateCounter(
        "smstream_api_state_forwarded_total", "Live-state queries forwarded to the instance owning the sensor's partition.");
}
