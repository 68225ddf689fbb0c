using System.Net.Sockets;
using Npgsql;

namespace SmartMaintenance.Streams.Storage;

/// <summary>A database failure, classified: transient ones are retried, the others stop the engine.</summary>
/// <remarks>The message of a fatal error says what to fix (e.g. run <c>smstream db migrate</c>).</remarks>
public sealed class StorageException : Exception
{
    public StorageException(string message, bool isTransient, string? sqlState = null, Exception? innerException = null)
        : base(message, innerException)
    {
        IsTransient = isTransient;
        SqlState = sqlState;
    }

    public StorageException()
    {
    }

    public StorageException(string message) : base(message)
    {
    }

    public StorageException(string message, Exception innerException) : base(message, innerException)
    {
    }

    /// <summary>Retrying the same batch in a fresh transaction may succeed.</summary>
    public bool IsTransient { get; }

    /// <summary>PostgreSQL SQLSTATE when the server reported the error.</summary>
    public string? SqlState { get; }
}

/// <summary>Maps Npgsql/PostgreSQL failures onto <see cref="StorageException"/>.</summary>
public static class StorageErrors
{
    public const string MigrateHint = "run `smstream db migrate` (or SchemaMigrator.MigrateAsync) against this database";

    /// <summary>Classifies <paramref name="error"/>; cancellation and existing StorageExceptions pass through unchanged.</summary>
    public static Exception Classify(Exception error)
    {
        ArgumentNullException.ThrowIfNull(error);
        return error switch
        {
            StorageException or OperationCanceledException => error,
            PostgresException pg => FromSqlState(pg),
            NpgsqlException npg when npg.InnerException is TimeoutException =>
                new StorageException($"Database command timed out: {npg.Message}", isTransient: true, innerException: npg),
            NpgsqlException npg => new StorageException(
                npg.IsTransient || IsNetwork(npg.InnerException)
                    ? $"Database unreachable or connection lost: {npg.Message}"
                    : $"Database client error: {npg.Message}",
                npg.IsTransient || IsNetwork(npg.InnerException), innerException: npg),
            IOException or SocketException or TimeoutException =>
                new StorageException($"Database unreachable or connection lost: {error.Message}", isTransient: true, innerException: error),
            _ => error,
        };
    }

    private static bool IsNetwork(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
        {
            if (e is IOException or SocketException or TimeoutException)
            {
                return true;
            }
        }
        return false;
    }

    private static StorageException FromSqlState(PostgresException pg)
    {
        var state = pg.SqlState;
        var where = pg.TableName is { Length: > 0 } t ? $" (table {t}{(pg.ConstraintName is { Length: > 0 } c ? $", constraint {c}" : "")})" : "";
        var (transient, advice) = state switch
        {
            "57P01" or "57P02" => (true, "the server is shutting down or terminated the connection; retrying"),
            "57P03" => (true, "the server is starting up or in recovery; retrying"),
            "57014" => (true, "the statement was cancelled or timed out; retrying"),
            "40001" => (true, "serialization failure; retrying"),
            "40P01" => (true, "deadlock detected; retrying"),
            "55P03" => (true, "lock not available; retrying"),
            "53300" => (true, "too many connections; retrying (lower Storage:WriterConnections or raise max_connections)"),
            _ when state.StartsWith("53", StringComparison.Ordinal) => (true, "the server is out of resources (disk, memory); retrying"),
            _ when state.StartsWith("08", StringComparison.Ordinal) => (true, "connection failure; retrying"),
            "42P01" or "42703" or "42883" or "42P10" => (false, $"the schema is missing or out of date: {MigrateHint}"),
            "42501" => (false, "the database user lacks a privilege: grant it INSERT/UPDATE/SELECT on the smstream tables (and CREATE TEMP) or use the owner"),
            "3D000" => (false, "the database does not exist: create it (CREATE DATABASE) or fix Storage:ConnectionString / SMSTREAM_DATABASE"),
            _ when state.StartsWith("28", StringComparison.Ordinal) => (false, "authentication failed: fix the user/password in Storage:ConnectionString / SMSTREAM_DATABASE"),
            _ when state.StartsWith("22", StringComparison.Ordinal) => (false, "the database rejected a value of this batch: fix the component that produced it (the batch was not written)"),
            _ when state.StartsWith("23", StringComparison.Ordinal) => (false, "a row of this batch violates a constraint: fix the component that produced it (the batch was not written)"),
            _ => (pg.IsTransient, pg.IsTransient ? "retrying" : "unexpected database error; see the PostgreSQL server log"),
        };
        return new StorageException($"PostgreSQL {state}: {pg.MessageText}{where} — {advice}.", transient, state, pg);
    }
}
