using Microsoft.ML;
using TorchSharp;
using Xunit;

namespace MlNetSsl.Tests.MlNet;

/// <summary>The stage's schedule and optimizer options reach pretraining, and bad values fail when the stage is created.</summary>
public sealed class StageOptionsTests
{
    private readonly MLContext _ml = new(seed: 1);

    private float[][] Embed(Action<SelfSupervisedOptions> change)
    {
        var data = _ml.Data.LoadFromEnumerable(StageData.HiggsRows("train", 256));
        using var model = _ml.Transforms.SelfSupervised("E", "Features", SslMethod.Scarf, o =>
        {
            o.Epochs = 2;
            o.BatchSize = 64;
            change(o);
        }).Fit(data);
        return StageData.Vectors(model.Transform(_ml.Data.LoadFromEnumerable(StageData.HiggsRows("test", 32))), "E");
    }

    public static TheoryData<string, Action<SelfSupervisedOptions>, Action<SelfSupervisedOptions>> Changes() => new()
    {
        { "GradientClipNorm", _ => { }, o => o.GradientClipNorm = 1e-3 },
        { "WarmupEpochs", _ => { }, o => o.WarmupEpochs = 0 },
        { "FinalLearningRateFraction", _ => { }, o => o.FinalLearningRateFraction = 1 },
        { "Momentum", o => o.Optimizer = SslOptimizer.Sgd, o => { o.Optimizer = SslOptimizer.Sgd; o.Momentum = 0; } },
        { "LarsTrustCoefficient", o => o.Optimizer = SslOptimizer.Lars, o => { o.Optimizer = SslOptimizer.Lars; o.LarsTrustCoefficient = 0.1; } },
    };

    [SkippableTheory]
    [MemberData(nameof(Changes))]
    public void EachScheduleAndOptimizerOptionChangesTheTrainedEncoder(string option, Action<SelfSupervisedOptions> baseline, Action<SelfSupervisedOptions> changed)
    {
        float[][] reference = Embed(baseline);
        Assert.Equal(reference, Embed(baseline)); // deterministic, so any difference below comes from the option
        float[][] other = Embed(changed);
        double largest = reference.Zip(other, (a, b) => a.Zip(b, (x, y) => Math.Abs(x - y)).Max()).Max();
        Assert.True(largest > 1e-4, $"{option} did not reach pretraining: largest embedding change {largest}");
    }

    public static TheoryData<string, Action<SelfSupervisedOptions>> BadValues() => new()
    {
        { "Momentum", o => o.Momentum = 1 },
        { "Momentum", o => o.Momentum = double.NaN },
        { "LarsTrustCoefficient", o => o.LarsTrustCoefficient = 0 },
        { "WarmupEpochs", o => o.WarmupEpochs = double.NaN },
        { "FinalLearningRateFraction", o => o.FinalLearningRateFraction = 2 },
        { "GradientClipNorm", o => o.GradientClipNorm = double.NaN },
        { "WeightDecay", o => o.WeightDecay = -1 },
    };

    [SkippableTheory]
    [MemberData(nameof(BadValues))]
    public void BadValuesFailWhenTheStageIsCreated(string option, Action<SelfSupervisedOptions> change)
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => _ml.Transforms.SelfSupervised("E", "Features", SslMethod.Scarf, change));
        Assert.Equal(option, error.ParamName);
    }

    [SkippableFact]
    public void CpuThreadsTakesEffectAfterInitialization()
    {
        SslEnvironment.EnsureInitialized();
        int before = torch.get_num_threads();
        int? setting = SslEnvironment.CpuThreads;
        try
        {
            SslEnvironment.CpuThreads = 1;
            Assert.Equal(1, torch.get_num_threads());
            SslEnvironment.CpuThreads = null;
            Assert.Equal(Environment.ProcessorCount, torch.get_num_threads());
            Assert.Throws<ArgumentOutOfRangeException>(() => SslEnvironment.CpuThreads = 0);
        }
        finally
        {
            SslEnvironment.CpuThreads = setting;
            torch.set_num_threads(before);
        }
    }

    [SkippableTheory]
    [InlineData(0, 100, 25)] // a quarter of a small pool: an epoch of four steps, not one
    [InlineData(0, 40, 16)] // at least 16
    [InlineData(0, 1200, 256)] // from 1,024 rows on, 256
    [InlineData(64, 100, 64)] // a batch the caller set is used as given
    public void TheDefaultBatchIsAQuarterOfASmallPool(int batchSize, int rows, int expected)
    {
        Assert.Equal(0, new SelfSupervisedOptions().BatchSize);
        var data = _ml.Data.LoadFromEnumerable(StageData.HiggsRows("train", rows));
        using var model = _ml.Transforms.SelfSupervised("E", "Features", SslMethod.Scarf, o =>
        {
            o.Epochs = 1;
            o.BatchSize = batchSize;
        }).Fit(data);
        Assert.Equal(expected, model.BatchSize);
    }

    [SkippableFact]
    public void ANegativeBatchFailsWhenTheStageIsCreated()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => _ml.Transforms.SelfSupervised("E", "Features", SslMethod.Scarf, o => o.BatchSize = -1));
        Assert.Equal("BatchSize", error.ParamName);
    }
}
