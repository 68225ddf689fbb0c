using Xunit;

namespace SmartMaintenance.Streams.Api.Tests;

/// <summary>Errors outside the endpoints' own checks are problem documents too: unknown paths, wrong methods, rate limits.</summary>
[Collection(ApiCollection.Name)]
public sealed class ProblemDetailsTests(ApiFixture fx)
{
    [Fact]
    public async Task A_caller_over_its_rate_limit_gets_429_with_Retry_After()
    {
        var statuses = new List<int>();
        HttpResponseMessage? limited = null;
        for (var i = 0; i < 5 && limited is null; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/whoami");
            request.Headers.Add("X-Api-Key", fx.SlowKey);
            var response = await fx.Http.SendAsync(request);
            statuses.Add((int)response.StatusCode);
            if ((int)response.StatusCode == 429)
            {
                limited = response;
            }
        }
        Assert.NotNull(limited);
        Assert.True(limited.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1));
        Assert.Equal("application/problem+json", limited.Content.Headers.ContentType?.MediaType);
        Assert.Equal(200, statuses[0]);
    }

    [Theory]
    [InlineData("GET", "/api/v1/nothing-here", 404)]
    [InlineData("GET", "/api/v2/alerts", 404)]
    [InlineData("PATCH", "/api/v1/alerts", 405)]
    public async Task Unknown_paths_and_methods_are_problems(string method, string path, int expected)
    {
        var (status, body, response) = await fx.SendAsync(new HttpMethod(method), path, "admin");
        Assert.Equal(expected, status);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(expected, (int?)body!["status"]);
    }

    [Fact]
    public async Task A_401_says_how_to_authenticate()
    {
        var (status, body, _) = await fx.SendAsync(HttpMethod.Get, "/api/v1/alerts", "none");
        Assert.Equal(401, status);
        Assert.Contains("X-Api-Key", (string?)body!["detail"], StringComparison.Ordinal);
    }
}
