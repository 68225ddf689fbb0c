using SmartMaintenance.Streams.Contracts;

namespace SmartMaintenance.Streams.Alerting.Notifier;

/// <summary>Settings of <c>smstream notify</c> (section <c>Notifier</c>). See docs/alerting.md.</summary>
[SettingsSection("Notifier")]
public sealed class NotifierOptions
{
    [Setting("Kafka bootstrap servers (host:port, comma separated).")]
    public string BootstrapServers { get; set; } = "127.0.0.1:19092";

    [Setting("Consumer group of the notifier.")]
    public string GroupId { get; set; } = Topics.NotifierGroup;

    [Setting("Topic of alert events.")]
    public string Topic { get; set; } = Topics.Alerts;

    [Setting("Dead-letter topic for events no channel could take.")]
    public string DlqTopic { get; set; } = Topics.AlertsDlq;

    [Setting("Extra librdkafka properties for the consumer and the DLQ producer (e.g. security.protocol).")]
    public Dictionary<string, string> Kafka { get; set; } = [];

    [Setting("PostgreSQL connection string of the delivery log (table alert_deliveries).", Secret = true)]
    public string ConnectionString { get; set; } = "";

    [Setting("Retries of a transient delivery failure (timeout, 408, 429, 5xx, connection error) before dead-lettering.", Min = 0, Max = 20)]
    public int MaxRetries { get; set; } = 5;

    [Setting("Delay before the first retry; doubles per retry, with jitter.", Unit = "ms", Min = 1, Max = 600_000)]
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromSeconds(1);

    [Setting("Upper bound of one retry delay computed by backoff.", Unit = "ms", Min = 1, Max = 3_600_000)]
    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromSeconds(60);

    [Setting("Upper bound of a receiver's Retry-After that is honoured; longer values are cut to this.", Unit = "ms", Min = 1, Max = 3_600_000)]
    public TimeSpan RetryAfterMax { get; set; } = TimeSpan.FromMinutes(5);

    [Setting("Timeout of one delivery attempt (HTTP request, SMTP session).", Unit = "ms", Min = 100, Max = 600_000)]
    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(10);

    [Setting("How often the silences set through the operator API (table alert_silences) are re-read.", Unit = "ms", Min = 100, Max = 600_000)]
    public TimeSpan SilenceRefresh { get; set; } = TimeSpan.FromSeconds(5);

    [Setting("How long leaving the consumer group may take at shutdown. With every broker unreachable the Kafka client's close can block for minutes; past this the notifier stops anyway (a record in flight is redelivered under the same idempotency key).", Unit = "ms", Min = 0, Max = 600_000)]
    public TimeSpan CloseTimeout { get; set; } = TimeSpan.FromSeconds(5);

    [Setting("Delivery channels by name.")]
    public Dictionary<string, ChannelOptions> Channels { get; set; } = new(StringComparer.Ordinal);

    [Setting("Routing rules; an event goes to the union of the channels of every matching route.")]
    public List<RouteOptions> Routes { get; set; } = [];

    /// <summary>Throws <see cref="ConfigurationException"/> naming the first invalid setting.</summary>
    public void Validate(string sectionPath = "Notifier")
    {
        SettingsValidator.Validate(this, sectionPath);
        Require(BootstrapServers, sectionPath, nameof(BootstrapServers));
        Require(GroupId, sectionPath, nameof(GroupId));
        Require(Topic, sectionPath, nameof(Topic));
        Require(DlqTopic, sectionPath, nameof(DlqTopic));
        Require(ConnectionString, sectionPath, nameof(ConnectionString));
        if (RetryMaxDelay < RetryBaseDelay)
        {
            throw new ConfigurationException($"{sectionPath}:{nameof(RetryMaxDelay)}", "must not be below RetryBaseDelay");
        }
        if (Channels.Count == 0)
        {
            throw new ConfigurationException($"{sectionPath}:{nameof(Channels)}", "at least one channel is needed");
        }
        foreach (var (name, channel) in Channels)
        {
            channel.Validate($"{sectionPath}:{nameof(Channels)}:{name}");
        }
        if (Routes.Count == 0)
        {
            throw new ConfigurationException($"{sectionPath}:{nameof(Routes)}", "at least one route is needed");
        }
        for (var i = 0; i < Routes.Count; i++)
        {
            Routes[i].Validate($"{sectionPath}:{nameof(Routes)}:{i}", Channels);
        }
    }

    internal static void Require(string? value, string section, string name)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            throw new ConfigurationException($"{section}:{name}", "must not be empty");
        }
    }
}

/// <summary>Channel kinds understood by <see cref="ChannelOptions.Type"/>.</summary>
public static class ChannelTypes
{
    public const string Console = "console";
    public const string Webhook = "webhook";
    public const string Slack = "slack";
    public const string Email = "email";
}

/// <summary>One delivery channel. Which settings apply depends on <see cref="Type"/>.</summary>
public sealed class ChannelOptions
{
    [Setting("console, webhook, slack or email.")]
    public string Type { get; set; } = ChannelTypes.Console;

    [Setting("Target URL (webhook, slack). A Slack incoming-webhook URL is itself a credential.", Secret = true)]
    public string Url { get; set; } = "";

    [Setting("Shared secret of the webhook's HMAC-SHA256 X-Signature.", Secret = true)]
    public string Secret { get; set; } = "";

    [Setting("Message template ({placeholder} syntax, docs/alerting.md); empty uses the channel's default.")]
    public string Template { get; set; } = "";

    [Setting("E-mail subject template; empty uses the default.")]
    public string Subject { get; set; } = "";

    [Setting("E-mail HTML body template (values are HTML-encoded); empty uses the default.")]
    public string HtmlTemplate { get; set; } = "";

    [Setting("SMTP server host.")]
    public string Host { get; set; } = "";

    [Setting("SMTP server port.", Min = 1, Max = 65535)]
    public int Port { get; set; } = 587;

    [Setting("SMTP transport security: None, StartTls, StartTlsWhenAvailable, SslOnConnect or Auto.")]
    public string Security { get; set; } = "StartTls";

    [Setting("SMTP user name; empty skips authentication.")]
    public string Username { get; set; } = "";

    [Setting("SMTP password.", Secret = true)]
    public string Password { get; set; } = "";

    [Setting("Sender address of alert e-mails.")]
    public string From { get; set; } = "";

    [Setting("Recipient addresses of alert e-mails.")]
    public List<string> To { get; set; } = [];

    [Setting("Messages the channel may send per RateLimitWindow (token bucket, refilled evenly); 0 disables the limit.", Min = 0, Max = 1_000_000)]
    public int RateLimit { get; set; }

    [Setting("Rate limit window; what the limit held back is sent as one digest when the window ends.", Unit = "ms", Min = 100, Max = 86_400_000)]
    public TimeSpan RateLimitWindow { get; set; } = TimeSpan.FromMinutes(1);

    internal void Validate(string path)
    {
        SettingsValidator.Validate(this, path);
        switch (Type)
        {
            case ChannelTypes.Console:
                break;
            case ChannelTypes.Webhook:
                RequireUrl(path);
                NotifierOptions.Require(Secret, path, nameof(Secret));
                break;
            case ChannelTypes.Slack:
                RequireUrl(path);
                break;
            case ChannelTypes.Email:
                NotifierOptions.Require(Host, path, nameof(Host));
                NotifierOptions.Require(From, path, nameof(From));
                if (To.Count == 0)
                {
                    throw new ConfigurationException($"{path}:{nameof(To)}", "at least one recipient is needed");
                }
                if (!Enum.TryParse<MailKit.Security.SecureSocketOptions>(Security, ignoreCase: true, out _))
                {
                    throw new ConfigurationException($"{path}:{nameof(Security)}", $"'{Security}' is not one of None, StartTls, StartTlsWhenAvailable, SslOnConnect, Auto");
                }
                break;
            default:
                throw new ConfigurationException($"{path}:{nameof(Type)}", $"'{Type}' is not one of console, webhook, slack, email");
        }
        // Parse templates now so a typo fails at start-up, not on the first alert.
        _ = AlertTemplate.Parse(Template, $"{path}:{nameof(Template)}");
        _ = AlertTemplate.Parse(Subject, $"{path}:{nameof(Subject)}");
        _ = AlertTemplate.Parse(HtmlTemplate, $"{path}:{nameof(HtmlTemplate)}");
    }

    private void RequireUrl(string path)
    {
        // The URL is secret (Slack's carries the token), so the message must not echo it.
        if (!Uri.TryCreate(Url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            throw new ConfigurationException($"{path}:{nameof(Url)}", "must be an absolute http(s) URL");
        }
    }
}

/// <summary>A routing rule. Empty lists match anything; all conditions must hold.</summary>
public sealed class RouteOptions
{
    [Setting("Name shown in logs.")]
    public string Name { get; set; } = "";

    [Setting("Lowest severity routed.", Min = 1, Max = 5)]
    public int MinSeverity { get; set; } = 1;

    [Setting("Highest severity routed.", Min = 1, Max = 5)]
    public int MaxSeverity { get; set; } = 5;

    [Setting("Statuses routed (open, updated, resolved, acknowledged); empty: all.")]
    public List<string> Statuses { get; set; } = [];

    [Setting("Sensor types routed; empty: all.")]
    public List<string> SensorTypes { get; set; } = [];

    [Setting("Asset ids routed; a trailing * matches a prefix; empty: all.")]
    public List<string> Assets { get; set; } = [];

    [Setting("Sensor ids routed; a trailing * matches a prefix; empty: all.")]
    public List<string> Sensors { get; set; } = [];

    [Setting("Channels (names under Notifier:Channels) the matching events go to.")]
    public List<string> Channels { get; set; } = [];

    internal void Validate(string path, Dictionary<string, ChannelOptions> channels)
    {
        SettingsValidator.Validate(this, path);
        if (MinSeverity > MaxSeverity)
        {
            throw new ConfigurationException($"{path}:{nameof(MinSeverity)}", "must not exceed MaxSeverity");
        }
        foreach (var s in Statuses)
        {
            if (s is not (AlertStatus.Open or AlertStatus.Updated or AlertStatus.Resolved or AlertStatus.Acknowledged))
            {
                throw new ConfigurationException($"{path}:{nameof(Statuses)}", $"'{s}' is not one of open, updated, resolved, acknowledged");
            }
        }
        if (Channels.Count == 0)
        {
            throw new ConfigurationException($"{path}:{nameof(Channels)}", "at least one channel is needed");
        }
        foreach (var c in Channels)
        {
            if (!channels.ContainsKey(c))
            {
                throw new ConfigurationException($"{path}:{nameof(Channels)}", $"channel '{c}' is not defined under Notifier:Channels");
            }
        }
    }
}
