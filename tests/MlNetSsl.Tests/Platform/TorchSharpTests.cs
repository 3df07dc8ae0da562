using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MlNetSsl.Tests.Platform;

/// <summary>TorchSharp's native backend loads in the test process and computes correct gradients.</summary>
public sealed class TorchSharpTests
{
    [SkippableFact]
    public void BackendLoadsAndReportsTheCpu()
    {
        string description = SslEnvironment.Describe();
        Assert.Contains("TorchSharp", description);
        Assert.Equal(DeviceType.CPU, SslEnvironment.SelectDevice(allowCuda: false).type);
    }

    /// <summary>
    /// oneDNN's kernels are chosen by CPU vendor: AVX-512 on Intel, AVX2 on AMD and others (SslEnvironment.OneDnnIsaFor
    /// says why). The vendor read through CPUID is the one Linux reports, and the process runs with the matching ceiling
    /// unless the environment chose one.
    /// </summary>
    [SkippableFact]
    public void OneDnnKernelsFollowTheCpuVendor()
    {
        Assert.Equal("AVX512_CORE", SslEnvironment.OneDnnIsaFor("GenuineIntel"));
        Assert.Equal("AVX2", SslEnvironment.OneDnnIsaFor("AuthenticAMD"));
        Assert.Equal("AVX2", SslEnvironment.OneDnnIsaFor(""));
        Skip.IfNot(System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture == System.Runtime.InteropServices.Architecture.X64, "oneDNN kernels are chosen on x86-64 only");

        string vendor = SslEnvironment.CpuVendor();
        if (File.Exists("/proc/cpuinfo"))
        {
            string? line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("vendor_id", StringComparison.Ordinal));
            if (line is not null) Assert.Equal(line[(line.IndexOf(':') + 1)..].Trim(), vendor);
        }
        string description = SslEnvironment.Describe();
        string? chosen = Environment.GetEnvironmentVariable("ONEDNN_MAX_CPU_ISA") ?? Environment.GetEnvironmentVariable("DNNL_MAX_CPU_ISA");
        Assert.Contains(string.IsNullOrEmpty(chosen) ? $"oneDNN kernels up to {SslEnvironment.OneDnnIsaFor(vendor)}" : "oneDNN kernels as ", description);
    }

    [SkippableFact]
    public void ConvForwardAndBackwardMatchFiniteDifferences()
    {
        SslEnvironment.EnsureInitialized();
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(3);
        using var conv = nn.Conv2d(2, 3, kernel_size: 3, padding: 1, dtype: ScalarType.Float64);
        var input = torch.randn(new long[] { 2, 2, 5, 5 }, dtype: ScalarType.Float64);

        Tensor Loss() => nn.functional.relu(conv.forward(input)).pow(2).mean();

        var loss = Loss();
        loss.backward();
        var weight = conv.weight!;
        var analytic = weight.grad!.clone();
        Assert.Equal(new long[] { 3, 2, 3, 3 }, analytic.shape);
        Assert.True(analytic.abs().sum().item<double>() > 0, "gradient is all zero");

        // Central differences on a handful of weights.
        const double eps = 1e-6;
        using (torch.no_grad())
        {
            foreach (long[] index in new[] { new long[] { 0, 0, 0, 0 }, new long[] { 1, 1, 2, 1 }, new long[] { 2, 0, 1, 2 }, new long[] { 2, 1, 1, 1 } })
            {
                var element = weight[index[0], index[1], index[2], index[3]];
                double original = element.item<double>();
                element.fill_(original + eps);
                double plus = Loss().item<double>();
                element.fill_(original - eps);
                double minus = Loss().item<double>();
                element.fill_(original);
                double numeric = (plus - minus) / (2 * eps);
                double exact = analytic[index[0], index[1], index[2], index[3]].item<double>();
                Assert.True(Math.Abs(numeric - exact) <= 1e-6 + 1e-4 * Math.Abs(exact), $"at [{string.Join(',', index)}]: numeric {numeric}, autograd {exact}");
            }
        }
    }
}
