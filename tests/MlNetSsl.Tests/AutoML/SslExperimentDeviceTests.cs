using Microsoft.ML;
using MlNetSsl.AutoML;
using Xunit;

namespace MlNetSsl.Tests.AutoML;

/// <summary><c>SslExperiment.SetDevice</c>: the values it takes, and a GPU asked for but not visible stops the run before any trial.</summary>
public sealed class SslExperimentDeviceTests
{
    [SkippableTheory]
    [InlineData("cuda:1", "CUDA_VISIBLE_DEVICES")]
    [InlineData("gpu", "\"auto\", \"cpu\" or \"cuda\"")]
    public void AnUnsupportedDeviceIsRefusedWithWhatToUse(string device, string advice)
    {
        var error = Assert.Throws<ArgumentException>(() => new MLContext(1).SelfSupervisedExperiment().SetDevice(device));
        Assert.Contains(advice, error.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task CudaWithoutAVisibleGpuFailsBeforeAnyTrial()
    {
        Skip.If(SslEnvironment.SelectDevice(allowCuda: true).type == TorchSharp.DeviceType.CUDA, "a CUDA GPU is visible here");
        var ml = new MLContext(1);
        IDataView data = ml.Data.LoadFromEnumerable(SslExperimentData.HiggsWithHiddenLabels(64, 2));
        SslExperiment experiment = ml.SelfSupervisedExperiment().SetDataset(data).SetInputColumn("Features").SetMaxTrials(1)
            .SetDevice("CUDA");
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => experiment.RunAsync());
        Assert.Contains("no CUDA GPU is visible", error.Message, StringComparison.Ordinal);
    }
}
