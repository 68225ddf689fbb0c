using BenchmarkDotNet.Running;

namespace SmartMaintenance.Streams.Benchmarks;

internal static class Program
{
    // `dotnet run -c Release --project perf/SmartMaintenance.Streams.Benchmarks -- --filter '*'`
    private static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
