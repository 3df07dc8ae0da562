using MlNetSsl.Tests.Infrastructure;
using Xunit;

namespace MlNetSsl.Tests.Platform;

/// <summary>libtorch's internal warnings stay out of the host application's console unless the user asks for them.</summary>
public sealed class NativeLogTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(3);

    [SkippableFact]
    public void PretrainingPrintsNoNativeWarningsUnlessTorchCppLogLevelAsksForThem()
    {
        _ = SharedData.DataRoot; // the child pretrains on the shared CIFAR-10 images: without them this test reports skipped
        var quiet = ChildProcess.RunCapturing(Timeout, new Dictionary<string, string>(), "pretrain-images");
        Assert.True(quiet.ExitCode == 0, quiet.Stderr);
        Assert.Equal("41", quiet.Stdout.Trim());
        Assert.DoesNotContain("NNPACK", quiet.Stderr);

        // The control: with libtorch's own variable set, its warnings come back. On a CPU that NNPACK supports there is
        // no warning to silence, and the check above proved nothing.
        var verbose = ChildProcess.RunCapturing(Timeout, new Dictionary<string, string> { ["TORCH_CPP_LOG_LEVEL"] = "WARNING" }, "pretrain-images");
        Assert.True(verbose.ExitCode == 0, verbose.Stderr);
        Skip.IfNot(verbose.Stderr.Contains("NNPACK", StringComparison.Ordinal), "this CPU supports NNPACK, so libtorch printed no warning to silence");
    }
}
