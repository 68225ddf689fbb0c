using SmartMaintenance.Streams.Scoring.Nab;
using Xunit;

namespace SmartMaintenance.Streams.Scoring.Tests;

public sealed class NabLofoTests
{
    private static readonly string[] ThreeFolders =
    [
        "artificialNoAnomaly/art_daily_small_noise.csv",
        "realAdExchange/exchange-2_cpc_results.csv",
        "realKnownCause/rogue_agent_key_hold.csv",
    ];

    private static (IReadOnlyList<NabSeries> Corpus, IReadOnlyList<NabProfile> Profiles, IReadOnlyList<NabCandidate> Candidates) Setup()
    {
        var root = Synthetic.NabDev();
        var corpus = NabCorpus.Load(root).Where(s => ThreeFolders.Contains(s.Name)).ToList();
        var candidates = NabLofo.Neighbourhood(new ScoringOptions(), [nameof(DetectorOptions.SpikeZThreshold)], [0.75]);
        return (corpus, NabCorpus.LoadProfiles(root), candidates);
    }

    [Fact]
    public void A_held_out_folders_labels_never_reach_its_own_choice_of_configuration_or_threshold()
    {
        var (corpus, profiles, candidates) = Setup();
        var original = NabLofo.Run(corpus, profiles, candidates);
        // Move every window of the held-out folder: what is chosen for it must not change, its score does.
        var moved = corpus.Select(s => NabLofo.FolderOf(s.Name) == "realKnownCause"
            ? s with { Windows = [(s.Values.Length - 300, s.Values.Length - 200)] }
            : s).ToList();
        var relabelled = NabLofo.Run(moved, profiles, candidates);

        foreach (var protocol in (NabProtocol[])[NabProtocol.Swept, NabProtocol.FireThreshold])
        {
            Assert.Equal(3, original.Folds(protocol).Count);
            Assert.Equal(ThreeFolders.Length, original.Folds(protocol).Sum(f => f.Series));
            var before = original.Folds(protocol).Single(f => f.Folder == "realKnownCause");
            var after = relabelled.Folds(protocol).Single(f => f.Folder == "realKnownCause");
            Assert.Equal(before.Chosen, after.Chosen);
            Assert.Equal(before.Thresholds, after.Thresholds);
            Assert.NotEqual(before.Standard.Raw, after.Standard.Raw);
        }
    }

    [Fact]
    public void Neighbourhood_moves_one_setting_at_a_time_and_keeps_integer_settings_whole()
    {
        var candidates = NabLofo.Neighbourhood(new ScoringOptions(), [nameof(DetectorOptions.WarmupReadings), nameof(DetectorOptions.ShiftH)], [0.75, 1.33]);
        Assert.Equal(5, candidates.Count);
        Assert.Equal("base", candidates[0].Name);
        Assert.Equal(150, candidates[1].Options.Defaults.WarmupReadings);
        Assert.Equal(266, candidates[2].Options.Defaults.WarmupReadings);
        Assert.Equal(15 * 0.75, candidates[3].Options.Defaults.ShiftH, 9);
        Assert.Equal(200, candidates[3].Options.Defaults.WarmupReadings);
    }
}
