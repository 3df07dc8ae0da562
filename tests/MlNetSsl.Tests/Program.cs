using MlNetSsl.Tests.Infrastructure;

namespace MlNetSsl.Tests;

/// <summary>
/// The test assembly is also a small program, so a test can load a saved model in a separate process that shares
/// nothing with the test run but the files on disk. xunit does not use this entry point.
/// </summary>
public static class Program
{
    /// <summary>Runs one child command; see <see cref="ChildProcess"/>.</summary>
    public static int Main(string[] args) => ChildProcess.RunCommand(args);
}
