using SmartMaintenance.Streams.Contracts;

namespace SmartMaintenance.Streams.Kafka;

/// <summary>Names of the project's topics; defaults from <see cref="Contracts.Topics"/>.</summary>
[SettingsSection("Topics")]
public sealed class TopicNames
{
    [Setting("Topic the engine consumes sensor readings from.")]
    public string Readings { get; set; } = Contracts.Topics.Readings;

    [Setting("Dead-letter topic for rejected readings.")]
    public string ReadingsDlq { get; set; } = Contracts.Topics.ReadingsDlq;

    [Setting("Topic the engine publishes alert events to.")]
    public string Alerts { get; set; } = Contracts.Topics.Alerts;

    [Setting("Dead-letter topic for undeliverable alerts.")]
    public string AlertsDlq { get; set; } = Contracts.Topics.AlertsDlq;

    public void Validate(string sectionPath = "Topics")
    {
        Check(Readings, nameof(Readings));
        Check(ReadingsDlq, nameof(ReadingsDlq));
        Check(Alerts, nameof(Alerts));
        Check(AlertsDlq, nameof(AlertsDlq));
        if (string.Equals(Readings, ReadingsDlq, StringComparison.Ordinal) || string.Equals(Alerts, AlertsDlq, StringComparison.Ordinal))
        {
            throw new ConfigurationException($"{sectionPath}:ReadingsDlq", "a dead-letter topic must differ from its source topic");
        }

        void Check(string name, string setting)
        {
            // Kafka's own rule: 1..249 characters of [a-zA-Z0-9._-].
            if (string.IsNullOrEmpty(name) || name.Length > 249 || name is "." or "..")
            {
                throw new ConfigurationException($"{sectionPath}:{setting}", $"'{name}' is not a valid topic name");
            }
            foreach (var c in name)
            {
                if (!(char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
                {
                    throw new ConfigurationException($"{sectionPath}:{setting}", $"'{name}' contains '{c}'; topic names allow [a-zA-Z0-9._-]");
                }
            }
        }
    }
}
