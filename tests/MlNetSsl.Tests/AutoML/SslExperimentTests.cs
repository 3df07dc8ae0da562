using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetSsl.AutoML;
using MlNetSsl.Tests.MlNet;
using Xunit;
using Xunit.Abstractions;

namespace MlNetSsl.Tests.AutoML;

/// <summary>End-to-end runs of <c>ml.SelfSupervisedExperiment()</c> on small real slices.</summary>
public sealed class SslExperimentTests : IDisposable
{
    private readonly ITestOutputHelper _output;
    private readonly string _folder = Directory.CreateTempSubdirectory("mlnetssl-automl-ssl-").FullName;

    public SslExperimentTests(ITestOutputHelper output) => _output = output;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public async Task TabularHiggsWithTenPercentLabelsReturnsASavedReloadablePipeline()
    {
        var ml = new MLContext(seed: 1);
        HiggsRow[] rows = SslExperimentData.HiggsWithHiddenLabels(400, labeledEvery: 10);
        IDataView data = ml.Data.LoadFromEnumerable(rows);
        IDataView test = ml.Data.LoadFromEnumerable(StageData.HiggsRows("test", 200));

        var watch = Stopwatch.StartNew();
        SslExperimentResult result = await ml.SelfSupervisedExperiment()
            .SetDataset(data, labelColumnName: "Label")
            .SetInputColumn("Features")
            .SetSearchSpace(SslSearchSpace.For(data, "Features"))
            .SetObjective(SslObjective.Auto)
            .SetTuner(SslTuner.Random)
            .SetScheduler(SslScheduler.Asha(minEpochs: 1, maxEpochs: 3, reduction: 3))
            .SetMaxTrials(6)
            .RunAsync();
        watch.Stop();

        foreach (TrialRecord trial in result.Trials) _output.WriteLine(trial.ToString());
        foreach (SslTrialMeasures m in result.TrialMeasures) _output.WriteLine(m.ToString());
        _output.WriteLine($"{result.ObjectiveExplanation}\nwinner: {result.BestFeatureSource}: {result.BestPipelineDescription}\n" +
            $"reuse: {result.PretrainingReuse}\n{watch.Elapsed.TotalSeconds:F1} s");

        Assert.Equal(SslObjectiveKind.CrossValidatedAccuracy, result.Objective!.Kind);
        Assert.Equal(6, result.Trials.Count);
        Assert.NotNull(result.BestFeatureSource);

        float[] before = result.BestTrial.Model.Transform(test).GetColumn<float>("PredictedLabel").ToArray();
        Assert.All(before, p => Assert.True(p is 0f or 1f, $"prediction {p} is not a class of the data"));
        string path = Path.Combine(_folder, "model.zip");
        ml.Model.Save(result.BestTrial.Model, data.Schema, path);
        var fresh = new MLContext(seed: 2);
        ITransformer loaded = fresh.Model.Load(path, out _);
        float[] after = loaded.Transform(fresh.Data.LoadFromEnumerable(StageData.HiggsRows("test", 200))).GetColumn<float>("PredictedLabel").ToArray();
        Assert.Equal(before, after);
        (loaded as IDisposable)?.Dispose();
    }

    [Fact]
    public async Task TrialsSharingPretrainingOptionsPretrainOnceAndAPromotedTrialContinuesFromItsCheckpoint()
    {
        var ml = new MLContext(seed: 1);
        IDataView data = ml.Data.LoadFromEnumerable(SslExperimentData.HiggsWithHiddenLabels(400, labeledEvery: 4));
        SslSearchSpace space = SslExperimentData.FastSpace(SslInputKind.Tabular, SslMethod.Scarf);
        // The same pretraining options, different probes: one pretraining run serves both trials.
        Parameters first = SslExperimentData.Configuration(space, ("Downstream.L2Regularization", 0.01));
        Parameters second = SslExperimentData.Configuration(space, ("Downstream.L2Regularization", 0.1));

        SslExperimentResult result = await ml.SelfSupervisedExperiment()
            .SetDataset(data)
            .SetInputColumn("Features")
            .SetSearchSpace(space)
            .SetObjective(SslObjective.CrossValidatedAccuracy(folds: 3))
            .SetTuner(SslExperimentData.Scripted("shared-pretraining", first, second))
            .SetScheduler(SslScheduler.Asha(minEpochs: 1, maxEpochs: 3, reduction: 3))
            .SetMaxTrials(2)
            .RunAsync();
        foreach (SslTrialMeasures m in result.TrialMeasures) _output.WriteLine(m.ToString());
        _output.WriteLine(result.PretrainingReuse!.ToString());

        SslTrialMeasures Segment(int trial, int fidelity) => Assert.Single(result.TrialMeasures, m => m.TrialId == trial && m.Fidelity == fidelity);
        // Trial 0 trains its first epoch, is promoted (the first result at a rung always is) and trains only epochs 2-3.
        Assert.Equal((1, 0), (Segment(0, 1).PretrainingEpochsTrained, Segment(0, 1).PretrainingEpochsReused));
        Assert.Equal((2, 1), (Segment(0, 3).PretrainingEpochsTrained, Segment(0, 3).PretrainingEpochsReused));
        Assert.True(Segment(0, 3).PretrainingSecondsSaved > 0);
        // Trial 1 shares the pretraining options, so its first rung loads the snapshot and trains nothing.
        Assert.Equal((0, 1), (Segment(1, 1).PretrainingEpochsTrained, Segment(1, 1).PretrainingEpochsReused));
        Assert.Equal(3, result.PretrainingReuse.EpochsTrained);

        // The refitted stage is the continued run, and it equals one 3-epoch run straight through.
        SelfSupervisedTransformer stage = ((IEnumerable<ITransformer>)result.BestTrial.Model).OfType<SelfSupervisedTransformer>().Single();
        Assert.Equal(3, stage.History.Count);
        SelfSupervisedOptions straightOptions = first.AsType<SslTrialParameters>().Pretraining.ToOptions(stage.InputShape, "Features", "Straight");
        straightOptions.Epochs = 3;
        straightOptions.ScheduleEpochs = 3;
        straightOptions.Seed = 1; // the experiment's seed 0 + 1
        using SelfSupervisedTransformer straight = ml.Transforms.SelfSupervised(straightOptions).Fit(data);
        IDataView test = ml.Data.LoadFromEnumerable(StageData.HiggsRows("test", 50));
        float[] continued = stage.Transform(test).GetColumn<VBuffer<float>>(stage.OutputColumnName).SelectMany(v => v.DenseValues()).ToArray();
        float[] direct = straight.Transform(test).GetColumn<VBuffer<float>>("Straight").SelectMany(v => v.DenseValues()).ToArray();
        Assert.Equal(direct.Length, continued.Length);
        Assert.All(direct.Zip(continued), p => Assert.Equal(p.First, p.Second, 1e-5f));
        stage.Dispose();
    }
}
