using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace SmartMaintenance.Streams.Observability.Tests;

/// <summary>
/// deploy/ as Kubernetes would receive it: each kustomization rendered by <c>kubectl kustomize</c> and schema-checked
/// by deploy/validate (npm packages from its lockfile, installed on first use), plus the environment variables the
/// configuration reference (docs/configuration.md) documents.
/// </summary>
internal static partial class DeployManifests
{
    private static readonly SemaphoreSlim s_install = new(1, 1);

    public static string ValidatorDirectory => Repo.PathOf("deploy", "validate");

    /// <summary>Runs the validator with <paramref name="args"/>; installs its packages first when they are missing.</summary>
    public static async Task<(int ExitCode, string Stdout, string Stderr)> ValidateAsync(string[] args, string? stdin = null)
    {
        Tools.Require("kubectl", "kubectl");
        var node = Tools.Require("node", "node");
        await s_install.WaitAsync();
        try
        {
            if (!Directory.Exists(Path.Combine(ValidatorDirectory, "node_modules")))
            {
                var npm = Tools.Require("npm", "node");
                var install = await Tools.RunAsync(npm, ["ci", "--no-audit", "--no-fund"], ValidatorDirectory, TimeSpan.FromMinutes(5));
                if (install.ExitCode != 0)
                {
                    throw new InvalidOperationException("npm ci in deploy/validate failed:\n" + install.Output);
                }
            }
        }
        finally
        {
            s_install.Release();
        }

        var psi = new ProcessStartInfo(node)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = Repo.Root,
        };
        psi.ArgumentList.Add(Path.Combine(ValidatorDirectory, "validate.mjs"));
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        using var process = Process.Start(psi) ?? throw new InvalidOperationException("cannot start node");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.StandardInput.WriteAsync(stdin ?? "");
        process.StandardInput.Close();
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(cts.Token);
        return (process.ExitCode, await stdout, await stderr);
    }

    /// <summary>Every object of every kustomization, by kustomization (base, overlays/production, migrate).</summary>
    public static Task<Dictionary<string, List<JsonElement>>> RenderAsync() => s_rendered.Value;

    private static readonly Lazy<Task<Dictionary<string, List<JsonElement>>>> s_rendered = new(RenderOnceAsync);

    private static async Task<Dictionary<string, List<JsonElement>>> RenderOnceAsync()
    {
        var (exit, stdout, stderr) = await ValidateAsync(["--json"]);
        if (exit != 0)
        {
            throw new InvalidOperationException($"deploy/validate exited {exit}:\n{stderr}");
        }
        using var doc = JsonDocument.Parse(stdout);
        return doc.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.EnumerateArray().Select(e => e.Clone()).ToList(), StringComparer.Ordinal);
    }

    public static IEnumerable<JsonElement> OfKind(this IEnumerable<JsonElement> objects, string kind) =>
        objects.Where(o => o.GetProperty("kind").GetString() == kind);

    public static JsonElement Named(this IEnumerable<JsonElement> objects, string kind, string name) =>
        objects.OfKind(kind).Single(o => o.GetProperty("metadata").GetProperty("name").GetString() == name);

    public static string Name(this JsonElement o) => o.GetProperty("metadata").GetProperty("name").GetString()!;

    /// <summary>Environment of a container: its env entries with plain values, then its envFrom ConfigMaps' keys
    /// (env wins, as in Kubernetes); secret-backed names map to null.</summary>
    public static Dictionary<string, string?> Environment(JsonElement container, IReadOnlyList<JsonElement> objects)
    {
        var env = new Dictionary<string, string?>(StringComparer.Ordinal);
        if (container.TryGetProperty("envFrom", out var from))
        {
            foreach (var source in from.EnumerateArray())
            {
                if (source.TryGetProperty("configMapRef", out var cm))
                {
                    var data = objects.Named("ConfigMap", cm.GetProperty("name").GetString()!).GetProperty("data");
                    foreach (var kv in data.EnumerateObject())
                    {
                        env[kv.Name] = kv.Value.GetString();
                    }
                }
            }
        }
        if (container.TryGetProperty("env", out var list))
        {
            foreach (var e in list.EnumerateArray())
            {
                env[e.GetProperty("name").GetString()!] = e.TryGetProperty("value", out var v) ? v.GetString() : null;
            }
        }
        return env;
    }

    /// <summary>Patterns of every environment variable docs/configuration.md names (placeholders and map entries expanded).</summary>
    public static IReadOnlyList<Regex> ReferenceVariables()
    {
        var patterns = new List<Regex>();
        foreach (var line in File.ReadLines(Repo.PathOf("docs", "configuration.md")))
        {
            if (!line.StartsWith("| `", StringComparison.Ordinal))
            {
                continue;
            }
            var cells = line.Split('|');
            var isMap = cells.Length > 5 && cells[4].Contains("map of", StringComparison.Ordinal);
            foreach (Match m in EnvName().Matches(cells[2]))
            {
                var pattern = Regex.Escape(m.Value).Replace("<NAME>", "[^_]+", StringComparison.Ordinal).Replace("<INDEX>", "[0-9]+", StringComparison.Ordinal);
                patterns.Add(new Regex("^" + pattern + (isMap ? "(__.+)?" : "") + "$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant));
            }
        }
        return patterns;
    }

    /// <summary>The default of a setting in docs/configuration.md, e.g. <c>Engine:ShutdownTimeout</c> → <c>00:00:30</c>.</summary>
    public static string ReferenceDefault(string setting)
    {
        var line = File.ReadLines(Repo.PathOf("docs", "configuration.md")).Single(l => l.StartsWith($"| `{setting}` |", StringComparison.Ordinal));
        return line.Split('|')[5].Trim().Trim('`');
    }

    /// <summary>The port of HOST:PORT.</summary>
    public static int PortOf(string listen) => int.Parse(listen[(listen.LastIndexOf(':') + 1)..], CultureInfo.InvariantCulture);

    [GeneratedRegex(@"SMSTREAM_[A-Z0-9_<>]+")]
    private static partial Regex EnvName();
}
