using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using SmartMaintenance.Streams.Contracts;
using SmartMaintenance.Streams.Windowing;

namespace SmartMaintenance.Streams.Benchmarks;

/// <summary>Short in-process runs: the box is shared, so no child build and few iterations.</summary>
internal sealed class WindowingConfig : ManualConfig
{
    public WindowingConfig()
    {
        AddJob(Job.ShortRun.WithToolchain(InProcessEmitToolchain.Instance).WithId("short-inproc"));
        AddDiagnoser(BenchmarkDotNet.Diagnosers.MemoryDiagnoser.Default);
    }
}

/// <summary>Pushes synthetic readings straight into the operator's observer, continuing event time across invocations.</summary>
internal sealed class WindowingDriver : IObservable<StreamEvent<SensorReading>>, IObserver<StreamEvent<WindowOutput>>
{
    private IObserver<StreamEvent<SensorReading>>? _input;

    public long Outputs;

    public IObserver<StreamEvent<SensorReading>> Input => _input!;

    public IDisposable Subscribe(IObserver<StreamEvent<SensorReading>> observer)
    {
        _input = observer;
        return System.Reactive.Disposables.Disposable.Empty;
    }

    public void OnNext(StreamEvent<WindowOutput> value) => Outputs++;

    public void OnError(Exception error) => throw error;

    public void OnCompleted()
    {
    }
}

/// <summary>
/// Readings/s of the window operator against a hand-written Dictionary loop (no Rx, count/sum/min/max only)
/// over the same in-memory input. One op = one reading.
/// </summary>
[Config(typeof(WindowingConfig))]
public class WindowingBenchmarks
{
    private const int BatchReadings = 200_000;
    private const long StepMs = 1000;
    private const int WatermarkEvery = 1000;
    private const long OutOfOrderness = 5000;
    // 1M keys: each reports every 30 s, so a 1-minute window closes every 2M readings.
    private const long Step1M = 30_000;

    private string[] _keys10k = [];
    private string[] _keys1m = [];
    private long _time10k;
    private long _time1m;
    private long _timeBaseline;
    private readonly Dictionary<string, BaselineState> _baseline = new(StringComparer.Ordinal);
    private WindowingDriver _tumbling10k = null!;
    private WindowingDriver _tumbling1m = null!;
    private WindowingDriver _hopping = null!;
    private WindowingDriver _session = null!;
    private WindowingDriver _defaults = null!;
    private IDisposable[] _subscriptions = [];
    private long _timeHopping;
    private long _timeSession;
    private long _timeDefaults;

    private struct BaselineState
    {
        public long WindowStart;
        public long Count;
        public double Sum;
        public double Min;
        public double Max;
    }

    [GlobalSetup(Target = nameof(Baseline10k))]
    public void SetupBaseline()
    {
        _keys10k = Keys(10_000);
        WarmUp(Baseline10k, 8);
    }

    [GlobalSetup(Target = nameof(Tumbling10k))]
    public void SetupTumbling10k()
    {
        _keys10k = Keys(10_000);
        _tumbling10k = Start([WindowSpec.Tumbling(TimeSpan.FromMinutes(1))]);
        WarmUp(Tumbling10k, 8);
    }

    [GlobalSetup(Target = nameof(Tumbling1M))]
    public void SetupTumbling1M()
    {
        _keys1m = Keys(1_000_000);
        _tumbling1m = Start([WindowSpec.Tumbling(TimeSpan.FromMinutes(1))]);
        WarmUp(Tumbling1M, 60);
    }

    [GlobalSetup(Target = nameof(Hopping10k))]
    public void SetupHopping()
    {
        _keys10k = Keys(10_000);
        _hopping = Start([WindowSpec.Hopping(TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(1))]);
        WarmUp(Hopping10k, 20);
    }

    [GlobalSetup(Target = nameof(Session10k))]
    public void SetupSession()
    {
        _keys10k = Keys(10_000);
        _session = Start([WindowSpec.Session(TimeSpan.FromSeconds(30))]);
        WarmUp(Session10k, 8);
    }

    [GlobalSetup(Target = nameof(Defaults10k))]
    public void SetupDefaults()
    {
        _keys10k = Keys(10_000);
        _defaults = Start([WindowSpec.Tumbling(TimeSpan.FromMinutes(1)), WindowSpec.Hopping(TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(1))]);
        WarmUp(Defaults10k, 20);
    }

    // Past the first window closes (and the dedup horizon), so measurements see the steady state: pooled sketches, grown arrays.
    private static void WarmUp(Func<long> batch, int batches)
    {
        for (var i = 0; i < batches; i++)
        {
            batch();
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var s in _subscriptions)
        {
            s.Dispose();
        }
    }

    private WindowingDriver Start(WindowSpec[] specs)
    {
        var driver = new WindowingDriver();
        _subscriptions = [.. _subscriptions, driver.AggregateWindows(specs).Subscribe(driver)];
        return driver;
    }

    internal static string[] Keys(int n)
    {
        var keys = new string[n];
        for (var i = 0; i < n; i++)
        {
            keys[i] = string.Intern("sensor-" + i.ToString("D7", System.Globalization.CultureInfo.InvariantCulture));
        }
        return keys;
    }

    /// <summary>Each key reports once per <see cref="StepMs"/> of event time, slightly out of order; watermark every 1000 readings.</summary>
    private static void Feed(IObserver<StreamEvent<SensorReading>> input, string[] keys, ref long clock, ref int cursor, long stepMs = StepMs)
    {
        var time = clock;
        var c = cursor;
        for (var i = 0; i < BatchReadings; i++)
        {
            var k = keys[c];
            var ts = time + (c * stepMs / keys.Length) - ((i * 7919) % 400);
            input.OnNext(StreamEvent<SensorReading>.Data(new SensorReading(k, ts, (i % 1000) * 0.1, Position: new SourcePosition(0, i, 0))));
            if (++c == keys.Length)
            {
                c = 0;
                time += stepMs;
            }
            if (i % WatermarkEvery == 0)
            {
                input.OnNext(StreamEvent<SensorReading>.Watermark(time - OutOfOrderness));
            }
        }
        clock = time;
        cursor = c;
    }

    private int _cursor10k;
    private int _cursor1m;
    private int _cursorBaseline;
    private int _cursorHopping;
    private int _cursorSession;
    private int _cursorDefaults;

    [Benchmark(Baseline = true, OperationsPerInvoke = BatchReadings, Description = "baseline Dictionary loop, 10k keys")]
    public long Baseline10k()
    {
        var time = _timeBaseline;
        var c = _cursorBaseline;
        var keys = _keys10k;
        long emitted = 0;
        for (var i = 0; i < BatchReadings; i++)
        {
            var ts = time + (c * StepMs / keys.Length) - ((i * 7919) % 400);
            var value = (i % 1000) * 0.1;
            var windowStart = ts - (ts % 60_000);
            ref var s = ref CollectionsMarshal.GetValueRefOrAddDefault(_baseline, keys[c], out _);
            if (s.WindowStart != windowStart)
            {
                emitted += s.Count;
                s = new BaselineState { WindowStart = windowStart, Min = value, Max = value };
            }
            s.Count++;
            s.Sum += value;
            s.Min = Math.Min(s.Min, value);
            s.Max = Math.Max(s.Max, value);
            if (++c == keys.Length)
            {
                c = 0;
                time += StepMs;
            }
        }
        _timeBaseline = time;
        _cursorBaseline = c;
        return emitted;
    }

    [Benchmark(OperationsPerInvoke = BatchReadings, Description = "tumbling 1m, 10k keys")]
    public long Tumbling10k()
    {
        Feed(_tumbling10k.Input, _keys10k, ref _time10k, ref _cursor10k);
        return _tumbling10k.Outputs;
    }

    [Benchmark(OperationsPerInvoke = BatchReadings, Description = "tumbling 1m, 1M keys")]
    public long Tumbling1M()
    {
        Feed(_tumbling1m.Input, _keys1m, ref _time1m, ref _cursor1m, Step1M);
        return _tumbling1m.Outputs;
    }

    [Benchmark(OperationsPerInvoke = BatchReadings, Description = "hopping 5m/1m, 10k keys")]
    public long Hopping10k()
    {
        Feed(_hopping.Input, _keys10k, ref _timeHopping, ref _cursorHopping);
        return _hopping.Outputs;
    }

    [Benchmark(OperationsPerInvoke = BatchReadings, Description = "session 30s, 10k keys")]
    public long Session10k()
    {
        Feed(_session.Input, _keys10k, ref _timeSession, ref _cursorSession);
        return _session.Outputs;
    }

    [Benchmark(OperationsPerInvoke = BatchReadings, Description = "default specs (tumbling 1m + hopping 5m/1m), 10k keys")]
    public long Defaults10k()
    {
        Feed(_defaults.Input, _keys10k, ref _timeDefaults, ref _cursorDefaults);
        return _defaults.Outputs;
    }
}
