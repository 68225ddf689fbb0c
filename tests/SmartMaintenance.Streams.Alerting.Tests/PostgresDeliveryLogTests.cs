using Npgsql;
using SmartMaintenance.Streams.Alerting.Notifier;
using SmartMaintenance.Streams.Testing;
using Xunit;

namespace SmartMaintenance.Streams.Alerting.Tests;

[Collection(ServicesCollection.Name)]
public sealed class PostgresDeliveryLogTests(PostgresFixture postgres)
{
    [Fact]
    public async Task Claim_is_new_once_then_interrupted_while_pending_then_done_once_marked()
    {
        await using var db = await TestDatabase.CreateAsync(postgres);
        var log = new PostgresDeliveryLog(db.DataSource);

        Assert.Equal(ClaimState.New, await log.ClaimAsync("al_1:open:0", "hook", default));
        Assert.Equal(ClaimState.Interrupted, await log.ClaimAsync("al_1:open:0", "hook", default));
        Assert.Equal(ClaimState.New, await log.ClaimAsync("al_1:open:0", "mail", default));
        await log.MarkAsync("al_1:open:0", "hook", DeliveryOutcomes.Delivered, default);

        Assert.Equal(ClaimState.Done, await log.ClaimAsync("al_1:open:0", "hook", default));
        Assert.Equal(DeliveryOutcomes.Delivered, await db.OutcomeAsync("al_1:open:0", "hook"));
        Assert.Equal(2, await db.CountAsync());
    }

    [Fact]
    public async Task Concurrent_claims_of_one_delivery_let_exactly_one_through_as_new()
    {
        await using var db = await TestDatabase.CreateAsync(postgres);
        var log = new PostgresDeliveryLog(db.DataSource);

        var claims = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => log.ClaimAsync("al_2:open:0", "hook", default).AsTask()));

        Assert.Equal(1, claims.Count(c => c == ClaimState.New));
        Assert.All(claims.Where(c => c != ClaimState.New), c => Assert.Equal(ClaimState.Interrupted, c));
    }

    [Fact]
    public async Task Held_rows_are_listed_per_channel_and_moved_only_from_held()
    {
        await using var db = await TestDatabase.CreateAsync(postgres);
        var log = new PostgresDeliveryLog(db.DataSource);
        foreach (var k in new[] { "a:open:0", "b:open:0", "c:open:0" })
        {
            await log.ClaimAsync(k, "hook", default);
            await log.MarkAsync(k, "hook", k == "c:open:0" ? DeliveryOutcomes.Delivered : DeliveryOutcomes.Held, default);
        }

        var held = await log.ListHeldAsync("hook", default);
        await log.MarkHeldAsync(["a:open:0", "c:open:0"], "hook", DeliveryOutcomes.Digested, default);

        Assert.Equal(["a:open:0", "b:open:0"], held.Order(StringComparer.Ordinal));
        Assert.Empty(await log.ListHeldAsync("mail", default));
        Assert.Equal(DeliveryOutcomes.Digested, await db.OutcomeAsync("a:open:0", "hook"));
        Assert.Equal(DeliveryOutcomes.Delivered, await db.OutcomeAsync("c:open:0", "hook"));
        Assert.Equal(["b:open:0"], await log.ListHeldAsync("hook", default));
    }

    [Fact]
    public async Task Ddl_constant_matches_the_table_the_migrations_create()
    {
        await using var migrated = await TestDatabase.CreateAsync(postgres);
        await using var empty = NpgsqlDataSource.Create(await postgres.CreateDatabaseAsync(migrated: false));
        await using (var create = empty.CreateCommand(PostgresDeliveryLog.Ddl))
        {
            await create.ExecuteNonQueryAsync();
        }

        Assert.Equal(await ShapeAsync(migrated.DataSource), await ShapeAsync(empty));
    }

    private static async Task<List<string>> ShapeAsync(NpgsqlDataSource ds)
    {
        await using var cmd = ds.CreateCommand("""
            SELECT c.column_name || ' ' || c.data_type || ' ' || c.is_nullable || ' ' ||
                   coalesce((SELECT 'pk' FROM information_schema.key_column_usage k
                             WHERE k.table_name = c.table_name AND k.column_name = c.column_name), '')
            FROM information_schema.columns c WHERE c.table_name = 'alert_deliveries' ORDER BY c.ordinal_position
            """);
        var list = new List<string>();
        await using var r = await cmd.ExecuteReaderAsync();
        while (await r.ReadAsync())
        {
            list.Add(r.GetString(0));
        }
        return list;
    }
}
