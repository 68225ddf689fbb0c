using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace SmartMaintenance.Streams.Cli.Hosting;

internal static class Logging
{
    /// <summary>Console logging configured from the "Logging" section (default: Information).</summary>
    public static ILoggerFactory Create(IConfiguration configuration) =>
        LoggerFactory.Create(b => b
            .AddConfiguration(configuration.GetSection("Logging"))
            .SetMinimumLevel(LogLevel.Information)
            .AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.TimestampFormat = "HH:mm:ss.fff ";
                o.UseUtcTimestamp = true;
            }));
}
