using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetSsl.AutoML;
using MlNetSsl.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace MlNetSsl.Tests.AutoML;

/// <summary>The first real use of the engine: ML.NET linear trainers on the wine-quality data, cross-validated.</summary>
public sealed class MulticlassTrainerExperimentTests : IDisposable
{
    private readonly ITestOutputHelper _output;
    private readonly string _folder = Directory.CreateTempSubdirectory("mlnetssl-automl-ml-").FullName;

    public MulticlassTrainerExperimentTests(ITestOutputHelper output) => _output = output;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    public sealed class WineRow
    {
        [VectorType(11)]
        public float[] Features { get; set; } = [];

        public float Label { get; set; }
    }

    public sealed class WinePrediction
    {
        public float PredictedLabel { get; set; }
    }

    /// <summary>White wine quality (UCI): 11 features, quality 3..9 last, no header.</summary>
    private static WineRow[] ReadWine() => File.ReadLines(Path.Combine(SharedData.DataRoot, "tabular", "winequality-white.csv"))
        .Where(line => line.Length > 0)
        .Select(line => line.Split(',').Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray())
        .Select(values => new WineRow { Features = values[..11], Label = values[11] })
        .ToArray();

    private static double Accuracy(MLContext ml, ITransformer model, WineRow[] rows)
    {
        float[] predicted = model.Transform(ml.Data.LoadFromEnumerable(rows)).GetColumn<float>("PredictedLabel").ToArray();
        return predicted.Zip(rows).Count(p => p.First == p.Second.Label) / (double)rows.Length;
    }

    [SkippableFact]
    public async Task CrossValidatedSearchOnWineReturnsAFittedUsablePipeline()
    {
        // The file is not in random order (label frequencies drift along it), so split a seeded shuffle: 600 labeled rows,
        // 600 whose label is hidden (the unlabeled pool, which plain trainers skip) and 1000 held-out test rows.
        WineRow[] wine = ReadWine();
        new Random(7).Shuffle(wine);
        var ml = new MLContext(seed: 1);
        var rows = wine.Take(1200).Select((r, i) => i < 600 ? r : new WineRow { Features = r.Features, Label = float.NaN }).ToArray();
        WineRow[] test = wine.Skip(1200).Take(1000).ToArray();
        var progress = new SynchronousProgress<SslTrialReport>();

        var watch = System.Diagnostics.Stopwatch.StartNew();
        SslExperimentResult result = await ml.MulticlassTrainerExperiment()
            .SetDataset(ml.Data.LoadFromEnumerable(rows), labelColumnName: "Label")
            .SetFeatureColumn("Features")
            .SetObjective(SslObjective.CrossValidatedAccuracy(folds: 5))
            .SetTuner(SslTuner.FromOptions(new TpeTunerOptions { StartupTrials = 6 }))
            .SetScheduler(SslScheduler.Asha(minEpochs: 15, maxEpochs: 135, reduction: 3))
            .SetMaxTrials(12)
            .SetCheckpoint(_folder)
            .SetProgress(progress)
            .RunAsync();
        watch.Stop();

        foreach (TrialRecord trial in result.Trials) _output.WriteLine(trial.ToString());
        double accuracy = Accuracy(ml, result.BestTrial.Model, test);
        // Quality 6 is the most frequent label; always predicting it is the baseline to beat.
        double majority = test.Count(r => r.Label == 6) / (double)test.Length;
        double labeledMajority = rows.Take(600).Count(r => r.Label == 6) / 600.0;
        _output.WriteLine($"best CV accuracy {result.BestTrial.Metric:F3} (majority {labeledMajority:F3}), held-out accuracy {accuracy:F3} " +
            $"(majority {majority:F3}), {watch.Elapsed.TotalSeconds:F1} s");

        Assert.Equal(12, result.Trials.Count);
        Assert.Equal(SearchStopReason.MaxTrials, result.StopReason);
        Assert.Equal(135, result.BestTrial.Fidelity);
        Assert.Equal(result.Trials[0].TrialId, result.BestTrial.TrialId);
        Assert.Contains(result.Trials, t => t.Status == TrialStatus.Pruned);
        Assert.DoesNotContain(result.Trials, t => t.Status == TrialStatus.Failed);
        Assert.False(result.BestTrial.Parameters.ContainsKey(nameof(LinearTrainerParameters.MaximumNumberOfIterations))); // the fidelity sets it
        Assert.InRange(result.BestTrial.Metric, labeledMajority + 0.01, 1.0);
        // The pipeline in words, with the refit's iterations (the top rung), as the self-supervised experiment gives its own.
        Assert.StartsWith(result.BestTrial.Parameters.AsType<LinearTrainerParameters>().Trainer.ToString() + "(L1=", result.BestPipelineDescription);
        Assert.Contains("135 ", result.BestPipelineDescription);
        Assert.EndsWith("on standardized 'Features'", result.BestPipelineDescription);
        Assert.True(accuracy > majority + 0.03, $"held-out accuracy {accuracy:F3} vs majority class {majority:F3}");

        // The model serves through PredictionEngine and survives a save/load round trip.
        var engine = ml.Model.CreatePredictionEngine<WineRow, WinePrediction>(result.BestTrial.Model);
        float first = engine.Predict(test[0]).PredictedLabel;
        Assert.InRange(first, 3f, 9f);
        string zip = Path.Combine(_folder, "model.zip");
        ml.Model.Save(result.BestTrial.Model, ml.Data.LoadFromEnumerable(rows).Schema, zip);
        ITransformer loaded = ml.Model.Load(zip, out _);
        Assert.Equal(accuracy, Accuracy(ml, loaded, test));
        Assert.Equal(result.Trials.Count, progress.Reports.Count(r => r.Kind is TrialReportKind.Completed or TrialReportKind.Pruned));
    }

    [SkippableFact]
    public void StratifiedFoldsSpreadEveryClassAndFallBackWhenAClassIsRare()
    {
        // 40 rows of class 1, 25 of class 2, 3 of class 3: five folds requested, three possible.
        uint[] labels = Enumerable.Repeat(1u, 40).Concat(Enumerable.Repeat(2u, 25)).Concat(Enumerable.Repeat(3u, 3)).ToArray();
        var (folds, count) = StratifiedFolds.Assign(labels, requestedFolds: 5, seed: 1);

        Assert.Equal(3, count);
        int[] sizes = Enumerable.Range(0, count).Select(f => folds.Count(x => x == f)).ToArray();
        Assert.InRange(sizes.Max() - sizes.Min(), 0, 1);
        foreach (uint label in new[] { 1u, 2u, 3u })
        {
            int[] perFold = Enumerable.Range(0, count).Select(f => labels.Where((l, i) => l == label && folds[i] == f).Count()).ToArray();
            Assert.InRange(perFold.Max() - perFold.Min(), 0, 1); // each class split as evenly as its size allows
        }

        Assert.Equal(5, StratifiedFolds.Assign(labels.Take(65).ToArray(), 5, 1).FoldCount);
        // A stray single-label class does not cut the folds: the rarest class of 2 labels or more (here 3) sets them.
        Assert.Equal(3, StratifiedFolds.Assign([1, 1, 1, 1, 1, 1, 3, 3, 3, 2], 5, 1).FoldCount);
        Assert.Equal(2, StratifiedFolds.Assign([1, 2], 5, 1).FoldCount);
        Assert.Throws<InvalidOperationException>(() => StratifiedFolds.Assign([1, 1, 1], 5, 1));
        Assert.NotEqual(StratifiedFolds.Assign(labels, 5, 1).FoldOfRow, StratifiedFolds.Assign(labels, 5, 2).FoldOfRow);
    }

    [SkippableFact]
    public void FoldViewsKeepEveryClassKey()
    {
        // LoadFromEnumerable stores a key value v as key v + 1; writing 1-based class keys as they are once turned the top
        // class into the missing key (so trainers skipped it) and shifted the others. Every key must come back unchanged.
        var ml = new MLContext(seed: 1);
        uint[] labels = [1, 2, 3, 3, 2, 1, 2, 1, 3, 1, 3, 2];
        // One-hot class indicators plus a little per-row variation: every fold holds every class, and they are separable.
        float[][] features = labels.Select((l, i) => new float[] { l == 1 ? 1 : 0, l == 2 ? 1 : 0, l == 3 ? 1 : 0, 0.01f * i }).ToArray();
        int[] foldOfRow = [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1];
        var folds = CrossValidation.BuildFolds(ml, features, labels, classCount: 3, foldOfRow, foldCount: 2);
        Assert.Equal(labels[..6], folds[0].Test.GetColumn<uint>(CrossValidationTrialRunner.LabelColumn).ToArray());
        Assert.Equal(labels[6..], folds[0].Train.GetColumn<uint>(CrossValidationTrialRunner.LabelColumn).ToArray());
        Assert.Equal(3UL, ((KeyDataViewType)folds[1].Train.Schema[CrossValidationTrialRunner.LabelColumn].Type).Count);
        // A probe trained on one fold classifies the other perfectly.
        var probe = new SslDownstreamParameters { L1Regularization = 0, L2Regularization = 1e-3 };
        Assert.Equal(1.0, CrossValidation.Accuracy(folds, () => SslDownstream.CreateTrainer(ml, probe, CrossValidationTrialRunner.LabelColumn,
            CrossValidationTrialRunner.FeatureColumn), CancellationToken.None));
    }

    [SkippableFact]
    public async Task LbfgsContinuesFromItsSavedFoldModelsWhenPromoted()
    {
        var ml = new MLContext(seed: 1);
        WineRow[] wine = ReadWine().Take(500).ToArray();
        LabeledRows rows = LabeledRows.Read(ml, ml.Data.LoadFromEnumerable(wine), "Label", "Features");
        var runner = new CrossValidationTrialRunner(ml, rows, requestedFolds: 3, seed: 1);
        var parameters = new SearchSpace<LinearTrainerParameters>().Default;
        string state = Path.Combine(_folder, "trial");
        Directory.CreateDirectory(state);
        TrialRequest Request(int? previous, int fidelity, string directory) =>
            new(0, parameters, previous, fidelity, 45, directory, _folder, seed: 5);

        double atFive = await runner.RunAsync(Request(null, 5, state), CancellationToken.None);
        Assert.Equal(3, Directory.GetFiles(state, "fold-*.zip").Length);
        DateTime savedAt = File.GetLastWriteTimeUtc(Path.Combine(state, "fold-0.zip"));
        double continued = await runner.RunAsync(Request(5, 45, state), CancellationToken.None);
        string scratch = Path.Combine(_folder, "scratch");
        Directory.CreateDirectory(scratch);
        double fromScratch = await runner.RunAsync(Request(null, 45, scratch), CancellationToken.None);

        _output.WriteLine($"5 iterations {atFive:F3}, 5 + 40 continued {continued:F3}, 45 from scratch {fromScratch:F3}");
        Assert.True(File.GetLastWriteTimeUtc(Path.Combine(state, "fold-0.zip")) >= savedAt); // the continued models replace the old ones
        Assert.InRange(continued, fromScratch - 0.02, fromScratch + 0.02); // same optimum reached from the saved weights
        Assert.Equal(3, runner.FoldCount);
        Assert.Equal(0, rows.UnlabeledCount);
    }

    [SkippableFact]
    public async Task UnusableDataIsRejectedWithTheColumnNamed()
    {
        var ml = new MLContext(seed: 1);
        WineRow[] wine = ReadWine().Take(50).ToArray();
        IDataView data = ml.Data.LoadFromEnumerable(wine);

        var missing = await Assert.ThrowsAsync<ArgumentException>(() => ml.MulticlassTrainerExperiment().SetDataset(data).SetFeatureColumn("Pixels").SetMaxTrials(1).RunAsync());
        Assert.Contains("'Pixels'", missing.Message);
        var scalar = await Assert.ThrowsAsync<ArgumentException>(() => ml.MulticlassTrainerExperiment().SetDataset(data).SetFeatureColumn("Label").SetMaxTrials(1).RunAsync());
        Assert.Contains("'Label'", scalar.Message);
        var unlabeled = ml.Data.LoadFromEnumerable(wine.Select(r => new WineRow { Features = r.Features, Label = float.NaN }));
        var noLabels = await Assert.ThrowsAsync<InvalidOperationException>(() => ml.MulticlassTrainerExperiment().SetDataset(unlabeled).SetMaxTrials(1).RunAsync());
        Assert.Contains("No row has a label", noLabels.Message);
        // A vector as the label: refused by name and type, not an InvalidCastException from the vector of keys it maps to.
        IDataView vectorLabel = ml.Transforms.CopyColumns("Target", "Features").Fit(data).Transform(data);
        var vector = await Assert.ThrowsAsync<ArgumentException>(() => ml.MulticlassTrainerExperiment().SetDataset(vectorLabel, "Target").SetMaxTrials(1).RunAsync());
        Assert.Contains("Label column 'Target' is Vector<Single", vector.Message);
        Assert.Throws<InvalidOperationException>(() => ml.MulticlassTrainerExperiment().SetSearchSpace(new SearchSpace().WithNumeric("Momentum", 0, 1)));
    }
}
