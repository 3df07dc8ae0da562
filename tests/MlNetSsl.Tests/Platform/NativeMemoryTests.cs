using System.Runtime.InteropServices;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MlNetSsl.Tests.Platform;

/// <summary>
/// On Linux with glibc, SslEnvironment keeps libtorch's large tensors out of mmap, so freed activation memory is reused
/// by the next training step instead of being unmapped and page-faulted in again (docs/benchmarks.md).
/// </summary>
public sealed class NativeMemoryTests
{
    [SkippableFact]
    public void LargeTensorsComeFromTheReusableHeapOnGlibc()
    {
        SslEnvironment.EnsureInitialized();
        // mallinfo2 (glibc 2.33+) reports the bytes held in mmap'd blocks; other C libraries have nothing to check.
        Skip.IfNot(OperatingSystem.IsLinux(), "glibc's allocator settings apply on Linux only.");
        Skip.IfNot(NativeLibrary.TryLoad("libc.so.6", out IntPtr libc), "No glibc (libc.so.6) in this process.");
        bool hasMallinfo2 = NativeLibrary.TryGetExport(libc, "mallinfo2", out _);
        NativeLibrary.Free(libc);
        Skip.IfNot(hasMallinfo2, "This C library has no mallinfo2 (glibc 2.33 or later) to read the mmap'd bytes from.");
        // A user's own allocator settings win over the library's, and then there is nothing of ours to check.
        Skip.If(Environment.GetEnvironmentVariables().Keys.OfType<string>().Any(n => n is "GLIBC_TUNABLES" or "LD_PRELOAD" or "MLNETSSL_MALLOC_TUNING"
                || (n.StartsWith("MALLOC_", StringComparison.Ordinal) && n.EndsWith('_'))), "The environment sets its own allocator options.");

        // Above glibc's largest mmap threshold (32 MiB), so mmap'd by default; below the 64 MiB heaps of the arenas of
        // threads other than the main one, which mmap anything larger whatever the settings.
        const long Bytes = 40L << 20;
        // Tests of other classes run in parallel and may map memory of their own meanwhile; with the setting off every
        // attempt adds 40 MiB, so the smallest increase of three tells.
        long smallestIncrease = long.MaxValue;
        for (int attempt = 0; attempt < 3; attempt++)
        {
            long before = (long)MallocInfo().MmappedBytes;
            using var tensor = torch.empty(Bytes / sizeof(float), dtype: ScalarType.Float32);
            smallestIncrease = Math.Min(smallestIncrease, (long)MallocInfo().MmappedBytes - before);
        }
        Assert.True(smallestIncrease < Bytes / 2,
            $"A 40 MiB tensor added {smallestIncrease >> 20} MiB of mmap'd memory; glibc's mmap of large blocks should be off.");
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct MallInfo2
    {
        public nuint Arena, OrdinaryBlocks, SmallBlocks, MmappedBlocks, MmappedBytes, MaxAllocated, FastBytes, Used, Free, TopReleasable;
    }

    [DllImport("libc", EntryPoint = "mallinfo2")]
    private static extern MallInfo2 MallocInfo();
}
