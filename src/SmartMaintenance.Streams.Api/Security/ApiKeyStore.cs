using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Npgsql;
using SmartMaintenance.Streams.Storage;

namespace SmartMaintenance.Streams.Api.Security;

/// <summary>An API key as listed (never its secret).</summary>
public sealed record ApiKeyInfo(string KeyId, string Name, string Role, int? RateLimit, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt);

/// <summary>A key that was just created: the only time its secret is shown.</summary>
public sealed record CreatedApiKey(ApiKeyInfo Info, string Key);

/// <summary>Who a verified key belongs to.</summary>
public sealed record ApiCaller(string KeyId, string Name, string Role, int? RateLimit);

/// <summary>
/// API keys in the database (table api_keys): <c>smk_&lt;id&gt;_&lt;secret&gt;</c>, of which only the SHA-256 of the
/// secret is stored. The secret is 32 random bytes, so a plain hash (no salt or stretching) cannot be searched.
/// Verified keys are cached for Api:KeyCacheTime so the database is not asked on every request.
/// </summary>
public sealed class ApiKeyStore(NpgsqlDataSource dataSource, TimeSpan cacheTime, TimeProvider? time = null)
{
    public const string Prefix = "smk_";
    private readonly ConcurrentDictionary<string, (ApiCaller? Caller, long Until)> _cache = new(StringComparer.Ordinal);
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    public async Task<CreatedApiKey> CreateAsync(string name, string role, int? rateLimit, CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (!Roles.IsRole(role))
        {
            throw new ArgumentException($"role must be one of {string.Join(", ", Roles.All)}", nameof(role));
        }
        if (rateLimit is <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(rateLimit), rateLimit, "rate limit must be positive");
        }
        var id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));
        var secret = Base64Url(RandomNumberGenerator.GetBytes(32));
        await using var cmd = dataSource.CreateCommand(
            $"INSERT INTO {Schema.ApiKeysTable} (key_id, name, role, secret_hash, rate_limit) VALUES ($1, $2, $3, $4, $5) RETURNING created_at");
        cmd.Parameters.AddWithValue(id);
        cmd.Parameters.AddWithValue(name);
        cmd.Parameters.AddWithValue(role);
        cmd.Parameters.AddWithValue(Hash(secret));
        cmd.Parameters.AddWithValue((object?)rateLimit ?? DBNull.Value);
        var created = (DateTime)(await cmd.ExecuteScalarAsync(ct))!;
        return new CreatedApiKey(new ApiKeyInfo(id, name, role, rateLimit, new DateTimeOffset(created, TimeSpan.Zero), null), $"{Prefix}{id}_{secret}");
    }

    public async Task<IReadOnlyList<ApiKeyInfo>> ListAsync(CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand(
            $"SELECT key_id, name, role, rate_limit, created_at, revoked_at FROM {Schema.ApiKeysTable} ORDER BY created_at, key_id");
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var list = new List<ApiKeyInfo>();
        while (await reader.ReadAsync(ct))
        {
            list.Add(new ApiKeyInfo(reader.GetString(0), reader.GetString(1), reader.GetString(2),
                reader.IsDBNull(3) ? null : reader.GetInt32(3),
                new DateTimeOffset(reader.GetDateTime(4), TimeSpan.Zero),
                reader.IsDBNull(5) ? null : new DateTimeOffset(reader.GetDateTime(5), TimeSpan.Zero)));
        }
        return list;
    }

    /// <summary>Revokes a key; false when there is no such (unrevoked) key.</summary>
    public async Task<bool> RevokeAsync(string keyId, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand($"UPDATE {Schema.ApiKeysTable} SET revoked_at = now() WHERE key_id = $1 AND revoked_at IS NULL");
        cmd.Parameters.AddWithValue(keyId);
        var changed = await cmd.ExecuteNonQueryAsync(ct) > 0;
        _cache.Clear();
        return changed;
    }

    /// <summary>The caller a presented key belongs to, or null when it is malformed, unknown or revoked.</summary>
    public async ValueTask<ApiCaller?> VerifyAsync(string presented, CancellationToken ct = default)
    {
        if (!TryParse(presented, out var id, out var secret))
        {
            return null;
        }
        var cacheKey = Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(presented)));
        var now = _time.GetTimestamp();
        if (_cache.TryGetValue(cacheKey, out var hit) && hit.Until > now)
        {
            return hit.Caller;
        }
        ApiCaller? caller = null;
        await using (var cmd = dataSource.CreateCommand(
            $"SELECT name, role, rate_limit, secret_hash FROM {Schema.ApiKeysTable} WHERE key_id = $1 AND revoked_at IS NULL"))
        {
            cmd.Parameters.AddWithValue(id);
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            if (await reader.ReadAsync(ct))
            {
                var stored = (byte[])reader.GetValue(3);
                if (CryptographicOperations.FixedTimeEquals(stored, Hash(secret)))
                {
                    caller = new ApiCaller(id, reader.GetString(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetInt32(2));
                }
            }
        }
        if (_cache.Count > 10_000)
        {
            // Bounded: a flood of distinct bad keys must not grow memory.
            _cache.Clear();
        }
        _cache[cacheKey] = (caller, now + (long)(cacheTime.TotalSeconds * _time.TimestampFrequency));
        return caller;
    }

    private static bool TryParse(string presented, out string id, out string secret)
    {
        id = secret = "";
        if (presented.Length is < 20 or > 200 || !presented.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return false;
        }
        var rest = presented.AsSpan(Prefix.Length);
        var sep = rest.IndexOf('_');
        if (sep <= 0)
        {
            return false;
        }
        id = rest[..sep].ToString();
        secret = rest[(sep + 1)..].ToString();
        return secret.Length > 0;
    }

    private static byte[] Hash(string secret) => SHA256.HashData(Encoding.UTF8.GetBytes(secret));

    private static string Base64Url(byte[] bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
