using Microsoft.AspNetCore.Http;

namespace SmartMaintenance.Streams.Api.Http;

/// <summary>A request the API refuses: becomes an RFC 7807 problem document naming the field at fault.</summary>
public sealed class ApiProblem(int status, string title, string detail, string? field = null, IReadOnlyDictionary<string, object?>? extensions = null)
    : Exception(detail)
{
    public int Status { get; } = status;
    public string Title { get; } = title;
    public string? Field { get; } = field;
    public IReadOnlyDictionary<string, object?>? Extensions { get; } = extensions;

    public static ApiProblem BadField(string field, string detail) => new(StatusCodes.Status400BadRequest, "Invalid request", detail, field);

    public static ApiProblem NotFound(string what, string id) =>
        new(StatusCodes.Status404NotFound, "Not found", $"no {what} '{id}'", "id");

    public static ApiProblem Conflict(string detail) => new(StatusCodes.Status409Conflict, "Conflict", detail);
}
