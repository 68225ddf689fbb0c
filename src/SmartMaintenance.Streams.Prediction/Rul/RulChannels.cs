namespace SmartMaintenance.Streams.Prediction.Rul;

/// <summary>Channel names of a C-MAPSS-shaped asset: its cycle counter, operating settings and sensors.</summary>
/// <remarks>In stream a channel is a reading's <c>sensor_type</c> and the asset its <c>asset_id</c>. The cycle counter is
/// a channel like the others (an engine's own cycle or hour counter), so an asset's age is part of its readings and a
/// restart rebuilds the state from a bounded replay of the last cycles.</remarks>
public static class RulChannels
{
    public const string Cycle = "cycle";

    /// <summary>The 25 channels of a C-MAPSS row after the unit: cycle, setting1..3, s1..s21 (file column order).</summary>
    public static readonly IReadOnlyList<string> All = Build();

    public static readonly IReadOnlyList<string> Settings = ["setting1", "setting2", "setting3"];

    /// <summary>Index of <paramref name="channel"/> in <see cref="All"/>, or −1.</summary>
    public static int IndexOf(string? channel)
    {
        if (channel is null)
        {
            return -1;
        }
        for (var i = 0; i < All.Count; i++)
        {
            if (string.Equals(All[i], channel, StringComparison.Ordinal))
            {
                return i;
            }
        }
        return -1;
    }

    private static string[] Build()
    {
        var names = new string[25];
        names[0] = Cycle;
        for (var i = 1; i <= 3; i++)
        {
            names[i] = "setting" + i.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        for (var i = 1; i <= 21; i++)
        {
            names[3 + i] = "s" + i.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        return names;
    }
}
