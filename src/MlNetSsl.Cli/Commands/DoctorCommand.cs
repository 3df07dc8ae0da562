using System.CommandLine;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;
using MlNetSsl.Cli.Run;

namespace MlNetSsl.Cli.Commands;

/// <summary>doctor: what this machine gives the tool (TorchSharp backend, device, threads, the older-glibc patch).</summary>
internal static class DoctorCommand
{
    public static Command Create()
    {
        var command = new Command("doctor", "Check the TorchSharp backend, the device, CPU threads and the older-glibc patch of libLibTorchSharp.so.");
        command.SetAction(_ =>
        {
            foreach (var (name, version) in TrainingRun.Versions()) Console.WriteLine($"{name,-16} {version}");
            Console.WriteLine($"{"OS",-16} {RuntimeInformation.OSDescription} ({RuntimeInformation.ProcessArchitecture})");
            Console.WriteLine($"{"CPU",-16} {TrainingRun.CpuModel()}, {Environment.ProcessorCount} logical cores");
            Console.WriteLine($"{"glibc patch",-16} {GlibcPatchState()}");
            try
            {
                Console.WriteLine($"{"backend",-16} {SslEnvironment.Describe()}");
            }
            catch (InvalidOperationException e)
            {
                Console.WriteLine($"{"backend",-16} NOT LOADED: {e.Message}");
                return ExitCodes.Failed;
            }
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>Whether the system libstdc++ has GLIBCXX_3.4.32 and, if not, whether the copy of libLibTorchSharp.so beside
    /// the tool has that version need marked weak (the build step's patch).</summary>
    private static string GlibcPatchState()
    {
        if (!OperatingSystem.IsLinux()) return "not needed (not Linux)";
        string[] candidates = ["/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/lib64/libstdc++.so.6", "/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/lib/aarch64-linux-gnu/libstdc++.so.6"];
        string? libstdcxx = candidates.FirstOrDefault(File.Exists);
        if (libstdcxx is null) return "unknown (no system libstdc++.so.6 found)";
        bool hasSymbol = Contains(File.ReadAllBytes(libstdcxx), "GLIBCXX_3.4.32");
        if (hasSymbol) return $"not needed ({libstdcxx} has GLIBCXX_3.4.32)";
        string folder = AppContext.BaseDirectory;
        string? library = Directory.EnumerateFiles(folder, "libLibTorchSharp.so", SearchOption.AllDirectories).FirstOrDefault();
        if (library is null) return "needed (libstdc++ lacks GLIBCXX_3.4.32); libLibTorchSharp.so not found beside the tool";
        return $"needed (libstdc++ lacks GLIBCXX_3.4.32); {Path.GetRelativePath(folder, library)} loads only if patched: see 'backend' below";
    }

    private static bool Contains(byte[] data, string text) => data.AsSpan().IndexOf(Encoding.ASCII.GetBytes(text)) >= 0;
}
