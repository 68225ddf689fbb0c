namespace SmartMaintenance.Streams.Api.State;

/// <summary>The partition librdkafka's default partitioner (consistent_random) gives a non-empty key: CRC-32 (IEEE) of
/// the key bytes modulo the partition count. Readings are keyed by sensor id, so this names the partition, and thereby
/// the instance, that holds a sensor's state.</summary>
public static class KeyPartitioner
{
    private static readonly uint[] Table = BuildTable();

    public static int PartitionOf(string key, int partitionCount)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentOutOfRangeException.ThrowIfLessThan(partitionCount, 1);
        var bytes = System.Text.Encoding.UTF8.GetBytes(key);
        var crc = 0xFFFFFFFFu;
        foreach (var b in bytes)
        {
            crc = Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
        }
        return (int)((crc ^ 0xFFFFFFFFu) % (uint)partitionCount);
    }

    private static uint[] BuildTable()
    {
        var table = new uint[256];
        for (var i = 0u; i < 256; i++)
        {
            var c = i;
            for (var k = 0; k < 8; k++)
            {
                c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            }
            table[i] = c;
        }
        return table;
    }
}
