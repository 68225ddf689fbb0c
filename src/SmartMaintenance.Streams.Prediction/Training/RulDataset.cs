using SmartMaintenance.Streams.Prediction.Cmapss;
using SmartMaintenance.Streams.Prediction.Rul;

namespace SmartMaintenance.Streams.Prediction.Training;

/// <summary>Feature rows of run-to-failure engines: one per cycle, labelled with its RUL (capped and true).</summary>
public sealed record RulDataset(IReadOnlyList<float[]> Features, IReadOnlyList<float> Rul, IReadOnlyList<int> Units, IReadOnlyList<int> Cycles)
{
    /// <summary>Runs each engine through an <see cref="AssetFeatureState"/> (the engine's code) and takes the features after
    /// every cycle; the RUL of a cycle is the engine's last cycle minus it.</summary>
    public static RulDataset Build(IEnumerable<CmapssUnit> units, RulFeatureSpec spec, OperatingConditions conditions)
    {
        ArgumentNullException.ThrowIfNull(units);
        ArgumentNullException.ThrowIfNull(spec);
        var features = new List<float[]>();
        var rul = new List<float>();
        var ids = new List<int>();
        var cycles = new List<int>();
        foreach (var unit in units)
        {
            var state = new AssetFeatureState(spec, conditions);
            var last = unit.LastCycle;
            foreach (var row in unit.Rows)
            {
                state.AddCycle(row);
                var f = new float[spec.FeatureCount];
                state.WriteFeatures(f);
                features.Add(f);
                rul.Add(last - (int)row[0]);
                ids.Add(unit.Unit);
                cycles.Add((int)row[0]);
            }
        }
        return new RulDataset(features, rul, ids, cycles);
    }
}
