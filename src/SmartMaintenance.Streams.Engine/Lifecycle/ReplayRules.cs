using SmartMaintenance.Streams.Storage;

namespace SmartMaintenance.Streams.Engine.Lifecycle;

/// <summary>
/// The engine's side of the replay rules (docs/design.md, "Why a stored final aggregate equals its recompute"), in one
/// place: where a partition resumes and under which floor, what counts as a replayed record, and what a batch commits
/// as the partition's replay point and a detector state's position. <see cref="StreamEngine"/> calls these; the seeded
/// model test of the rebalance schedules calls the same ones, so what it proves is what the engine does.
/// </summary>
public static class ReplayRules
{
    /// <summary>Where a partition with a stored row resumes: its replay point, never above its next offset.</summary>
    public static long ResumeAt(in OffsetMark stored) => Math.Min(stored.ReplayFrom, stored.NextOffset);

    /// <summary>The watermark floor a partition resumes under: the stored operator watermark, none when unknown.</summary>
    public static long? Floor(in OffsetMark stored) => stored.Watermark == long.MinValue ? null : stored.Watermark;

    /// <summary>A record below the stored next offset is replayed: it rebuilds state and produces nothing (its effects
    /// are durable already).</summary>
    public static bool IsReplay(long offset, long storedNext) => offset < storedNext;

    /// <summary>
    /// The replay point a batch commits for a partition: the lowest offset an open window still needs, lowered to the
    /// lowest offset whose detector state is not yet stored, and never above the next offset.
    /// </summary>
    public static long ReplayFrom(long next, long? lowestNeeded, long? lowestUntaken)
    {
        var replayFrom = lowestNeeded is { } n && n < next ? n : next;
        return lowestUntaken is { } u && u < replayFrom ? u : replayFrom;
    }

    /// <summary>A detector state taken now holds its sensor's readings below the partition's consume position, or below
    /// the position its restored state already claimed while the partition still replays.</summary>
    public static long StatePosition(long consumePosition, long minPosition) => Math.Max(consumePosition, minPosition);
}
