using Xunit;

namespace MlNetSsl.Tests.Infrastructure;

internal static partial class SharedData
{
    // A test that needs the real data reports skipped where they are not: every test is a SkippableFact or SkippableTheory
    // (TestConventionTests), so Xunit's SkipException is a skip, not a failure.
    static partial void ReportMissing(string message) => Skip.If(true, message);
}
