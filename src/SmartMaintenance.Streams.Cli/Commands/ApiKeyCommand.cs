using System.CommandLine;
using System.Globalization;
using Npgsql;
using SmartMaintenance.Streams.Api.Security;
using SmartMaintenance.Streams.Cli.Hosting;
using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Storage;

namespace SmartMaintenance.Streams.Cli.Commands;

/// <summary><c>smstream apikey create|list|revoke</c>: API keys of the operator API (stored hashed; docs/api.md).</summary>
internal static class ApiKeyCommand
{
    public static Command Create()
    {
        var cmd = new Command("apikey", "API keys of the operator API (/api/v1): create, list, revoke. Only a hash of each key is stored.");
        cmd.Subcommands.Add(CreateKey());
        cmd.Subcommands.Add(List());
        cmd.Subcommands.Add(Revoke());
        return cmd;
    }

    private static Command CreateKey()
    {
        var name = new Option<string>("--name") { Description = "Who or what the key is for.", Required = true };
        var role = new Option<string>("--role") { Description = "viewer, operator or admin.", Required = true };
        var rate = new Option<int?>("--rate-limit") { Description = "Requests per second for this key (default: Api:RateLimitPerSecond)." };
        var cmd = new Command("create", "Create a key and print it once (it cannot be shown again).");
        AppConfiguration.AddCommon(cmd);
        cmd.Options.Add(name);
        cmd.Options.Add(role);
        cmd.Options.Add(rate);
        cmd.SetAction((parse, ct) => RunAsync(parse, async store =>
        {
            var r = parse.GetValue(role)!;
            if (!Roles.IsRole(r))
            {
                await Console.Error.WriteLineAsync($"smstream apikey: --role must be one of {string.Join(", ", Roles.All)}").ConfigureAwait(false);
                return 2;
            }
            if (parse.GetValue(rate) is <= 0)
            {
                await Console.Error.WriteLineAsync("smstream apikey: --rate-limit must be positive").ConfigureAwait(false);
                return 2;
            }
            var created = await store.CreateAsync(parse.GetValue(name)!, r, parse.GetValue(rate), ct).ConfigureAwait(false);
            await Console.Out.WriteLineAsync($"id: {created.Info.KeyId}").ConfigureAwait(false);
            await Console.Out.WriteLineAsync($"key: {created.Key}").ConfigureAwait(false);
            return 0;
        }, ct));
        return cmd;
    }

    private static Command List()
    {
        var cmd = new Command("list", "List keys (id, name, role, rate limit, created, revoked); never their secrets.");
        AppConfiguration.AddCommon(cmd);
        cmd.SetAction((parse, ct) => RunAsync(parse, async store =>
        {
            foreach (var k in await store.ListAsync(ct).ConfigureAwait(false))
            {
                var revoked = k.RevokedAt is { } at ? "revoked " + at.ToString("u", CultureInfo.InvariantCulture) : "active";
                var limit = k.RateLimit is { } l ? l.ToString(CultureInfo.InvariantCulture) + "/s" : "default";
                await Console.Out.WriteLineAsync(
                    $"{k.KeyId}\t{k.Name}\t{k.Role}\t{limit}\t{k.CreatedAt.ToString("u", CultureInfo.InvariantCulture)}\t{revoked}").ConfigureAwait(false);
            }
            return 0;
        }, ct));
        return cmd;
    }

    private static Command Revoke()
    {
        var id = new Argument<string>("id") { Description = "Key id (the part after smk_, before the next _)." };
        var cmd = new Command("revoke", "Revoke a key; running instances stop accepting it within Api:KeyCacheTime.");
        AppConfiguration.AddCommon(cmd);
        cmd.Arguments.Add(id);
        cmd.SetAction((parse, ct) => RunAsync(parse, async store =>
        {
            if (!await store.RevokeAsync(parse.GetValue(id)!, ct).ConfigureAwait(false))
            {
                await Console.Error.WriteLineAsync($"smstream apikey: no active key '{parse.GetValue(id)}'").ConfigureAwait(false);
                return 1;
            }
            await Console.Out.WriteLineAsync("revoked").ConfigureAwait(false);
            return 0;
        }, ct));
        return cmd;
    }

    private static async Task<int> RunAsync(ParseResult parse, Func<ApiKeyStore, Task<int>> action, CancellationToken ct)
    {
        StorageOptions storage;
        try
        {
            storage = AppConfiguration.Bind<StorageOptions>(AppConfiguration.Build(parse), "Storage");
            storage.Validate();
        }
        catch (ConfigurationException ex)
        {
            await Console.Error.WriteLineAsync($"smstream apikey: {ex.Message}").ConfigureAwait(false);
            return 2;
        }
        await using var dataSource = NpgsqlDataSource.Create(storage.ConnectionString);
        try
        {
            return await action(new ApiKeyStore(dataSource, TimeSpan.Zero)).ConfigureAwait(false);
        }
        catch (NpgsqlException ex)
        {
            await Console.Error.WriteLineAsync($"smstream apikey: database: {ex.Message}").ConfigureAwait(false);
            return 1;
        }
    }
}
