using SmartMaintenance.Streams.Contracts;
using Xunit;

namespace SmartMaintenance.Streams.Storage.Tests;

public sealed class StorageOptionsTests
{
    [Fact]
    public void Defaults_are_valid()
    {
        new StorageOptions().Validate();
    }

    [Theory]
    [InlineData(nameof(StorageOptions.BatchMaxRows))]
    [InlineData(nameof(StorageOptions.ChunkInterval))]
    [InlineData(nameof(StorageOptions.Retention))]
    [InlineData(nameof(StorageOptions.RetryMaxDelay))]
    [InlineData(nameof(StorageOptions.ConnectionString))]
    public void An_invalid_setting_fails_naming_it(string setting)
    {
        var options = new StorageOptions();
        switch (setting)
        {
            case nameof(StorageOptions.BatchMaxRows): options.BatchMaxRows = 0; break;
            case nameof(StorageOptions.ChunkInterval): options.ChunkInterval = TimeSpan.FromMinutes(90); break;
            case nameof(StorageOptions.Retention): options.Retention = TimeSpan.FromHours(12); break;
            case nameof(StorageOptions.RetryMaxDelay): options.RetryMaxDelay = TimeSpan.FromMilliseconds(10); break;
            default: options.ConnectionString = " "; break;
        }

        var error = Assert.Throws<ConfigurationException>(() => options.Validate());

        Assert.Equal($"Storage:{setting}", error.Setting);
    }

    [Fact]
    public void A_sink_with_invalid_options_fails_at_construction()
    {
        var options = new StorageOptions { WriterConnections = 0 };

        var error = Assert.Throws<ConfigurationException>(() => new PostgresSink(options));

        Assert.Equal("Storage:WriterConnections", error.Setting);
    }
}
