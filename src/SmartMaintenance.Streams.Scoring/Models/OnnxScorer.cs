using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace SmartMaintenance.Streams.Scoring.Models;

/// <summary>
/// Scores feature rows with an ONNX model through OnnxRuntime in micro-batches (one Run costs a few µs, so rows
/// are grouped up to <c>batchSize</c>). Input: float32 [N, F]; output: float32 [N] or [N, 1] in [0,1].
/// Thread-safe (calls are serialized over the shared pinned buffers); give each consume loop its own
/// instance when several score in parallel.
/// </summary>
public sealed class OnnxScorer : IModelScorer
{
    private readonly InferenceSession _session;
    private readonly RunOptions _run = new();
    private readonly string[] _inputNames;
    private readonly string[] _outputNames;
    private readonly int _batch;
    private readonly float[] _inputBuffer;
    private readonly float[] _outputBuffer;
    private readonly OrtValue _fullInput;
    private readonly OrtValue _fullOutput;
    private readonly OrtValue[] _fullInputs;
    private readonly OrtValue[] _fullOutputs;
    private readonly bool _outputIs2D;
    // Calls share the pinned buffers; a lock per micro-batch call is negligible next to OnnxRuntime's few µs.
    private readonly Lock _gate = new();

    public OnnxScorer(string modelId, string path, string? input = null, string? output = null, int batchSize = 256)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ModelId = modelId;
        using var options = new SessionOptions { InterOpNumThreads = 1, IntraOpNumThreads = 1, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        _session = new InferenceSession(path, options);
        try
        {
            input ??= _session.InputMetadata.ContainsKey("features") ? "features" : _session.InputMetadata.Keys.First();
            if (!_session.InputMetadata.TryGetValue(input, out var inMeta))
            {
                throw new InvalidDataException($"ONNX model has no input '{input}'.");
            }
            if (_session.InputMetadata.Count != 1)
            {
                throw new InvalidDataException($"ONNX model must have exactly one input, it has {_session.InputMetadata.Count}.");
            }
            if (inMeta.ElementDataType != TensorElementType.Float || inMeta.Dimensions.Length != 2 || inMeta.Dimensions[1] <= 0)
            {
                throw new InvalidDataException($"ONNX input '{input}' must be float32 [N, features].");
            }
            output ??= _session.OutputMetadata.ContainsKey("score") ? "score"
                : _session.OutputMetadata.ContainsKey("Probability.output") ? "Probability.output"
                : _session.OutputMetadata.Keys.First();
            if (!_session.OutputMetadata.TryGetValue(output, out var outMeta))
            {
                throw new InvalidDataException($"ONNX model has no output '{output}'.");
            }
            if (outMeta.ElementDataType != TensorElementType.Float || outMeta.Dimensions.Length is < 1 or > 2
                || (outMeta.Dimensions.Length == 2 && outMeta.Dimensions[1] != 1))
            {
                throw new InvalidDataException($"ONNX output '{output}' must be float32 [N] or [N, 1].");
            }
            FeatureCount = inMeta.Dimensions[1];
            _inputNames = [input];
            _outputNames = [output];
            _outputIs2D = outMeta.Dimensions.Length == 2;
            _batch = batchSize;
            _inputBuffer = new float[batchSize * FeatureCount];
            _outputBuffer = new float[batchSize];
            _fullInput = OrtValue.CreateTensorValueFromMemory(_inputBuffer, [batchSize, FeatureCount]);
            _fullOutput = OrtValue.CreateTensorValueFromMemory(_outputBuffer, _outputIs2D ? [batchSize, 1] : [batchSize]);
            _fullInputs = [_fullInput];
            _fullOutputs = [_fullOutput];
        }
        catch
        {
            _session.Dispose();
            _run.Dispose();
            throw;
        }
    }

    public string ModelId { get; }

    public int FeatureCount { get; }

    public void Score(ReadOnlySpan<float> features, int rows, Span<float> scores)
    {
        var f = FeatureCount;
        if (features.Length < rows * f || scores.Length < rows)
        {
            throw new ArgumentException($"Expected {rows} rows of {f} features and room for {rows} scores.");
        }
        lock (_gate)
        {
            ScoreLocked(features, rows, scores, f);
        }
    }

    private void ScoreLocked(ReadOnlySpan<float> features, int rows, Span<float> scores, int f)
    {
        var done = 0;
        while (rows - done >= _batch)
        {
            features.Slice(done * f, _batch * f).CopyTo(_inputBuffer);
            _session.Run(_run, _inputNames, _fullInputs, _outputNames, _fullOutputs);
            _outputBuffer.AsSpan().CopyTo(scores.Slice(done, _batch));
            done += _batch;
        }
        var rest = rows - done;
        if (rest > 0)
        {
            // The tail goes as one smaller batch over the same pinned buffers.
            features.Slice(done * f, rest * f).CopyTo(_inputBuffer);
            using var input = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, _inputBuffer.AsMemory(0, rest * f), [rest, f]);
            using var output = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, _outputBuffer.AsMemory(0, rest), _outputIs2D ? [rest, 1] : [rest]);
            _session.Run(_run, _inputNames, [input], _outputNames, [output]);
            _outputBuffer.AsSpan(0, rest).CopyTo(scores.Slice(done, rest));
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            DisposeLocked();
        }
    }

    private void DisposeLocked()
    {
        _fullInput.Dispose();
        _fullOutput.Dispose();
        _run.Dispose();
        _session.Dispose();
    }
}
