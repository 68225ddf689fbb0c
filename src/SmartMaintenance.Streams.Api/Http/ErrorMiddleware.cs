using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace SmartMaintenance.Streams.Api.Http;

/// <summary>
/// Turns every failure under /api into a problem document: refused input (400/404/409/413), unreadable bodies and
/// parameters (400 naming the field), and — for what is not the caller's fault — 503 when the database or broker is
/// unreachable, else 500. Empty 401/403/404/405 answers get a problem body too.
/// </summary>
public sealed partial class ErrorMiddleware(RequestDelegate next, ILogger<ErrorMiddleware> logger, int maxBodyBytes)
{
    public async Task InvokeAsync(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (context.Request.ContentLength > maxBodyBytes)
        {
            await Write(context, new ApiProblem(StatusCodes.Status413PayloadTooLarge, "Payload too large",
                $"body is {context.Request.ContentLength} bytes; limit Api:MaxBodyBytes={maxBodyBytes}", "body"));
            return;
        }
        try
        {
            await next(context);
        }
        catch (ApiProblem problem)
        {
            await Write(context, problem);
            return;
        }
        catch (BadHttpRequestException ex)
        {
            await Write(context, FromBadRequest(ex));
            return;
        }
        catch (JsonException ex)
        {
            await Write(context, ApiProblem.BadField(FieldOf(ex.Path), "body is not valid JSON for this request: " + ex.Message));
            return;
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            return;
        }
        catch (Exception ex) when (IsUnavailable(ex))
        {
            LogUnavailable(logger, context.Request.Path, ex.Message);
            await Write(context, new ApiProblem(StatusCodes.Status503ServiceUnavailable, "Service unavailable", "a backing service is unreachable; retry later"));
            return;
        }
        if (!context.Response.HasStarted && context.Response.ContentLength is null && context.Response.StatusCode is 401 or 403 or 404 or 405 or 415)
        {
            var status = context.Response.StatusCode;
            await Write(context, new ApiProblem(status, Title(status), Detail(status, context)));
        }
    }

    private static ApiProblem FromBadRequest(BadHttpRequestException ex)
    {
        if (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return new ApiProblem(StatusCodes.Status413PayloadTooLarge, "Payload too large", ex.Message, "body");
        }
        if (ex.InnerException is JsonException json)
        {
            return ApiProblem.BadField(FieldOf(json.Path), "body is not valid JSON for this request: " + json.Message);
        }
        // Minimal API binding failures name the parameter: 'Failed to bind parameter "int limit" from "x".'
        var field = ParameterOf(ex.Message);
        return new ApiProblem(ex.StatusCode == 0 ? 400 : ex.StatusCode, "Invalid request", ex.Message, field);
    }

    internal static string FieldOf(string? path) =>
        string.IsNullOrEmpty(path) || path == "$" ? "body" : path.StartsWith("$.", StringComparison.Ordinal) ? path[2..] : path;

    private static string ParameterOf(string message)
    {
        var start = message.IndexOf('"', StringComparison.Ordinal);
        var end = start < 0 ? -1 : message.IndexOf('"', start + 1);
        if (end <= start)
        {
            return "request";
        }
        var text = message[(start + 1)..end];
        var space = text.LastIndexOf(' ');
        return space < 0 ? text : text[(space + 1)..];
    }

    private static bool IsUnavailable(Exception ex) =>
        ex is NpgsqlException or Confluent.Kafka.KafkaException or TimeoutException or System.Net.Http.HttpRequestException;

    private static string Title(int status) => status switch
    {
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not found",
        405 => "Method not allowed",
        _ => "Unsupported media type",
    };

    private static string Detail(int status, HttpContext context) => status switch
    {
        401 => "credentials missing or invalid: send X-Api-Key or Authorization: Bearer <token>",
        403 => "your role may not do this",
        404 => $"no resource at {context.Request.Path}",
        405 => $"{context.Request.Method} is not allowed here",
        _ => "send Content-Type: application/json",
    };

    private static async Task Write(HttpContext context, ApiProblem problem)
    {
        if (context.Response.HasStarted)
        {
            return;
        }
        if (problem.Status == StatusCodes.Status413PayloadTooLarge)
        {
            // The rest of the body is not read: the connection cannot carry another request.
            context.Response.Headers.Connection = "close";
        }
        if (problem.Extensions?.TryGetValue("retry_after", out var retry) == true && retry is int seconds)
        {
            context.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        await ProblemWriter.WriteAsync(context, ProblemWriter.Create(context, problem.Status, problem.Title, problem.Message, problem.Field, problem.Extensions));
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Operator API: {Path} answered 503 ({Reason})")]
    private static partial void LogUnavailable(ILogger logger, string path, string reason);
}
