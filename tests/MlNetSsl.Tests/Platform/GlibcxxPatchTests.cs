using System.Diagnostics;
using Xunit;

namespace MlNetSsl.Tests.Platform;

/// <summary>
/// The build step that marks libLibTorchSharp.so's GLIBCXX_3.4.32 requirement weak patched this test's output copy
/// when the system needs it, and left the NuGet cache alone. Checked with binutils' readelf, independent of the patcher.
/// </summary>
public sealed class GlibcxxPatchTests
{
    private const string Version = "GLIBCXX_3.4.32";

    [SkippableFact]
    public void OutputCopyIsWeakExactlyWhenTheSystemLacksTheVersion()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "the GLIBCXX patch is a Linux-only concern");

        string output = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        Assert.True(File.Exists(output), $"missing {output}");
        bool systemHasVersion = SystemLibStdCxxHas(Version);

        string? flags = VersionRequirementFlags(output, Version);

        Assert.NotNull(flags); // TorchSharp 0.107.0 does require it; if this changes, the patch may be obsolete
        Assert.Equal(!systemHasVersion, flags!.Contains("WEAK", StringComparison.Ordinal));
    }

    [SkippableFact]
    public void NuGetCacheCopyIsUntouched()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "the GLIBCXX patch is a Linux-only concern");
        string cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        string cached = Path.Combine(cache, "torchsharp", "0.107.0", "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        // A custom cache layout; the output test still guards the patch.
        Skip.IfNot(File.Exists(cached), $"no TorchSharp 0.107.0 native library in the NuGet cache at {cached}");

        string? flags = VersionRequirementFlags(cached, Version);

        Assert.NotNull(flags);
        Assert.DoesNotContain("WEAK", flags!, StringComparison.Ordinal);
    }

    private static bool SystemLibStdCxxHas(string version)
    {
        string[] candidates = ["/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/lib64/libstdc++.so.6", "/usr/lib/libstdc++.so.6"];
        string library = candidates.First(File.Exists);
        byte[] bytes = File.ReadAllBytes(library);
        return bytes.AsSpan().IndexOf(System.Text.Encoding.ASCII.GetBytes(version + "\0")) >= 0;
    }

    /// <summary>The "Flags:" text readelf prints for the version requirement, or null if it is not required.</summary>
    private static string? VersionRequirementFlags(string library, string version)
    {
        var info = new ProcessStartInfo("readelf", ["-V", "-W", library]) { RedirectStandardOutput = true, UseShellExecute = false };
        using var process = Process.Start(info)!;
        string text = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        Assert.Equal(0, process.ExitCode);
        // Lines look like: "  0x0090:   Name: GLIBCXX_3.4.32  Flags: WEAK   Version: 9"
        string? line = text.Split('\n').FirstOrDefault(l => l.Contains($"Name: {version} ", StringComparison.Ordinal));
        if (line is null) return null;
        int at = line.IndexOf("Flags:", StringComparison.Ordinal);
        return line[(at + 6)..line.IndexOf("Version:", StringComparison.Ordinal)].Trim();
    }
}
