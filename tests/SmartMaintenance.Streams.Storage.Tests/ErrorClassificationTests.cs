using System.Net.Sockets;
using Npgsql;
using Xunit;

namespace SmartMaintenance.Streams.Storage.Tests;

public sealed class ErrorClassificationTests
{
    [Theory]
    [InlineData("57P01", true)]
    [InlineData("57P03", true)]
    [InlineData("40001", true)]
    [InlineData("40P01", true)]
    [InlineData("53300", true)]
    [InlineData("08006", true)]
    [InlineData("57014", true)]
    [InlineData("42P01", false)]
    [InlineData("42703", false)]
    [InlineData("42501", false)]
    [InlineData("22P02", false)]
    [InlineData("23505", false)]
    [InlineData("3D000", false)]
    public void Server_errors_are_classified_by_sqlstate(string sqlState, bool transient)
    {
        var error = Assert.IsType<StorageException>(StorageErrors.Classify(new PostgresException("boom", "ERROR", "ERROR", sqlState)));

        Assert.Equal(transient, error.IsTransient);
        Assert.Equal(sqlState, error.SqlState);
        Assert.Contains(sqlState, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("42P01")]
    [InlineData("42703")]
    public void Schema_errors_tell_to_run_the_migration(string sqlState)
    {
        var error = StorageErrors.Classify(new PostgresException("relation \"readings\" does not exist", "ERROR", "ERROR", sqlState));

        Assert.Contains("smstream db migrate", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Network_failures_are_transient()
    {
        var refused = new NpgsqlException("Failed to connect", new SocketException((int)SocketError.ConnectionRefused));
        var lost = new NpgsqlException("Exception while reading from stream", new IOException("connection reset"));
        var timeout = new NpgsqlException("Timeout", new TimeoutException());

        Assert.True(Assert.IsType<StorageException>(StorageErrors.Classify(refused)).IsTransient);
        Assert.True(Assert.IsType<StorageException>(StorageErrors.Classify(lost)).IsTransient);
        Assert.True(Assert.IsType<StorageException>(StorageErrors.Classify(timeout)).IsTransient);
        Assert.True(Assert.IsType<StorageException>(StorageErrors.Classify(new IOException("broken pipe"))).IsTransient);
    }

    [Fact]
    public void Cancellation_and_unrelated_exceptions_pass_through_unchanged()
    {
        var cancelled = new OperationCanceledException();
        var bug = new InvalidOperationException("bug");

        Assert.Same(cancelled, StorageErrors.Classify(cancelled));
        Assert.Same(bug, StorageErrors.Classify(bug));
    }
}
