using Microsoft.AspNetCore.Builder;

namespace SmartMaintenance.Streams.Observability;

/// <summary>More endpoints on a component's HTTP host (the operator API beside /metrics and /health).</summary>
public interface IHttpModule
{
    /// <summary>Registers services before the host is built.</summary>
    void ConfigureServices(WebApplicationBuilder builder);

    /// <summary>Adds middleware and endpoints after the host is built, before it starts.</summary>
    void Configure(WebApplication app);
}
