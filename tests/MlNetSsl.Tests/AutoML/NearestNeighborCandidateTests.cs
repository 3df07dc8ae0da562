using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;
using MlNetSsl.AutoML;
using MlNetSsl.Tests.Infrastructure;
using MlNetSsl.Tests.MlNet;
using Xunit;
using Xunit.Abstractions;

namespace MlNetSsl.Tests.AutoML;

/// <summary>
/// The nearest neighbour as the experiment's raw-feature candidate on the shared UEA series: first in the Series portfolio,
/// cross-validated and refitted on the series unstandardized (so the refitted model is the plain 1-NN of the labeled rows),
/// its held-out scores kept for the ensemble selection beside the other raw pipelines', and standardized elsewhere.
/// </summary>
public sealed class NearestNeighborCandidateTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("mlnetssl-nn-automl-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static string Uea(string file)
    {
        string path = Path.Combine(SharedData.DataRoot, "uea", file);
        Skip.IfNot(File.Exists(path), $"{path} is not here");
        return path;
    }

    [SkippableFact]
    public void TheSeriesPortfolioStartsWithTheRawNearestNeighbourAndTheTablesDoNotOfferIt()
    {
        var series = SslPortfolio.For(SslSearchSpace.For(SslInputKind.Series), SslInputKind.Series, rows: 200, labeledRows: 20);
        SslTrialParameters first = series[0].Configuration.AsType<SslTrialParameters>();
        Assert.Equal("raw 1-NN", series[0].Name);
        Assert.Equal((SslFeatureSource.RawFeatures, DownstreamTrainer.NearestNeighbor), (first.Features, first.Downstream.Trainer));
        // Its trial reads no trainer option: the tuner's draws of the others reduce to this one configuration.
        Parameters reduced = SslSearchSpace.EffectiveConfiguration(series[0].Configuration)!;
        Assert.Equal([nameof(SslDownstreamParameters.Trainer)], ((Parameters)reduced[SslSearchSpace.DownstreamOption]).Keys);

        // Tables and images do not offer it (their searches are as before); a caller can add it.
        bool Offers(SslSearchSpace space) => ((ChoiceOption)space.Downstream[nameof(SslDownstreamParameters.Trainer)]).IndexOf(nameof(DownstreamTrainer.NearestNeighbor)) >= 0;
        Assert.True(Offers(SslSearchSpace.For(SslInputKind.Series)));
        Assert.False(Offers(SslSearchSpace.For(SslInputKind.Tabular)));
        Assert.False(Offers(SslSearchSpace.For(SslInputKind.Image)));
        Assert.True(Offers(SslSearchSpace.For(SslInputKind.Tabular).WithDownstreamTrainers(DownstreamTrainer.NearestNeighbor, DownstreamTrainer.LinearProbe)));
        Assert.DoesNotContain(SslPortfolio.For(SslSearchSpace.For(SslInputKind.Tabular), SslInputKind.Tabular, 200, 20),
            e => e.Configuration.AsType<SslTrialParameters>().Downstream.Trainer == DownstreamTrainer.NearestNeighbor);

        Assert.True(SslDownstream.ReadsUnscaled(DownstreamTrainer.NearestNeighbor, SslInputKind.Series, SslFeatureSource.RawFeatures));
        Assert.False(SslDownstream.ReadsUnscaled(DownstreamTrainer.NearestNeighbor, SslInputKind.Tabular, SslFeatureSource.RawFeatures));
        Assert.False(SslDownstream.ReadsUnscaled(DownstreamTrainer.NearestNeighbor, SslInputKind.Series, SslFeatureSource.SelfSupervised));
        Assert.False(SslDownstream.ReadsUnscaled(DownstreamTrainer.LinearProbe, SslInputKind.Series, SslFeatureSource.RawFeatures));
        Assert.Equal("NearestNeighbor(1-NN, Euclidean)", SslDownstream.Describe(first.Downstream));
    }

    [SkippableFact]
    public void UnstandardizedFoldsHoldTheRowsAsTheyAre()
    {
        var ml = new MLContext(0);
        float[][] series = StageData.Vectors(ml.Data.LoadFromTsFile(Uea("GunPoint_TRAIN.ts")), "Features");
        uint[] labels = [.. Enumerable.Range(0, series.Length).Select(i => (uint)(i % 2) + 1)];
        int[] foldOfRow = [.. Enumerable.Range(0, series.Length).Select(i => i % 5)];
        var raw = CrossValidation.BuildFolds(ml, series, labels, 2, foldOfRow, 5, standardize: false);
        var scaled = CrossValidation.BuildFolds(ml, series, labels, 2, foldOfRow, 5);
        float[][] heldOut = StageData.Vectors(raw[0].Test, CrossValidationTrialRunner.FeatureColumn);
        Assert.Equal(series.Where((_, i) => i % 5 == 0), heldOut);
        Assert.NotEqual(heldOut, StageData.Vectors(scaled[0].Test, CrossValidationTrialRunner.FeatureColumn));
    }

    [SkippableFact]
    public async Task OnSeriesTheChosenNearestNeighbourIsThePlainOneNnOfTheLabeledRows()
    {
        var ml = new MLContext(seed: 1);
        IDataView train = ml.Data.LoadFromTsFile(Uea("GunPoint_TRAIN.ts")), test = ml.Data.LoadFromTsFile(Uea("GunPoint_TEST.ts"));
        var space = SslSearchSpace.For(SslInputKind.Series);
        Parameters nearest = SslExperimentData.Configuration(space, ("Features", "RawFeatures"), ("Downstream.Trainer", "NearestNeighbor"));
        SslExperimentResult result = await ml.SelfSupervisedExperiment()
            .SetDataset(train).SetInputColumn("Features", seriesChannels: 1).SetSearchSpace(space)
            .SetTuner(SslExperimentData.Scripted("nearest", nearest))
            .SetMaxTrials(1)
            .RunAsync();
        output.WriteLine(result.BestPipelineDescription);
        Assert.Contains("NearestNeighbor", result.BestPipelineDescription, StringComparison.Ordinal);

        // Refitted on the 50 series as they are: no standardization before it, and the test classes of a 1-NN (0.913).
        var parts = Flatten(result.BestTrial.Model);
        int index = parts.FindIndex(p => p is NearestNeighborTransformer);
        Assert.True(index > 0);
        Assert.DoesNotContain(parts, p => p is NormalizingTransformer);
        IDataView scored = result.BestTrial.Model.Transform(test);
        string[] truth = [.. test.GetColumn<ReadOnlyMemory<char>>("Label").Select(l => l.ToString())];
        string[] predicted = [.. scored.GetColumn<ReadOnlyMemory<char>>("PredictedLabel").Select(l => l.ToString())];
        double accuracy = truth.Zip(predicted).Count(p => p.First == p.Second) / (double)truth.Length;
        output.WriteLine($"GunPoint test accuracy {accuracy:F4}");
        Assert.Equal(137 / 150.0, accuracy, 9);
    }

    [SkippableFact]
    public async Task TheNearestNeighboursHeldOutScoresReachTheEnsembleSelection()
    {
        var ml = new MLContext(seed: 1);
        IDataView train = ml.Data.LoadFromTsFile(Uea("BasicMotions_TRAIN.ts")), test = ml.Data.LoadFromTsFile(Uea("BasicMotions_TEST.ts"));
        var space = SslSearchSpace.For(SslInputKind.Series);
        Parameters nearest = SslExperimentData.Configuration(space, ("Features", "RawFeatures"), ("Downstream.Trainer", "NearestNeighbor"));
        Parameters linear = SslExperimentData.Configuration(space, ("Features", "RawFeatures"), ("Downstream.Trainer", "LinearProbe"));
        Parameters trees = SslExperimentData.Configuration(space, ("Features", "RawFeatures"), ("Downstream.Trainer", "LightGbm"));
        string checkpoint = Path.Combine(_folder, "checkpoint");
        SslExperimentResult result = await ml.SelfSupervisedExperiment()
            .SetDataset(train).SetInputColumn("Features", seriesChannels: 6).SetSearchSpace(space)
            .SetTuner(SslExperimentData.Scripted("raw", nearest, linear, trees))
            .SetEnsembleSelection(true).SetCheckpoint(checkpoint)
            .SetMaxTrials(3)
            .RunAsync();
        output.WriteLine(result.BestPipelineDescription);
        output.WriteLine(result.SelectionExplanation);
        foreach (var trial in result.Trials) output.WriteLine($"trial {trial.TrialId}: {trial.Metric}");
        // Its out-of-fold class scores are written beside the other raw trials', as the selection (and a resumed run) reads them.
        string[] files = Directory.GetFiles(checkpoint, "out-of-fold-*.json", SearchOption.AllDirectories);
        Assert.Equal(["out-of-fold-0000.json", "out-of-fold-0001.json", "out-of-fold-0002.json"], files.Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.All(result.Trials, t => Assert.NotNull(t.Metric));

        // The selection (deterministic: single-threaded trainers, fixed folds) mixes the nearest neighbour (CV 0.545) with
        // LightGBM (0.625): 0.63 on the held-out rows together.
        Assert.Contains(result.Ensemble, m => m.TrialId == 0 && m.Description.Contains("NearestNeighbor", StringComparison.Ordinal));
        // Refitted as its trial was cross-validated: on the series as they are, while the other members are standardized.
        var parts = Flatten(result.BestTrial.Model);
        int index = parts.FindIndex(p => p is NearestNeighborTransformer);
        Assert.IsNotType<NormalizingTransformer>(parts[index - 1]);
        Assert.Contains(parts, p => p is NormalizingTransformer);
        IDataView scored = result.BestTrial.Model.Transform(test);
        float[][] scores = StageData.Vectors(scored, "Score");
        Assert.All(scores, s => Assert.Equal(1.0, s.Sum(), 3));

        // The ensemble converts to one ONNX graph; ONNX Runtime gives the model's classes and (to float rounding) its scores.
        string onnx = Path.Combine(_folder, "ensemble.onnx");
        using (FileStream stream = File.Create(onnx)) ml.Model.ConvertToOnnx(result.BestTrial.Model, train, stream);
        IDataView fromOnnx = ml.Transforms.ApplyOnnxModel(onnx).Fit(test).Transform(test);
        double worst = Close.WorstRowDifference(StageData.Vectors(fromOnnx, "Score"), scores);
        output.WriteLine($"ONNX against the model: worst row score difference {worst:E2}");
        Assert.True(worst < 1e-4, $"ONNX scores differ by {worst:E2}");
        Assert.Equal(scored.GetColumn<ReadOnlyMemory<char>>("PredictedLabel").Select(l => l.ToString()),
            fromOnnx.GetColumn<string[]>("PredictedLabel").Select(v => v[0]));
    }

    private sealed class GunPointRow
    {
        [VectorType(150)] public float[] Features { get; set; } = [];
        public string Label { get; set; } = "";
    }

    [SkippableFact]
    public async Task AClassWithOneLabeledRowLeavesAFoldWithOneClassAndTheNearestNeighbourStillScoresIt()
    {
        // Two classes, one of them with a single labeled row: the stratified folds hold that row out in one fold
        // (StratifiedFolds), whose training side then has one class. L-BFGS and LightGBM train there; the nearest neighbour
        // refused one-class rows ("a classifier needs rows of two classes or more"), so its trial, the Series portfolio's
        // first, failed.
        var ml = new MLContext(seed: 1);
        IDataView source = ml.Data.LoadFromTsFile(Uea("GunPoint_TRAIN.ts"));
        float[][] series = StageData.Vectors(source, "Features");
        string[] labels = [.. source.GetColumn<ReadOnlyMemory<char>>("Label").Select(l => l.ToString())];
        string rare = labels[0];
        int rareKept = 0;
        var rows = series.Select((s, i) => new GunPointRow { Features = s, Label = labels[i] })
            .Where(r => r.Label != rare || rareKept++ == 0).ToList();
        Assert.Equal(1, rows.Count(r => r.Label == rare));
        IDataView train = ml.Data.LoadFromEnumerable(rows);
        // Cross-validation as set (Auto would fall back to the label-free objective with one of two classes a singleton): the
        // Series portfolio's first entry is the raw 1-NN, then raw LightGBM.
        SslExperimentResult result = await ml.SelfSupervisedExperiment()
            .SetDataset(train).SetInputColumn("Features", seriesChannels: 1).SetObjective(SslObjective.CrossValidatedAccuracy())
            .SetMaxTrials(2)
            .RunAsync();
        foreach (var trial in result.Trials) output.WriteLine($"trial {trial.TrialId}: {trial.Status} {trial.Metric} {trial.ErrorMessage} {trial.Parameters}");
        Assert.All(result.Trials, t => Assert.NotNull(t.Metric));
        TrialRecord nearestTrial = Assert.Single(result.Trials, t => t.TrialId == 0);
        Assert.Equal(DownstreamTrainer.NearestNeighbor, nearestTrial.Parameters.AsType<SslTrialParameters>().Downstream.Trainer);
        Assert.InRange(nearestTrial.Metric!.Value, 0.9, 1.0); // 0.928 (5 repetitions; the rare row cannot be right)
    }

    private static List<ITransformer> Flatten(ITransformer model)
    {
        var parts = new List<ITransformer>();
        void Add(ITransformer t)
        {
            if (t is IEnumerable<ITransformer> chain) foreach (var inner in chain) Add(inner);
            else parts.Add(t);
        }
        Add(model);
        return parts;
    }
}
