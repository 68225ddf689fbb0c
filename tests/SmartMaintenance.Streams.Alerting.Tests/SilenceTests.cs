using Microsoft.Extensions.Logging.Abstractions;
using SmartMaintenance.Streams.Alerting.Notifier;
using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Testing;
using Xunit;
using static SmartMaintenance.Streams.Alerting.Tests.NotifierTestKit;

namespace SmartMaintenance.Streams.Alerting.Tests;

/// <summary>Silences (table alert_silences, written by the operator API): the dispatcher consumes a matching event
/// without delivering it, and delivers everything else.</summary>
[Collection(ServicesCollection.Name)]
public sealed class SilenceTests(PostgresFixture postgres)
{
    [Theory]
    [InlineData("pump-7", null, null, null, true)]
    [InlineData("pump-*", null, null, null, true)]
    [InlineData("pump-8", null, null, null, false)]
    [InlineData(null, "s-1", "vibration", "zscore", true)]
    [InlineData(null, "s-1", "temperature", null, false)]
    [InlineData(null, null, null, "spike", false)]
    public void A_silence_matches_by_every_matcher_it_sets(string? asset, string? sensor, string? type, string? detector, bool matches)
    {
        var silence = new Silence("sil_1", asset, sensor, type, detector, DateTimeOffset.UnixEpoch, DateTimeOffset.MaxValue, "test");
        Assert.Equal(matches, silence.Matches(Alert()));
    }

    [Fact]
    public async Task The_dispatcher_delivers_no_event_an_active_silence_matches()
    {
        await using var db = await TestDatabase.CreateAsync(postgres);
        await using (var cmd = db.DataSource.CreateCommand("""
            INSERT INTO alert_silences (silence_id, asset_id, starts_at, ends_at, reason, created_by) VALUES
                ('sil_on', 'pump-7', now() - interval '1 minute', now() + interval '1 hour', 'maintenance', 'key:test'),
                ('sil_later', 'pump-9', now() + interval '1 hour', now() + interval '2 hours', 'planned', 'key:test')
            """))
        {
            await cmd.ExecuteNonQueryAsync();
        }
        await using var silences = await PostgresSilences.StartAsync(db.DataSource, TimeSpan.FromMinutes(1), NullLogger.Instance, CancellationToken.None);
        var console = new StringWriter();
        var options = Options(new Dictionary<string, ChannelOptions> { ["console"] = new() { Type = ChannelTypes.Console } });
        options.Validate();
        var dispatcher = new AlertDispatcher(options, AlertDispatcher.CreateChannels(options, console), new PostgresDeliveryLog(db.DataSource),
            new RecordingDeadLetters(), NullLogger.Instance) { Silences = silences };

        var silenced = Alert(asset: "pump-7");
        var later = Alert(sensor: "s-2", asset: "pump-9");
        var other = Alert(sensor: "s-3", asset: "pump-8");
        await dispatcher.ProcessAsync(Record(silenced), CancellationToken.None);
        await dispatcher.ProcessAsync(Record(later, 1), CancellationToken.None);
        await dispatcher.ProcessAsync(Record(other, 2), CancellationToken.None);

        var output = console.ToString();
        Assert.DoesNotContain("sensor=s-1 ", output, StringComparison.Ordinal);
        Assert.Contains("sensor=s-2 ", output, StringComparison.Ordinal);
        Assert.Contains("sensor=s-3 ", output, StringComparison.Ordinal);
        Assert.Equal(0, await db.CountAsync($"event_key = '{silenced.EventKey}'"));

        // Expired by an operator: the next refresh lets the alert through again.
        await using (var cmd = db.DataSource.CreateCommand("UPDATE alert_silences SET expired_at = now() WHERE silence_id = 'sil_on'"))
        {
            await cmd.ExecuteNonQueryAsync();
        }
        await silences.RefreshAsync(CancellationToken.None);
        Assert.Null(silences.Find(silenced, DateTimeOffset.UtcNow));
    }
}
