using System.Text;
using SmartMaintenance.Streams.Alerting.Notifier;
using SmartMaintenance.Streams.Contracts;
using Xunit;
using static SmartMaintenance.Streams.Alerting.Tests.NotifierTestKit;

namespace SmartMaintenance.Streams.Alerting.Tests;

public sealed class NotifierConfigurationTests
{
    private static NotifierOptions Valid() => Options(new()
    {
        ["hook"] = new ChannelOptions { Type = ChannelTypes.Webhook, Url = "https://example.invalid/hook", Secret = "x" },
    });

    [Fact]
    public void Alert_consumer_waits_at_most_10_ms_on_an_empty_fetch_unless_configured_otherwise()
    {
        Assert.Equal(10, NotifierService.ConsumerConfig(Valid()).FetchWaitMaxMs);

        var explicitWait = Valid();
        explicitWait.Kafka["fetch.wait.max.ms"] = "250";
        Assert.Equal(250, NotifierService.ConsumerConfig(explicitWait).FetchWaitMaxMs);
    }

    [Fact]
    public void Template_renders_placeholders_and_literal_braces()
    {
        var t = AlertTemplate.Parse("{{{severity}}} {severity_name} {sensor_id}@{asset_id} v={value} s={score} t={last_seen} {event_key}", "T");

        var text = t.Render(Alert());

        Assert.Equal($"{{4}} high s-1@pump-7 v=17.25 s=0.93 t=2025-06-15T15:07:10.000Z {Alert().EventKey}", text);
    }

    [Fact]
    public void Template_encoder_escapes_values_but_not_literals()
    {
        var t = AlertTemplate.Parse("<b>{sensor_id}</b>", "T");

        Assert.Equal("<b>a&lt;x&gt;</b>", t.Render(Alert(sensor: "a<x>"), System.Net.WebUtility.HtmlEncode));
    }

    [Theory]
    [InlineData("{sensor}", "unknown placeholder '{sensor}'")]
    [InlineData("{sensor_id", "unclosed")]
    [InlineData("a } b", "unmatched")]
    public void Bad_template_fails_at_start_up_naming_the_setting(string template, string message)
    {
        var options = Valid();
        options.Channels["hook"].Template = template;

        var ex = Assert.Throws<ConfigurationException>(() => options.Validate());

        Assert.Equal("Notifier:Channels:hook:Template", ex.Setting);
        Assert.Contains(message, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Route_to_an_undefined_channel_fails_naming_the_route()
    {
        var options = Valid();
        options.Routes.Add(new RouteOptions { Channels = ["pager"] });

        var ex = Assert.Throws<ConfigurationException>(() => options.Validate());

        Assert.Equal("Notifier:Routes:1:Channels", ex.Setting);
    }

    [Fact]
    public void Webhook_without_secret_and_email_without_recipients_are_rejected()
    {
        var options = Valid();
        options.Channels["hook"].Secret = "";
        Assert.Equal("Notifier:Channels:hook:Secret", Assert.Throws<ConfigurationException>(() => options.Validate()).Setting);

        var mail = Options(new() { ["mail"] = new ChannelOptions { Type = ChannelTypes.Email, Host = "smtp", From = "a@b.c" } });
        Assert.Equal("Notifier:Channels:mail:To", Assert.Throws<ConfigurationException>(() => mail.Validate()).Setting);
    }

    [Fact]
    public void Secret_values_never_appear_in_validation_messages()
    {
        var options = Valid();
        options.Channels["hook"].Url = "not a url with token xoxb-SECRET";

        var ex = Assert.Throws<ConfigurationException>(() => options.Validate());

        Assert.DoesNotContain("xoxb-SECRET", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Out_of_range_retry_setting_fails_naming_it()
    {
        var options = Valid();
        options.MaxRetries = 50;

        Assert.Equal("Notifier:MaxRetries", Assert.Throws<ConfigurationException>(() => options.Validate()).Setting);
    }

    [Fact]
    public void Signature_verifies_only_for_the_same_secret_body_and_a_fresh_timestamp()
    {
        var body = Encoding.UTF8.GetBytes("{\"a\":1}");
        var now = DateTimeOffset.FromUnixTimeSeconds(1_750_000_000);
        var sig = WebhookSignature.Compute("k", 1_750_000_000, body);
        var tolerance = TimeSpan.FromMinutes(5);

        Assert.True(WebhookSignature.Verify("k", "1750000000", body, sig, now, tolerance));
        Assert.False(WebhookSignature.Verify("other", "1750000000", body, sig, now, tolerance));
        Assert.False(WebhookSignature.Verify("k", "1750000000", Encoding.UTF8.GetBytes("{\"a\":2}"), sig, now, tolerance));
        Assert.False(WebhookSignature.Verify("k", "1750000000", body, sig, now.AddMinutes(6), tolerance));
        Assert.False(WebhookSignature.Verify("k", "1750000001", body, sig, now, tolerance));
    }

    [Fact]
    public void Token_bucket_allows_its_capacity_then_refills_evenly_over_the_window()
    {
        var t0 = DateTimeOffset.UnixEpoch;
        var bucket = new TokenBucket(2, TimeSpan.FromSeconds(10), t0);

        Assert.True(bucket.TryTake(t0));
        Assert.True(bucket.TryTake(t0));
        Assert.False(bucket.TryTake(t0));
        Assert.False(bucket.TryTake(t0.AddSeconds(4.9)));
        Assert.True(bucket.TryTake(t0.AddSeconds(5)));
        Assert.False(bucket.TryTake(t0.AddSeconds(5)));
    }

    [Fact]
    public void Alert_key_is_the_asset_when_known_else_the_sensor()
    {
        Assert.Equal("pump-7", AlertPublisher.KeyFor(Alert()));
        Assert.Equal("s-1", AlertPublisher.KeyFor(Alert(asset: null)));
        Assert.Equal("s-1", AlertPublisher.KeyFor(Alert(), byAsset: false));
    }
}
