using Microsoft.ML;
using MlNetSsl.AutoML;
using MlNetSsl.Tests.AutoML;
using MlNetSsl.Tests.Infrastructure;
using MlNetSsl.Tests.MlNet;
using TorchSharp;
using Xunit;

namespace MlNetSsl.Tests.Extending;

/// <summary>The augmentation and tuner of docs/extending.md, used as a user would.</summary>
public sealed class ExtensionPointTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("mlnetssl-extension-points-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [SkippableFact]
    public void CustomAugmentationDropsFeaturesAtItsRateAndSurvivesModelSaveAndLoad()
    {
        SslEnvironment.EnsureInitialized();
        using (var generator = new torch.Generator(3))
        {
            var context = new AugmentationContext(generator, SslInputShape.Tabular(100));
            using var ones = torch.ones(200, 100);
            using var view = new FeatureDropout { Rate = 0.4, Strength = 0.5 }.Apply(ones, context);
            double zeroed = (view == 0).to_type(torch.ScalarType.Float64).mean().item<double>();
            Assert.InRange(zeroed, 0.18, 0.22); // 0.4 x 0.5 = 0.2 of 20,000 features
        }

        AugmentationPolicy.RegisterAugmentation<FeatureDropout>();
        var ml = new MLContext(seed: 1);
        IDataView train = ml.Data.LoadFromEnumerable(StageData.HiggsRows("train", 256));
        var policy = new AugmentationPolicy(new ScarfCorruption(), new FeatureDropout { Rate = 0.25 });
        string path = Path.Combine(_folder, "dropout.zip");
        using (var stage = ml.Transforms.SelfSupervised("Embedding", "Features", SslMethod.Scarf, o => { o.Epochs = 1; o.Augmentations = policy; }).Fit(train))
            ml.Model.Save(stage, train.Schema, path);

        using var loaded = Assert.IsType<SelfSupervisedTransformer>(new MLContext().Model.Load(path, out _));
        var dropout = Assert.IsType<FeatureDropout>(loaded.Augmentations.Steps[1].Augmentation);
        Assert.Equal(0.25, dropout.Rate);
    }

    [SkippableFact]
    public async Task CustomTunerDrivesASelfSupervisedExperiment()
    {
        var ml = new MLContext(seed: 1);
        IDataView data = ml.Data.LoadFromEnumerable(SslExperimentData.HiggsWithHiddenLabels(300, labeledEvery: 5));
        LocalSearchTuner? tuner = null;

        SslExperimentResult result = await ml.SelfSupervisedExperiment()
            .SetDataset(data, labelColumnName: "Label")
            .SetInputColumn("Features")
            .SetSearchSpace(SslSearchSpace.For(data, "Features").WithMethods(SslMethod.Scarf))
            .SetTuner(SslTuner.Custom("LocalSearch", (space, seed) => tuner = new LocalSearchTuner(space, seed)))
            .SetMaxTrials(3)
            .SetSeed(5)
            .RunAsync();

        Assert.NotNull(tuner);
        Assert.Equal(3, result.Trials.Count);
        Assert.True(tuner!.Updates >= 3, $"the tuner heard of {tuner.Updates} results");
        Assert.Contains(result.Trials, t => t.Metric.HasValue);
    }
}
