using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using SmartMaintenance.Streams.Contracts;

namespace SmartMaintenance.Streams.Alerting;

/// <summary>
/// Alert lifecycle per (sensor, detector): an anomaly opens an alert, repeats extend it, a severity rise of at
/// least <see cref="AlertOptions.EscalationStep"/> publishes <c>updated</c>, and a normal reading at least
/// <see cref="AlertOptions.QuietPeriod"/> (event time) after the last anomaly resolves it.
/// </summary>
/// <remarks>
/// Single-threaded: the engine calls it per record on its consume thread. Deterministic: output depends only on the
/// input sequence (and the restored snapshot), never on wall-clock time or hash order, so a replay after a crash
/// republishes identical events. <see cref="AlertEvent.PublishedAt"/> is set to the event time of the record that
/// caused the event; <see cref="AlertPublisher"/> stamps the wall-clock publication time when it sends.
/// </remarks>
public sealed class AlertTracker
{
    private readonly Dictionary<string, SensorAlerts> _sensors = new(StringComparer.Ordinal);
    private readonly long _quietMs;
    private readonly int _minSeverity;
    private readonly int _escalationStep;
    private int _openCount;

    public AlertTracker(AlertOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _quietMs = (long)options.QuietPeriod.TotalMilliseconds;
        _minSeverity = options.MinSeverity;
        _escalationStep = options.EscalationStep;
    }

    /// <summary>Number of open alerts.</summary>
    public int OpenCount => _openCount;

    /// <summary>A copy of the open alerts in snapshot order (sensor id ordinal, then opening order).</summary>
    public IReadOnlyCollection<OpenAlert> Open => Snapshot().Alerts;

    /// <summary>Feeds one anomaly; appends the events it causes (open or updated) to <paramref name="output"/>.</summary>
    public void OnAnomaly(Anomaly anomaly, List<AlertEvent> output)
    {
        ArgumentNullException.ThrowIfNull(anomaly);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(anomaly.SensorId);
        ArgumentNullException.ThrowIfNull(anomaly.Detector);

        _sensors.TryGetValue(anomaly.SensorId, out var sensor);
        var alert = sensor?.Find(anomaly.Detector);
        if (alert is null)
        {
            if (anomaly.Severity < _minSeverity)
            {
                return;
            }
            if (sensor is null)
            {
                sensor = new SensorAlerts();
                _sensors.Add(anomaly.SensorId, sensor);
            }
            alert = AlertState.Open(anomaly);
            sensor.Alerts.Add(alert);
            _openCount++;
            AlertingMetrics.OpenAlerts.Inc();
            sensor.RecomputeDue(_quietMs);
            output.Add(alert.ToEvent(AlertStatus.Open, anomaly.Timestamp));
            return;
        }

        alert.Extend(anomaly);
        sensor!.RecomputeDue(_quietMs);
        if (anomaly.Severity >= alert.Severity + _escalationStep)
        {
            alert.Severity = Math.Min(anomaly.Severity, 5);
            alert.Revision++;
            output.Add(alert.ToEvent(AlertStatus.Updated, anomaly.Timestamp));
        }
    }

    /// <summary>
    /// Feeds a reading that produced no anomaly. Resolves the sensor's open alerts whose last anomaly is at least the
    /// quiet period before <paramref name="eventTimeMs"/>. Allocates nothing when no alert resolves.
    /// </summary>
    public void OnNormal(string sensorId, long eventTimeMs, List<AlertEvent> output)
    {
        if (!_sensors.TryGetValue(sensorId, out var sensor) || eventTimeMs < sensor.NextDueMs)
        {
            return;
        }
        ArgumentNullException.ThrowIfNull(output);
        var alerts = sensor.Alerts;
        var kept = 0;
        for (var i = 0; i < alerts.Count; i++)
        {
            var alert = alerts[i];
            if (eventTimeMs - alert.LastSeenMs >= _quietMs)
            {
                alert.Revision++;
                output.Add(alert.ToEvent(AlertStatus.Resolved, eventTimeMs));
                _openCount--;
                AlertingMetrics.OpenAlerts.Dec();
            }
            else
            {
                alerts[kept++] = alert;
            }
        }
        alerts.RemoveRange(kept, alerts.Count - kept);
        if (kept == 0)
        {
            _sensors.Remove(sensorId);
        }
        else
        {
            sensor.RecomputeDue(_quietMs);
        }
    }

    /// <summary>The state to persist; restoring it and replaying the same input reproduces the same events.</summary>
    public AlertTrackerSnapshot Snapshot()
    {
        var ids = new List<string>(_sensors.Keys);
        ids.Sort(StringComparer.Ordinal);
        var list = new List<OpenAlert>(_openCount);
        foreach (var id in ids)
        {
            foreach (var alert in _sensors[id].Alerts)
            {
                list.Add(alert.ToOpenAlert());
            }
        }
        return new AlertTrackerSnapshot { Alerts = list };
    }

    /// <summary>Replaces all state with <paramref name="snapshot"/>.</summary>
    public void Restore(AlertTrackerSnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        if (snapshot.Version != AlertTrackerSnapshot.CurrentVersion)
        {
            throw new ArgumentException($"Unsupported alert tracker snapshot version {snapshot.Version}.", nameof(snapshot));
        }
        _sensors.Clear();
        AlertingMetrics.OpenAlerts.Dec(_openCount);
        _openCount = 0;
        foreach (var open in snapshot.Alerts)
        {
            ref var sensor = ref CollectionsMarshal.GetValueRefOrAddDefault(_sensors, open.SensorId, out _);
            sensor ??= new SensorAlerts();
            if (sensor.Find(open.Detector) is not null)
            {
                throw new ArgumentException($"Snapshot holds two open alerts for sensor '{open.SensorId}', detector '{open.Detector}'.", nameof(snapshot));
            }
            sensor.Alerts.Add(AlertState.From(open));
            _openCount++;
            AlertingMetrics.OpenAlerts.Inc();
        }
        foreach (var sensor in _sensors.Values)
        {
            sensor.RecomputeDue(_quietMs);
        }
    }

    /// <summary>UTF-8 JSON of <see cref="Snapshot"/>, for storing beside the engine's offsets.</summary>
    public byte[] SnapshotJson() => JsonSerializer.SerializeToUtf8Bytes(Snapshot(), AlertingJsonContext.Default.AlertTrackerSnapshot);

    /// <summary>Restores from bytes written by <see cref="SnapshotJson"/>.</summary>
    public void RestoreJson(ReadOnlySpan<byte> json)
    {
        var snapshot = JsonSerializer.Deserialize(json, AlertingJsonContext.Default.AlertTrackerSnapshot)
            ?? throw new ArgumentException("Alert tracker snapshot is null.", nameof(json));
        Restore(snapshot);
    }

    /// <summary>UTF-8 JSON of one sensor's open alerts (a snapshot holding only them), for storing with the sensor's
    /// detector state; null when the sensor has none (nothing allocated).</summary>
    public byte[]? SensorSnapshotJson(string sensorId)
    {
        ArgumentNullException.ThrowIfNull(sensorId);
        if (!_sensors.TryGetValue(sensorId, out var sensor) || sensor.Alerts.Count == 0)
        {
            return null;
        }
        var list = new List<OpenAlert>(sensor.Alerts.Count);
        foreach (var alert in sensor.Alerts)
        {
            list.Add(alert.ToOpenAlert());
        }
        return JsonSerializer.SerializeToUtf8Bytes(new AlertTrackerSnapshot { Alerts = list }, AlertingJsonContext.Default.AlertTrackerSnapshot);
    }

    /// <summary>Replaces one sensor's open alerts with those of <paramref name="json"/> (from <see cref="SensorSnapshotJson"/>);
    /// other sensors keep theirs.</summary>
    public void RestoreSensorJson(string sensorId, ReadOnlySpan<byte> json)
    {
        ArgumentNullException.ThrowIfNull(sensorId);
        var snapshot = JsonSerializer.Deserialize(json, AlertingJsonContext.Default.AlertTrackerSnapshot)
            ?? throw new ArgumentException("Alert tracker snapshot is null.", nameof(json));
        if (snapshot.Version != AlertTrackerSnapshot.CurrentVersion)
        {
            throw new ArgumentException($"Unsupported alert tracker snapshot version {snapshot.Version}.", nameof(json));
        }
        var sensor = new SensorAlerts();
        foreach (var open in snapshot.Alerts)
        {
            if (!string.Equals(open.SensorId, sensorId, StringComparison.Ordinal))
            {
                throw new ArgumentException($"Snapshot of sensor '{sensorId}' holds an alert of sensor '{open.SensorId}'.", nameof(json));
            }
            if (sensor.Find(open.Detector) is not null)
            {
                throw new ArgumentException($"Snapshot holds two open alerts for sensor '{open.SensorId}', detector '{open.Detector}'.", nameof(json));
            }
            sensor.Alerts.Add(AlertState.From(open));
        }
        RemoveSensor(sensorId);
        if (sensor.Alerts.Count == 0)
        {
            return;
        }
        sensor.RecomputeDue(_quietMs);
        _sensors.Add(sensorId, sensor);
        _openCount += sensor.Alerts.Count;
        AlertingMetrics.OpenAlerts.Inc(sensor.Alerts.Count);
    }

    /// <summary>Forgets one sensor's open alerts (its partition moved to another instance, which restores them).</summary>
    public void RemoveSensor(string sensorId)
    {
        ArgumentNullException.ThrowIfNull(sensorId);
        if (_sensors.Remove(sensorId, out var sensor))
        {
            _openCount -= sensor.Alerts.Count;
            AlertingMetrics.OpenAlerts.Dec(sensor.Alerts.Count);
        }
    }

    private sealed class SensorAlerts
    {
        // One entry per detector with an open alert; a handful at most, so a list beats a nested dictionary.
        public readonly List<AlertState> Alerts = new(2);
        public long NextDueMs = long.MaxValue;

        public AlertState? Find(string detector)
        {
            foreach (var a in Alerts)
            {
                if (string.Equals(a.Detector, detector, StringComparison.Ordinal))
                {
                    return a;
                }
            }
            return null;
        }

        public void RecomputeDue(long quietMs)
        {
            var min = long.MaxValue;
            foreach (var a in Alerts)
            {
                var due = a.LastSeenMs > long.MaxValue - quietMs ? long.MaxValue : a.LastSeenMs + quietMs;
                min = Math.Min(min, due);
            }
            NextDueMs = min;
        }
    }

    private sealed class AlertState
    {
        public required string AlertId;
        public required string SensorId;
        public required string Detector;
        public string? AssetId;
        public string? SensorType;
        public int Revision;
        public int Severity;
        public long FirstSeenMs;
        public long LastSeenMs;
        public double PeakScore;
        public double Threshold;
        public double Value;
        public long WindowStartMs;
        public long WindowEndMs;
        public string Evidence = "{}";

        public static AlertState Open(Anomaly a) => new()
        {
            AlertId = AlertIds.For(a.SensorId, a.Detector, a.Timestamp),
            SensorId = a.SensorId,
            Detector = a.Detector,
            AssetId = a.AssetId,
            SensorType = a.SensorType,
            Severity = Math.Clamp(a.Severity, 1, 5),
            FirstSeenMs = a.Timestamp,
            LastSeenMs = a.Timestamp,
            PeakScore = a.Score,
            Threshold = a.Threshold,
            Value = a.Value,
            WindowStartMs = a.WindowStart,
            WindowEndMs = a.WindowEnd,
            Evidence = a.Evidence ?? "{}",
        };

        public static AlertState From(OpenAlert o) => new()
        {
            AlertId = o.AlertId,
            SensorId = o.SensorId,
            Detector = o.Detector,
            AssetId = o.AssetId,
            SensorType = o.SensorType,
            Revision = o.Revision,
            Severity = o.Severity,
            FirstSeenMs = o.FirstSeenMs,
            LastSeenMs = o.LastSeenMs,
            PeakScore = o.PeakScore,
            Threshold = o.Threshold,
            Value = o.Value,
            WindowStartMs = o.WindowStartMs,
            WindowEndMs = o.WindowEndMs,
            Evidence = o.Evidence,
        };

        public void Extend(Anomaly a)
        {
            LastSeenMs = Math.Max(LastSeenMs, a.Timestamp);
            AssetId ??= a.AssetId;
            SensorType ??= a.SensorType;
            // Strictly greater keeps the first of equal peaks, so replays pick the same evidence.
            if (a.Score > PeakScore)
            {
                PeakScore = a.Score;
                Threshold = a.Threshold;
                Value = a.Value;
                WindowStartMs = a.WindowStart;
                WindowEndMs = a.WindowEnd;
                Evidence = a.Evidence ?? "{}";
            }
        }

        public OpenAlert ToOpenAlert() => new()
        {
            AlertId = AlertId,
            SensorId = SensorId,
            Detector = Detector,
            AssetId = AssetId,
            SensorType = SensorType,
            Revision = Revision,
            Severity = Severity,
            FirstSeenMs = FirstSeenMs,
            LastSeenMs = LastSeenMs,
            PeakScore = PeakScore,
            Threshold = Threshold,
            Value = Value,
            WindowStartMs = WindowStartMs,
            WindowEndMs = WindowEndMs,
            Evidence = Evidence,
        };

        public AlertEvent ToEvent(string status, long eventTimeMs) => new()
        {
            AlertId = AlertId,
            Status = status,
            Revision = Revision,
            Severity = Severity,
            SensorId = SensorId,
            AssetId = AssetId,
            SensorType = SensorType,
            Detector = Detector,
            Score = PeakScore,
            Threshold = Threshold,
            Value = Value,
            WindowStart = DateTimeOffset.FromUnixTimeMilliseconds(WindowStartMs),
            WindowEnd = DateTimeOffset.FromUnixTimeMilliseconds(WindowEndMs),
            FirstSeen = DateTimeOffset.FromUnixTimeMilliseconds(FirstSeenMs),
            LastSeen = DateTimeOffset.FromUnixTimeMilliseconds(LastSeenMs),
            PublishedAt = DateTimeOffset.FromUnixTimeMilliseconds(eventTimeMs),
            Evidence = ParseEvidence(Evidence),
            CorrelationId = AlertId,
        };

        private static JsonObject ParseEvidence(string evidence)
        {
            try
            {
                if (JsonNode.Parse(evidence) is JsonObject obj)
                {
                    return obj;
                }
            }
            catch (JsonException)
            {
                // Detectors promise a JSON object; keep whatever they sent rather than dropping the alert.
            }
            return new JsonObject { ["raw"] = evidence };
        }
    }
}
