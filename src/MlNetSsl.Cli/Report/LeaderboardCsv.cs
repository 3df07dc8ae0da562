// PLACEHOLDER so this branch compiles: leaderboard.csv comes from the report branch, whose file replaces this one at merge.
namespace MlNetSsl.Cli.Report;

/// <summary>Writes leaderboard.csv (placeholder).</summary>
internal static class LeaderboardCsv
{
    public static void Write(IReadOnlyList<LeaderboardRow> rows, string path, string metricName) => throw new NotImplementedException();
}
