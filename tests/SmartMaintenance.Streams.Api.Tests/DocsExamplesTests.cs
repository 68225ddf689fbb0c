using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using SmartMaintenance.Streams.Testing;
using Xunit;

namespace SmartMaintenance.Streams.Api.Tests;

/// <summary>Runs every ```sh example of docs/api.md with curl against the running API, in order, and checks each command
/// answered the status its <c># → N</c> line says.</summary>
[Collection(ApiCollection.Name)]
public sealed partial class DocsExamplesTests(ApiFixture fx)
{
    [Fact]
    public async Task Every_curl_example_in_docs_api_md_answers_as_documented()
    {
        var text = await File.ReadAllTextAsync(Path.Combine(RepositoryPaths.Root(), "docs", "api.md"));
        var blocks = Block().Matches(text).Select(m => m.Groups[1].Value).ToList();
        Assert.True(blocks.Count >= 10, $"only {blocks.Count} examples found");
        foreach (var block in blocks)
        {
            var expected = Expect().Matches(block).Select(m => m.Groups[1].Value).ToList();
            Assert.NotEmpty(expected);
            // Live state needs the engine to have consumed the reading ingested just before: retry a while.
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (true)
            {
                var (exit, output, error) = await RunAsync(block);
                var statuses = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
                if (exit == 0 && statuses.SequenceEqual(expected))
                {
                    break;
                }
                Assert.True(DateTime.UtcNow < deadline, $"example answered [{string.Join(",", statuses)}], documented [{string.Join(",", expected)}] (exit {exit} {error}):\n{block}");
                await Task.Delay(500);
            }
        }
    }

    private async Task<(int Exit, string Out, string Err)> RunAsync(string block)
    {
        var script = "set -e\ncurl() { command curl -s -o /dev/null -w '%{http_code}\\n' \"$@\"; }\n" + block;
        var psi = new ProcessStartInfo("bash", ["-c", script]) { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.Environment["API"] = fx.Main.Server.BaseAddress.ToString().TrimEnd('/');
        psi.Environment["VIEWER"] = fx.Keys["viewer"];
        psi.Environment["OPERATOR"] = fx.Keys["operator"];
        psi.Environment["ADMIN"] = fx.Keys["admin"];
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await stdout, await stderr);
    }

    [GeneratedRegex("```sh\\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex Block();

    [GeneratedRegex("^# → (\\d{3})$", RegexOptions.Multiline)]
    private static partial Regex Expect();
}
