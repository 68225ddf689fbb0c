using SmartMaintenance.Streams.Contracts;

namespace SmartMaintenance.Streams.Alerting;

/// <summary>Alert lifecycle settings of the engine (section <c>Alerts</c>).</summary>
[SettingsSection("Alerts")]
public sealed class AlertOptions
{
    [Setting("Event-time span after an alert's last anomaly that a normal reading must reach to resolve the alert.", Unit = "ms", Min = 1, Max = 604_800_000)]
    public TimeSpan QuietPeriod { get; set; } = TimeSpan.FromMinutes(5);

    [Setting("Lowest anomaly severity (1-5) that opens an alert; weaker anomalies only keep an already open alert alive.", Min = 1, Max = 5)]
    public int MinSeverity { get; set; } = 2;

    [Setting("Rise of severity over the last published severity that publishes an `updated` event (revision + 1).", Min = 1, Max = 4)]
    public int EscalationStep { get; set; } = 1;

    [Setting("Topic the alert events are published to.")]
    public string Topic { get; set; } = Topics.Alerts;

    [Setting("Key alert events by asset id (sensor id when the asset is unknown); false keys every event by sensor id.")]
    public bool KeyByAsset { get; set; } = true;

    /// <summary>Throws <see cref="ConfigurationException"/> naming the first invalid setting.</summary>
    public void Validate(string sectionPath = "Alerts")
    {
        SettingsValidator.Validate(this, sectionPath);
        if (string.IsNullOrWhiteSpace(Topic))
        {
            throw new ConfigurationException($"{sectionPath}:{nameof(Topic)}", "must not be empty");
        }
    }
}
