using System.Collections.Frozen;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Prometheus;

namespace SmartMaintenance.Streams.Scoring.Models;

/// <summary>
/// Hot-reloading model source. Polls a directory for <c>*.meta.json</c> files; per sensor type the newest
/// model (created_at, then version) that loads and validates is active. A new version that fails to load or validate is rejected and
/// the previous one stays; with no model for a sensor type, callers fall back to the statistical detectors.
/// Every transition is logged and counted.
/// </summary>
/// <remarks>
/// <see cref="Poll"/> runs on a timer (or is called directly); <see cref="TryGetScorer"/> is called by the
/// consume loop. The active set is swapped atomically; a replaced scorer is disposed one poll later so an
/// in-flight call on the consume loop never sees a disposed session.
/// </remarks>
public sealed partial class ModelProvider : IDisposable
{
    /// <summary>Key for models whose metadata has no sensor type: they serve every type without a model of its own.</summary>
    public const string AnyType = "*";

    private static readonly Counter Transitions = Metrics.CreateCounter(
        "smstream_scoring_model_transitions_total",
        "Model provider transitions: loaded (new version active), rejected (failed to load/validate, previous kept), fallback (no model: statistical detectors).",
        new CounterConfiguration { LabelNames = ["sensor_type", "transition"] });

    private static readonly Gauge ActiveVersion = Metrics.CreateGauge(
        "smstream_scoring_model_active_version",
        "Version of the active model per sensor type (0: none, statistical fallback).",
        new GaugeConfiguration { LabelNames = ["sensor_type"] });

    private readonly string _directory;
    private readonly int _batchSize;
    private readonly ILogger _logger;
    private readonly Timer? _timer;
    private readonly Lock _pollLock = new();
    /// <summary>Rejected metadata files with the stamps of both files at rejection: not retried until one changes.</summary>
    private readonly Dictionary<string, (string Stamp, string ModelPath)> _rejected = new(StringComparer.Ordinal);
    private readonly List<IModelScorer> _retired = [];
    private FrozenDictionary<string, Active> _active = FrozenDictionary<string, Active>.Empty;
    private bool _disposed;

    private sealed record Active(ModelMetadata Meta, IModelScorer Scorer, string Path);

    public ModelProvider(string directory, int batchSize = 256, ILogger<ModelProvider>? logger = null, TimeSpan? pollInterval = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        _directory = directory;
        _batchSize = batchSize;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        Poll();
        if (pollInterval is { } interval)
        {
            _timer = new Timer(_ => SafePoll(), null, interval, interval);
        }
    }

    /// <summary>Creates a provider polling <see cref="ScoringOptions.ModelDirectory"/> every <see cref="ScoringOptions.ModelPollIntervalMs"/>.</summary>
    public static ModelProvider FromOptions(ScoringOptions options, ILogger<ModelProvider>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new ModelProvider(options.ModelDirectory, options.ModelBatchSize, logger, TimeSpan.FromMilliseconds(options.ModelPollIntervalMs));
    }

    /// <summary>The active model for a sensor type (or the type-less model); false = use the statistical detectors.</summary>
    public bool TryGetScorer(string? sensorType, out IModelScorer scorer)
    {
        var active = Volatile.Read(ref _active);
        if ((sensorType is not null && active.TryGetValue(sensorType, out var a)) || active.TryGetValue(AnyType, out a))
        {
            scorer = a.Scorer;
            return true;
        }
        scorer = null!;
        return false;
    }

    /// <summary>Active model metadata per sensor type key.</summary>
    public IReadOnlyDictionary<string, ModelMetadata> ActiveModels =>
        Volatile.Read(ref _active).ToDictionary(kv => kv.Key, kv => kv.Value.Meta, StringComparer.Ordinal);

    /// <summary>Re-scans the directory once; returns the number of transitions made.</summary>
    public int Poll()
    {
        lock (_pollLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            foreach (var old in _retired)
            {
                old.Dispose();
            }
            _retired.Clear();

            var candidates = new Dictionary<string, List<(ModelMetadata Meta, string MetaPath)>>(StringComparer.Ordinal);
            if (Directory.Exists(_directory))
            {
                foreach (var metaPath in Directory.EnumerateFiles(_directory, "*" + ModelMetadata.Suffix))
                {
                    if (IsKnownBad(metaPath, metaPath))
                    {
                        continue;
                    }
                    ModelMetadata meta;
                    try
                    {
                        meta = ModelMetadata.Read(metaPath);
                    }
                    catch (Exception ex) when (ex is IOException or System.Text.Json.JsonException or InvalidDataException or UnauthorizedAccessException)
                    {
                        Reject(AnyType, metaPath, metaPath, ex.Message);
                        continue;
                    }
                    var key = meta.SensorType ?? AnyType;
                    if (!candidates.TryGetValue(key, out var list))
                    {
                        candidates[key] = list = [];
                    }
                    list.Add((meta, metaPath));
                }
            }

            var current = _active;
            var next = new Dictionary<string, Active>(current, StringComparer.Ordinal);
            var transitions = 0;
            foreach (var (key, list) in candidates)
            {
                list.Sort((a, b) => Compare(b.Meta, a.Meta));
                current.TryGetValue(key, out var active);
                foreach (var (meta, metaPath) in list)
                {
                    var modelPath = Path.Combine(Path.GetDirectoryName(metaPath)!, meta.File);
                    var order = active is null ? 1 : Compare(meta, active.Meta);
                    if (order < 0 || (order == 0 && string.Equals(active!.Path, modelPath, StringComparison.Ordinal)))
                    {
                        break; // nothing newer than what is active
                    }
                    if (IsKnownBad(metaPath, modelPath))
                    {
                        continue;
                    }
                    try
                    {
                        var scorer = LoadAndValidate(meta, modelPath);
                        if (active is not null)
                        {
                            _retired.Add(active.Scorer);
                        }
                        next[key] = new Active(meta, scorer, modelPath);
                        _rejected.Remove(metaPath);
                        LogLoaded(_logger, key, meta.Name, meta.Version, meta.Kind, modelPath);
                        Transitions.WithLabels(key, "loaded").Inc();
                        ActiveVersion.WithLabels(key).Set(meta.Version);
                        transitions++;
                        break;
                    }
                    catch (Exception ex) when (ex is not OutOfMemoryException)
                    {
                        Reject(key, metaPath, modelPath, ex.Message);
                        transitions++;
                    }
                }
            }
            // Types whose model files disappeared (and got no replacement) fall back to the statistical detectors.
            foreach (var (key, active) in current)
            {
                if (next.TryGetValue(key, out var still) && ReferenceEquals(still, active) && (!candidates.ContainsKey(key) || !File.Exists(active.Path)))
                {
                    next.Remove(key);
                    _retired.Add(active.Scorer);
                    LogFallback(_logger, key, active.Meta.Name, active.Meta.Version);
                    Transitions.WithLabels(key, "fallback").Inc();
                    ActiveVersion.WithLabels(key).Set(0);
                    transitions++;
                }
            }
            Volatile.Write(ref _active, next.ToFrozenDictionary(StringComparer.Ordinal));
            return transitions;
        }
    }

    /// <summary>Which model is newer for a sensor type: later created_at, then higher version, then name (deterministic).</summary>
    private static int Compare(ModelMetadata a, ModelMetadata b)
    {
        var c = a.CreatedAt.CompareTo(b.CreatedAt);
        if (c == 0)
        {
            c = a.Version.CompareTo(b.Version);
        }
        return c != 0 ? c : string.CompareOrdinal(a.Name, b.Name);
    }

    private bool IsKnownBad(string metaPath, string modelPath) =>
        _rejected.TryGetValue(metaPath, out var bad) && bad.ModelPath == modelPath && bad.Stamp == Stamp(metaPath, modelPath);

    private static string Stamp(string metaPath, string modelPath)
    {
        var meta = new FileInfo(metaPath);
        var model = new FileInfo(modelPath);
        return string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"{(meta.Exists ? meta.LastWriteTimeUtc.Ticks : -1)}:{(meta.Exists ? meta.Length : -1)}:{(model.Exists ? model.LastWriteTimeUtc.Ticks : -1)}:{(model.Exists ? model.Length : -1)}");
    }

    private void Reject(string key, string metaPath, string modelPath, string reason)
    {
        _rejected[metaPath] = (Stamp(metaPath, modelPath), modelPath);
        LogRejected(_logger, key, modelPath, reason);
        Transitions.WithLabels(key, "rejected").Inc();
    }

    /// <summary>Loads a model and checks it honours the contract: feature count, finite scores in [0,1] on a probe batch.</summary>
    public IModelScorer LoadAndValidate(ModelMetadata meta, string modelPath)
    {
        ArgumentNullException.ThrowIfNull(meta);
        if (meta.Features.Count != WindowFeatures.Count || !meta.Features.SequenceEqual(WindowFeatures.Names, StringComparer.Ordinal))
        {
            throw new InvalidDataException($"Model features [{string.Join(',', meta.Features)}] do not match the contract [{string.Join(',', WindowFeatures.Names)}].");
        }
        IModelScorer scorer = meta.Kind switch
        {
            ModelKinds.Pca => PcaScorer.Load(meta.ModelId, modelPath),
            ModelKinds.FastTree or ModelKinds.Onnx => new OnnxScorer(meta.ModelId, modelPath, meta.Input, meta.Output, _batchSize),
            _ => throw new InvalidDataException($"Unknown model kind '{meta.Kind}'."),
        };
        try
        {
            if (scorer.FeatureCount != WindowFeatures.Count)
            {
                throw new InvalidDataException($"Model takes {scorer.FeatureCount} features, the contract has {WindowFeatures.Count}.");
            }
            const int probeRows = 4;
            var probe = new float[probeRows * WindowFeatures.Count];
            for (var i = 0; i < probe.Length; i++)
            {
                probe[i] = (i % 7) - 3;
            }
            var scores = new float[probeRows];
            scorer.Score(probe, probeRows, scores);
            foreach (var s in scores)
            {
                if (!float.IsFinite(s) || s < 0 || s > 1)
                {
                    throw new InvalidDataException($"Model produced {s} on the probe batch; scores must be in [0,1].");
                }
            }
            return scorer;
        }
        catch
        {
            scorer.Dispose();
            throw;
        }
    }

    private void SafePoll()
    {
        try
        {
            Poll();
        }
        catch (ObjectDisposedException)
        {
            // Timer callback raced with Dispose.
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            LogPollFailed(_logger, _directory, ex.Message);
        }
    }

    public void Dispose()
    {
        _timer?.Dispose();
        lock (_pollLock)
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
            foreach (var a in _active.Values)
            {
                a.Scorer.Dispose();
            }
            foreach (var r in _retired)
            {
                r.Dispose();
            }
            _retired.Clear();
            _active = FrozenDictionary<string, Active>.Empty;
        }
    }

    [LoggerMessage(EventId = 5101, Level = LogLevel.Information, Message = "Model for sensor type {SensorType}: {Name} v{Version} ({Kind}) is active, from {Path}")]
    private static partial void LogLoaded(ILogger logger, string sensorType, string name, int version, string kind, string path);

    [LoggerMessage(EventId = 5102, Level = LogLevel.Warning, Message = "Model for sensor type {SensorType} rejected, previous model (if any) stays active: {Path}: {Reason}")]
    private static partial void LogRejected(ILogger logger, string sensorType, string path, string reason);

    [LoggerMessage(EventId = 5103, Level = LogLevel.Warning, Message = "Model for sensor type {SensorType} ({Name} v{Version}) is gone; falling back to the statistical detectors")]
    private static partial void LogFallback(ILogger logger, string sensorType, string name, int version);

    [LoggerMessage(EventId = 5104, Level = LogLevel.Warning, Message = "Polling model directory {Directory} failed: {Reason}")]
    private static partial void LogPollFailed(ILogger logger, string directory, string reason);
}
