using System.Diagnostics;
using System.Runtime.InteropServices;
using MlNetSsl.Tests.Infrastructure;
using Xunit;

namespace MlNetSsl.Tests.Platform;

/// <summary>
/// On Linux, SslEnvironment has libtorch's GNU OpenMP threads sleep when idle instead of spinning (docs/benchmarks.md:
/// a ConvNet step 1.8x faster beside one busy process), and only libtorch's: the variable is gone once libtorch is
/// loaded. Checked in a fresh process (`mlnet-ssl doctor`), where libgomp itself prints what it read.
/// </summary>
public sealed class OpenMpWaitTests
{
    /// <summary>Runs <c>mlnet-ssl doctor</c> with libgomp's verbose display of the settings it read (on stderr).</summary>
    private static (string Stdout, string Stderr) Doctor(string? spinCount)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(Cli.CliCoreTests.Tool); // asserts that the solution was built
        info.ArgumentList.Add("doctor");
        info.Environment["OMP_DISPLAY_ENV"] = "VERBOSE";
        info.Environment.Remove("OMP_WAIT_POLICY");
        info.Environment.Remove("GOMP_SPINCOUNT");
        if (spinCount is not null) info.Environment["GOMP_SPINCOUNT"] = spinCount;
        using Process process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(2)), "mlnet-ssl doctor did not end within 2 minutes");
        Assert.True(process.ExitCode == 0, $"doctor exited {process.ExitCode}: {stderr.Result}\n{stdout.Result}");
        return (stdout.Result, stderr.Result);
    }

    [SkippableFact]
    public void LibtorchsOpenMpThreadsSleepWhenIdleUnlessTheUserChose()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "the wait policy is set for GNU OpenMP on Linux only");
        (string stdout, string stderr) = Doctor(spinCount: null);
        // GNU OpenMP's default is 300,000 spins before sleeping; PASSIVE makes it 0.
        Assert.Contains("GOMP_SPINCOUNT = '0'", stderr, StringComparison.Ordinal);
        Assert.Contains("idle OpenMP threads sleep", stdout, StringComparison.Ordinal);

        (stdout, stderr) = Doctor(spinCount: "5000");
        Assert.Contains("GOMP_SPINCOUNT = '5000'", stderr, StringComparison.Ordinal);
        Assert.Contains("OpenMP waits as GOMP_SPINCOUNT=5000 sets", stdout, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void AFitThroughMlNetAloneLetsIdleThreadsSleep()
    {
        // An application that only calls ML.NET (LoadImages, SelfSupervised(...).Fit, Transform) and never MlNetSsl's
        // environment: the stage read its rows into tensors before initializing, so libtorch loaded with GNU OpenMP's
        // spinning default (GOMP_SPINCOUNT 300,000; Fit 14% slower on a loaded 2-core host in an audit).
        Skip.IfNot(OperatingSystem.IsLinux(), "the wait policy is set for GNU OpenMP on Linux only");
        Skip.If(Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") is not null, "this process was started with OMP_WAIT_POLICY");
        var (exitCode, stdout, stderr) = ChildProcess.RunCapturing(TimeSpan.FromMinutes(3),
            new Dictionary<string, string> { ["OMP_DISPLAY_ENV"] = "VERBOSE" }, "pretrain-images");
        Assert.True(exitCode == 0, stderr + stdout);
        Assert.Contains("GOMP_SPINCOUNT = '0'", stderr, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void TheVariableIsGoneOnceLibtorchIsLoaded()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "the wait policy is set for GNU OpenMP on Linux only");
        Skip.If(Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") is not null, "this process was started with OMP_WAIT_POLICY");
        SslEnvironment.EnsureInitialized();
        // OpenMP libraries loaded later (LightGBM's) and child processes keep their defaults.
        Assert.Equal(IntPtr.Zero, GetNativeEnvironmentVariable("OMP_WAIT_POLICY"u8.ToArray().Append((byte)0).ToArray()));
    }

    [DllImport("libc", EntryPoint = "getenv")]
    private static extern IntPtr GetNativeEnvironmentVariable(byte[] name);
}
