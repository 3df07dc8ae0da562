using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;

/// <summary>
/// The side-by-side comparison with PyTorch (<c>--peer</c>): the same training step written for PyTorch in
/// <c>peer/ssl_step.py</c> runs in a child process right after ours, alternating, so both see the same machine load;
/// the table gives the median samples/s of each side over the alternations, their spread and the ratio.
/// PyTorch is optional: without an interpreter that imports torch the peer column says so and our side still runs.
/// </summary>
internal static class PeerBenchmark
{
    /// <summary>The interpreter to use: <paramref name="requested"/> if given, else <c>python3</c> on the PATH, else
    /// the system's <c>/usr/bin/python3</c> (Debian's python3-torch installs there); the first that imports torch.</summary>
    public static (string Python, string TorchVersion)? FindPython(string? requested)
    {
        string[] candidates = requested is not null ? [requested] : ["python3", "/usr/bin/python3"];
        foreach (string candidate in candidates)
        {
            var (exitCode, output) = Run(candidate, ["-c", "import torch; print(torch.__version__)"], TimeSpan.FromMinutes(1));
            if (exitCode == 0) return (candidate, output.Trim());
        }
        return null;
    }

    /// <summary>glibc's allocator set as MlNetSsl sets it in-process (SslEnvironment): no mmap for large blocks, no
    /// trimming of the heap, so freed tensor memory is reused without page faults.</summary>
    public const string TunedMalloc = "glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=2147483647";

    /// <summary>One run of the peer script for <paramref name="peerCase"/>: the median step time in seconds.</summary>
    /// <param name="python">The interpreter.</param>
    /// <param name="peerCase">The script's case name.</param>
    /// <param name="batch">Rows per step.</param>
    /// <param name="steps">Timed steps after the warm-up.</param>
    /// <param name="threads">libtorch intra-op threads.</param>
    /// <param name="layout">channels-last or contiguous (2-D conv models).</param>
    /// <param name="tunedMalloc">Run the peer with <see cref="TunedMalloc"/> in GLIBC_TUNABLES.</param>
    public static double MedianStepSeconds(string python, string peerCase, int batch, int steps, int threads, string layout, bool tunedMalloc)
    {
        string script = Path.Combine(AppContext.BaseDirectory, "peer", "ssl_step.py");
        var (exitCode, output) = Run(python,
            [script, "--case", peerCase, "--batch", batch.ToString(CultureInfo.InvariantCulture), "--steps", steps.ToString(CultureInfo.InvariantCulture),
             "--threads", threads.ToString(CultureInfo.InvariantCulture), "--layout", layout], TimeSpan.FromMinutes(10),
            tunedMalloc ? new Dictionary<string, string> { ["GLIBC_TUNABLES"] = TunedMalloc } : null);
        if (exitCode != 0)
            throw new InvalidOperationException($"The PyTorch peer ({python} {script} --case {peerCase}) failed with exit code {exitCode}:\n{output}");
        string json = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Last(l => l.TrimStart().StartsWith('{'));
        using var document = JsonDocument.Parse(json);
        return document.RootElement.GetProperty("median_step_seconds").GetDouble();
    }

    /// <summary>"median (min-max)" of a sample.</summary>
    public static string Spread(IReadOnlyList<double> values) =>
        values.Count == 0 ? "-" : $"{Median(values):0} ({values.Min():0}-{values.Max():0})";

    /// <summary>The median of a sample (mean of the middle two for an even count).</summary>
    public static double Median(IReadOnlyList<double> values)
    {
        double[] sorted = values.Order().ToArray();
        int mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    /// <summary>The CPU's model name from /proc/cpuinfo (Linux), else the architecture.</summary>
    public static string CpuModel()
    {
        const string Cpuinfo = "/proc/cpuinfo";
        if (File.Exists(Cpuinfo))
        {
            string[] lines = File.ReadAllLines(Cpuinfo);
            string? model = lines.FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim();
            string? flags = lines.FirstOrDefault(l => l.StartsWith("flags", StringComparison.Ordinal))?.Split(':', 2)[1];
            if (model is not null)
            {
                string[] extensions = flags is null ? [] : new[] { "avx2", "avx512f", "avx512_bf16", "amx_tile" }
                    .Where(f => flags.Split(' ').Contains(f)).ToArray();
                return extensions.Length == 0 ? model : $"{model} ({string.Join(", ", extensions)})";
            }
        }
        return RuntimeInformation.ProcessArchitecture.ToString();
    }

    /// <summary>The 1, 5 and 15 minute load averages from /proc/loadavg, or "unknown".</summary>
    public static string LoadAverage()
    {
        const string LoadAvg = "/proc/loadavg";
        return File.Exists(LoadAvg) ? string.Join(", ", File.ReadAllText(LoadAvg).Split(' ').Take(3)) : "unknown";
    }

    private static (int ExitCode, string Output) Run(string fileName, string[] arguments, TimeSpan timeout, Dictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(fileName) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach ((string name, string value) in environment ?? []) start.Environment[name] = value;
        foreach (string argument in arguments) start.ArgumentList.Add(argument);
        try
        {
            using var process = Process.Start(start);
            if (process is null) return (-1, "");
            var stderr = process.StandardError.ReadToEndAsync();
            string stdout = process.StandardOutput.ReadToEnd();
            if (!process.WaitForExit(timeout))
            {
                process.Kill(entireProcessTree: true);
                return (-1, "timed out");
            }
            return (process.ExitCode, stdout + stderr.Result);
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return (-1, $"{fileName} not found");
        }
    }
}
