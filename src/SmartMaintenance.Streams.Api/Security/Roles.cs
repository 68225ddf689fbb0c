namespace SmartMaintenance.Streams.Api.Security;

/// <summary>The three roles and the policies endpoints require. Each role includes the ones below it.</summary>
public static class Roles
{
    public const string Viewer = "viewer";
    public const string Operator = "operator";
    public const string Admin = "admin";

    /// <summary>Policy names: the least role an endpoint needs.</summary>
    public const string Read = "read";
    public const string Operate = "operate";
    public const string Administer = "administer";

    public static IReadOnlyList<string> All { get; } = [Viewer, Operator, Admin];

    public static bool IsRole(string? role) => role is Viewer or Operator or Admin;

    /// <summary>Roles that satisfy <paramref name="policy"/>.</summary>
    public static string[] For(string policy) => policy switch
    {
        Read => [Viewer, Operator, Admin],
        Operate => [Operator, Admin],
        Administer => [Admin],
        _ => throw new ArgumentOutOfRangeException(nameof(policy), policy, "unknown policy"),
    };
}
