using System.Globalization;
using System.Runtime.InteropServices;
using MlNetSsl.Cli.Commands;

namespace MlNetSsl.Cli.Run;

/// <summary>
/// --device: TorchSharp trains on the first GPU the process sees, so <c>cuda:N</c> is honoured by making GPU N the only
/// visible one (<c>CUDA_VISIBLE_DEVICES</c>, read by the CUDA runtime when it first initializes) before anything touches
/// CUDA; the experiment then runs on "cuda". One worker per GPU is one process per <c>--device cuda:N</c>.
/// </summary>
internal static class CudaDeviceChoice
{
    private const string Variable = "CUDA_VISIBLE_DEVICES";

    /// <summary>The device to pass to <c>SslExperiment.SetDevice</c>.</summary>
    public static string ExperimentDevice(string device) =>
        device.StartsWith("cuda", StringComparison.Ordinal) ? "cuda" : device == "cpu" ? "cpu" : "auto";

    /// <summary>For <c>cuda:N</c>, restricts the process to GPU N (the N-th of an existing <c>CUDA_VISIBLE_DEVICES</c> list).</summary>
    public static void Apply(string device)
    {
        if (!device.StartsWith("cuda:", StringComparison.Ordinal)) return;
        if (!int.TryParse(device.AsSpan(5), NumberStyles.None, CultureInfo.InvariantCulture, out int index))
            throw new CliException($"--device '{device}': use auto, cpu, cuda or cuda:N with N a GPU index (0, 1, ...).");
        string? visible = Environment.GetEnvironmentVariable(Variable);
        string chosen = index.ToString(CultureInfo.InvariantCulture);
        if (!string.IsNullOrWhiteSpace(visible))
        {
            string[] listed = visible.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            if (index >= listed.Length)
                throw new CliException($"--device {device}: {Variable}={visible} makes {listed.Length} GPU(s) visible, so there is no GPU {index}.");
            chosen = listed[index];
        }
        Environment.SetEnvironmentVariable(Variable, chosen);
        // .NET keeps its own copy of the environment on Unix; the CUDA runtime reads the C library's.
        if (!OperatingSystem.IsWindows() && SetNativeEnvironment(Variable, chosen, 1) != 0)
            throw new CliException($"--device {device}: could not set {Variable} (errno {Marshal.GetLastPInvokeError()}); set {Variable}={chosen} and use --device cuda.");
    }

    [DllImport("libc", EntryPoint = "setenv", SetLastError = true)]
    private static extern int SetNativeEnvironment([MarshalAs(UnmanagedType.LPUTF8Str)] string name, [MarshalAs(UnmanagedType.LPUTF8Str)] string value, int overwrite);
}
