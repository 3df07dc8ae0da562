// PLACEHOLDER so this branch compiles: the report writer comes from the report branch, whose file replaces this one at merge.
namespace MlNetSsl.Cli.Report;

/// <summary>Writes report.html (placeholder).</summary>
internal static class ReportWriter
{
    public static void Write(RunReport report, string path) => throw new NotImplementedException();
}
