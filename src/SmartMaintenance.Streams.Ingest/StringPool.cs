namespace SmartMaintenance.Streams.Ingest;

/// <summary>Interns identifiers decoded from JSON so that a million readings of one sensor share one string.</summary>
/// <remarks>Lookup by span: no allocation once an id is known. Bounded so hostile input with
/// endless distinct ids cannot grow it without limit; past the bound ids are still returned, just not pooled.
/// A set, not a string → string map: an entry is 16 bytes instead of 24, ≈ 11 MB less (and as much less garbage
/// from its growth) at a million sensors.</remarks>
public sealed class StringPool(int capacity = 4_000_000)
{
    private readonly HashSet<string> _pool = new(StringComparer.Ordinal);

    public int Count => _pool.Count;

    public string Intern(ReadOnlySpan<char> chars)
    {
        var lookup = _pool.GetAlternateLookup<ReadOnlySpan<char>>();
        if (lookup.TryGetValue(chars, out var existing))
        {
            return existing;
        }
        var s = chars.ToString();
        if (_pool.Count < capacity)
        {
            _pool.Add(s);
        }
        return s;
    }
}
