using System.Net.Sockets;
using MailKit;
using MailKit.Net.Smtp;
using MailKit.Security;
using MimeKit;
using SmartMaintenance.Streams.Contracts;

namespace SmartMaintenance.Streams.Alerting.Notifier;

/// <summary>E-mail over SMTP (MailKit): text and HTML bodies, STARTTLS/TLS and authentication as configured.</summary>
/// <remarks>One SMTP session per message: alerts are rare and a fresh session never trips over a server's idle timeout.
/// The Message-Id is derived from the event key, so a redelivery after a crash carries the same id.</remarks>
public sealed class EmailChannel : IAlertChannel
{
    public const string DefaultSubject = "[{severity_name}] alert {status}: {sensor_id} ({detector})";
    public const string DefaultText = "Alert {alert_id} is {status} (revision {revision}).\n\nSeverity: {severity_name} ({severity})\nSensor: {sensor_id} (type {sensor_type}, asset {asset_id})\nDetector: {detector}\nValue: {value}\nScore: {score} (threshold {threshold})\nWindow: {window_start} .. {window_end}\nFirst seen: {first_seen}\nLast seen: {last_seen}\nEvidence: {evidence}\n";
    public const string DefaultHtml = "<p>Alert <code>{alert_id}</code> is <b>{status}</b> (revision {revision}).</p><table><tr><th align=\"left\">Severity</th><td>{severity_name} ({severity})</td></tr><tr><th align=\"left\">Sensor</th><td>{sensor_id} (type {sensor_type}, asset {asset_id})</td></tr><tr><th align=\"left\">Detector</th><td>{detector}</td></tr><tr><th align=\"left\">Value</th><td>{value}</td></tr><tr><th align=\"left\">Score</th><td>{score} (threshold {threshold})</td></tr><tr><th align=\"left\">Window</th><td>{window_start} .. {window_end}</td></tr><tr><th align=\"left\">First seen</th><td>{first_seen}</td></tr><tr><th align=\"left\">Last seen</th><td>{last_seen}</td></tr><tr><th align=\"left\">Evidence</th><td><code>{evidence}</code></td></tr></table>";

    private readonly ChannelOptions _options;
    private readonly AlertTemplate _subject;
    private readonly AlertTemplate _text;
    private readonly AlertTemplate _html;
    private readonly SecureSocketOptions _security;
    private readonly MailboxAddress _from;
    private readonly InternetAddressList _to = [];
    private readonly string _messageIdDomain;
    private readonly int _timeoutMs;

    public EmailChannel(string name, ChannelOptions options, TimeSpan attemptTimeout)
    {
        ArgumentNullException.ThrowIfNull(options);
        Name = name;
        _options = options;
        var path = $"Notifier:Channels:{name}";
        _subject = AlertTemplate.ParseOrDefault(options.Subject, DefaultSubject, path + ":Subject");
        _text = AlertTemplate.ParseOrDefault(options.Template, DefaultText, path + ":Template");
        _html = AlertTemplate.ParseOrDefault(options.HtmlTemplate, DefaultHtml, path + ":HtmlTemplate");
        _security = Enum.Parse<SecureSocketOptions>(options.Security, ignoreCase: true);
        _from = MailboxAddress.TryParse(options.From, out var from)
            ? from
            : throw new ConfigurationException(path + ":From", "is not an e-mail address");
        foreach (var to in options.To)
        {
            if (!MailboxAddress.TryParse(to, out var address))
            {
                throw new ConfigurationException(path + ":To", $"'{to}' is not an e-mail address");
            }
            _to.Add(address);
        }
        _messageIdDomain = _from.Domain.Length > 0 ? _from.Domain : "smstream.local";
        _timeoutMs = (int)Math.Min(int.MaxValue, attemptTimeout.TotalMilliseconds);
    }

    public string Name { get; }

    /// <summary>Message-Id for an idempotency key: ':' is not allowed in the id's left part, so it becomes '.'.</summary>
    public static string MessageIdFor(string idempotencyKey, string domain)
    {
        ArgumentNullException.ThrowIfNull(idempotencyKey);
        return idempotencyKey.Replace(':', '.') + "@" + domain;
    }

    public ValueTask<DeliveryOutcome> DeliverAsync(AlertEvent alert, string idempotencyKey, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(alert);
        var message = NewMessage(idempotencyKey, _subject.Render(alert).ReplaceLineEndings(" "));
        message.Body = new BodyBuilder
        {
            TextBody = _text.Render(alert),
            HtmlBody = _html.Render(alert, System.Net.WebUtility.HtmlEncode),
        }.ToMessageBody();
        return SendAsync(message, cancellationToken);
    }

    public ValueTask<DeliveryOutcome> DeliverDigestAsync(AlertDigest digest, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(digest);
        var message = NewMessage(digest.IdempotencyKey, $"[digest] {digest.Items.Count} alert notification(s) held back");
        var text = digest.RenderText(_subject);
        message.Body = new BodyBuilder
        {
            TextBody = text,
            HtmlBody = "<pre>" + System.Net.WebUtility.HtmlEncode(text) + "</pre>",
        }.ToMessageBody();
        return SendAsync(message, cancellationToken);
    }

    private MimeMessage NewMessage(string idempotencyKey, string subject)
    {
        var message = new MimeMessage { Subject = subject, MessageId = MessageIdFor(idempotencyKey, _messageIdDomain) };
        message.From.Add(_from);
        message.To.AddRange(_to);
        message.Headers.Add(WebhookSignature.IdempotencyKeyHeader, idempotencyKey);
        return message;
    }

    private async ValueTask<DeliveryOutcome> SendAsync(MimeMessage message, CancellationToken cancellationToken)
    {
        using var client = new SmtpClient { Timeout = _timeoutMs };
        try
        {
            await client.ConnectAsync(_options.Host, _options.Port, _security, cancellationToken).ConfigureAwait(false);
            if (_options.Username.Length > 0)
            {
                await client.AuthenticateAsync(_options.Username, _options.Password, cancellationToken).ConfigureAwait(false);
            }
            var reply = await client.SendAsync(message, cancellationToken).ConfigureAwait(false);
            await client.DisconnectAsync(true, cancellationToken).ConfigureAwait(false);
            return DeliveryOutcome.Ok("smtp " + reply.ReplaceLineEndings(" "));
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return DeliveryOutcome.Transient("smtp timeout");
        }
        catch (SmtpCommandException ex)
        {
            // Reply codes 4xx are temporary by definition (RFC 5321 4.2.1), 5xx permanent.
            var code = (int)ex.StatusCode;
            var detail = $"smtp {code} {ex.ErrorCode}";
            return code is >= 400 and < 500 ? DeliveryOutcome.Transient(detail) : DeliveryOutcome.Permanent(detail);
        }
        catch (AuthenticationException ex)
        {
            return DeliveryOutcome.Permanent("smtp authentication failed: " + ex.GetType().Name);
        }
        catch (SslHandshakeException)
        {
            return DeliveryOutcome.Permanent("smtp tls handshake failed");
        }
        catch (Exception ex) when (ex is SmtpProtocolException or IOException or SocketException or ServiceNotConnectedException or TimeoutException)
        {
            return DeliveryOutcome.Transient("smtp " + ex.GetType().Name + ": " + ex.Message);
        }
    }
}
