using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetSsl.AutoML;
using MlNetSsl.Tests.AutoML;
using MlNetSsl.Tests.Infrastructure;
using MlNetSsl.Tests.MlNet;
using TorchSharp;
using Xunit;

namespace MlNetSsl.Tests.Extending;

/// <summary>
/// A method defined in this test assembly (<see cref="AlignUniformMethod"/>) works wherever a built-in one does once it
/// is registered: the ML.NET stage, model save and load (its options included), and the AutoML search.
/// </summary>
public sealed class ExternalMethodTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("mlnetssl-extending-").FullName;

    public ExternalMethodTests() => SslMethodRegistry.Register(AlignUniformMethod.Registration);

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [SkippableFact]
    public void RegisteredMethodPretrainsInTheStageAndSavesAndLoadsWithItsOptions()
    {
        var ml = new MLContext(seed: 1);
        IDataView train = ml.Data.LoadFromEnumerable(StageData.HiggsRows("train", 512));
        IDataView test = ml.Data.LoadFromEnumerable(StageData.HiggsRows("test", 64));
        var options = new AlignUniformOptions { UniformityWeight = 0.7, ProjectionSize = 32 };
        SelfSupervisedTransformer stage = ml.Transforms.SelfSupervised("Embedding", "Features", "alignuniform", o =>
        {
            o.Epochs = 3;
            o.BatchSize = 128;
            o.MethodOptions = options;
        }).Fit(train);

        Assert.Equal("AlignUniform", stage.Method);
        Assert.Equal(3, stage.History.Count);
        // It learned: the loss fell from the first epoch to the last.
        Assert.True(stage.History[^1].MeanLoss < stage.History[0].MeanLoss, $"loss {stage.History[0].MeanLoss} -> {stage.History[^1].MeanLoss}");
        float[][] expected = StageData.Vectors(stage.Transform(test), "Embedding");

        string path = Path.Combine(_folder, "align-uniform.zip");
        ml.Model.Save(stage, train.Schema, path);
        stage.Dispose();

        var fresh = new MLContext(seed: 7);
        ITransformer loaded = fresh.Model.Load(path, out _);
        var reloaded = Assert.IsType<SelfSupervisedTransformer>(loaded);
        Close.RowsEqual(expected, StageData.Vectors(reloaded.Transform(fresh.Data.LoadFromEnumerable(StageData.HiggsRows("test", 64))), "Embedding"));
        var savedOptions = Assert.IsType<AlignUniformOptions>(reloaded.MethodOptions);
        Assert.Equal(0.7, savedOptions.UniformityWeight);
        Assert.Equal(32, savedOptions.ProjectionSize);
        reloaded.Dispose();
    }

    [SkippableFact]
    public async Task RegisteredMethodRunsInAnAutoMLSearch()
    {
        var ml = new MLContext(seed: 1);
        IDataView data = ml.Data.LoadFromEnumerable(SslExperimentData.HiggsWithHiddenLabels(300, labeledEvery: 5));
        SslSearchSpace space = SslSearchSpace.For(data, "Features").WithMethods("AlignUniform");

        SslExperimentResult result = await ml.SelfSupervisedExperiment()
            .SetDataset(data, labelColumnName: "Label")
            .SetInputColumn("Features")
            .SetSearchSpace(space)
            .SetTuner(SslTuner.Random)
            .SetMaxTrials(2)
            .SetSeed(3)
            .RunAsync();

        TrialRecord[] withMetric = result.Trials.Where(t => t.Metric.HasValue).ToArray();
        Assert.NotEmpty(withMetric);
        // Trials that pretrained ran the registered method (the raw-feature baseline needs no method).
        Assert.All(result.Trials, t => Assert.Equal("AlignUniform", t.Parameters.GetNested("Pretraining").GetString("Method")));
        Assert.Contains(result.Trials, t => t.Status == TrialStatus.Completed);
    }

    [SkippableFact]
    public void LoadingInAProcessThatDidNotRegisterTheMethodNamesTheMethodAndTheFix()
    {
        var ml = new MLContext(seed: 1);
        IDataView train = ml.Data.LoadFromEnumerable(StageData.HiggsRows("train", 128));
        string path = Path.Combine(_folder, "align-uniform.zip");
        using (SelfSupervisedTransformer stage = ml.Transforms.SelfSupervised("Embedding", "Features", "AlignUniform", o => o.Epochs = 1).Fit(train))
            ml.Model.Save(stage, train.Schema, path);
        string input = Path.Combine(_folder, "rows.json");
        File.WriteAllText(input, System.Text.Json.JsonSerializer.Serialize(StageData.HiggsRows("test", 4).Select(r => r.Features)));

        // The child process is the test assembly's own entry point, which never registers AlignUniform.
        var (exitCode, stdout, stderr) = ChildProcess.RunCapturing(TimeSpan.FromMinutes(2), new Dictionary<string, string>(),
            "transform-vectors", path, input, "Features", "Embedding");

        Assert.NotEqual(0, exitCode);
        Assert.Contains("'AlignUniform'", stderr + stdout);
        Assert.Contains("SslMethodRegistry.Register", stderr + stdout);
    }

    [SkippableFact]
    public void RegistryRefusesASecondMethodWithTheSameNameAndAnUnknownName()
    {
        var clash = new SslMethodRegistration<AlignUniformOptions>("simclr", (e, o) => new AlignUniformMethod(e, o));
        var duplicate = Assert.Throws<InvalidOperationException>(() => SslMethodRegistry.Register(clash));
        Assert.Contains("SimClr", duplicate.Message);
        SslMethodRegistry.Register(AlignUniformMethod.Registration); // the same instance again: no error

        var unknown = Assert.Throws<ArgumentException>(() => SslMethodRegistry.Get("NoSuchMethod"));
        Assert.Contains("AlignUniform", unknown.Message);
        Assert.Throws<ArgumentException>(() => new SslMethodRegistration<AlignUniformOptions>("bad name", (e, o) => new AlignUniformMethod(e, o)));
        Assert.Contains("AlignUniform", SslMethodRegistry.NamesFor(SslInputKind.Image));
        Assert.DoesNotContain(nameof(SslMethod.Scarf), SslMethodRegistry.NamesFor(SslInputKind.Image));
    }

    [SkippableFact]
    public void UniformityMatchesAHandComputedValue()
    {
        // Three unit vectors at 0, 90 and 180 degrees: squared distances 2, 2 and 4 for the pairs (each counted twice).
        using var z = torch.tensor(new float[,] { { 1, 0 }, { 0, 1 }, { -1, 0 } });
        double expected = Math.Log((4 * Math.Exp(-2 * 2.0) + 2 * Math.Exp(-2 * 4.0)) / 6);
        Assert.Equal(expected, AlignUniformMethod.Uniformity(z, 2.0).item<float>(), 5);
    }
}
