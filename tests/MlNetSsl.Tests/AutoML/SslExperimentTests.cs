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

    [SkippableFact]
    public async Task TabularHiggsWithTenPercentLabelsReturnsASavedReloadablePipeline()
    {
        var ml = new MLContext(seed: 1);
        HiggsRow[] rows = SslExperimentData.HiggsWithHiddenLabels(400, labeledEvery: 10);
        IDataView data = ml.Data.LoadFromEnumerable(rows);
        IDataView test = ml.Data.LoadFromEnumerable(StageData.HiggsRows("test", 200));

        var watch = Stopwatch.StartNew();
        SslExperimentResult result = ml.SelfSupervisedExperiment()
            .SetDataset(data, labelColumnName: "Label")
            .SetInputColumn("Features")
            .SetSearchSpace(SslSearchSpace.For(data, "Features"))
            .SetObjective(SslObjective.Auto)
            .SetTuner(SslTuner.Random)
            .SetScheduler(SslScheduler.Asha(minEpochs: 1, maxEpochs: 3, reduction: 3))
            .SetMaxTrials(6)
            .Run(); // the synchronous form a console app's Main calls, as ML.NET's AutoMLExperiment.Run()
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

    [SkippableFact]
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
        straightOptions.BatchSize = SslTrialRunner.PoolBatchSize(straightOptions.BatchSize, 400); // a small pool's batch
        using SelfSupervisedTransformer straight = ml.Transforms.SelfSupervised(straightOptions).Fit(data);
        IDataView test = ml.Data.LoadFromEnumerable(StageData.HiggsRows("test", 50));
        float[] continued = stage.Transform(test).GetColumn<VBuffer<float>>(stage.OutputColumnName).SelectMany(v => v.DenseValues()).ToArray();
        float[] direct = straight.Transform(test).GetColumn<VBuffer<float>>("Straight").SelectMany(v => v.DenseValues()).ToArray();
        Assert.Equal(direct.Length, continued.Length);
        Assert.All(direct.Zip(continued), p => Assert.Equal(p.First, p.Second, 1e-5f));
        stage.Dispose();
    }

    [SkippableFact]
    public void AFailedTrialsReportLineSaysWhy()
    {
        var failed = new TrialRecord(13, Parameters.FromJson($$"""{"{{SslSearchSpace.FeaturesOption}}":"RawFeatures"}"""), TrialStatus.Failed, [],
            TimeSpan.FromSeconds(2), "InvalidOperationException: The SimClr loss became NaN at epoch 1, step 1.");
        var report = new SslTrialReport(TrialReportKind.Failed, failed, null, null, TimeSpan.FromSeconds(47), 14, isReplay: false)
            .WithDescription("RawFeatures -> LbfgsMaximumEntropy(L1=1, L2=1)", scoredLabelFree: false);
        Assert.Equal("[   47s] trial 13 Failed metric=- epochs=- RawFeatures -> LbfgsMaximumEntropy(L1=1, L2=1) " +
            "(InvalidOperationException: The SimClr loss became NaN at epoch 1, step 1.)", report.ToString());
        // A native error's backtrace stays out of the line, and a report of a kind that ends nothing gives no reason.
        var native = new TrialRecord(14, failed.Parameters, TrialStatus.Failed, [], TimeSpan.Zero, "ExternalException: shape mismatch\nException raised from ...\nframe #0");
        Assert.EndsWith("(ExternalException: shape mismatch)", new SslTrialReport(TrialReportKind.Failed, native, null, null, TimeSpan.Zero, 15, false)
            .WithDescription("x", false).ToString(), StringComparison.Ordinal);
        Assert.EndsWith(" x", new SslTrialReport(TrialReportKind.Running, native, null, null, TimeSpan.Zero, 15, false)
            .WithDescription("x", false).ToString(), StringComparison.Ordinal);
        // A trial the budget stopped says so, as a failed one does (the image audit's trial was cut 24 s in, with no word).
        var stopped = new TrialRecord(2, failed.Parameters, TrialStatus.Cancelled, [], TimeSpan.FromSeconds(23.9),
            "Stopped 23.9 s into its run by the end of the time budget; it has no metric.");
        Assert.EndsWith(" x (Stopped 23.9 s into its run by the end of the time budget; it has no metric.)",
            new SslTrialReport(TrialReportKind.Stopped, stopped, null, null, TimeSpan.Zero, 3, false).WithDescription("x", false).ToString(), StringComparison.Ordinal);
    }

    private sealed class ScoreRow
    {
        [VectorType(2)]
        public float[] Score { get; set; } = [];
    }

    [SkippableFact]
    public void ARefittedModelThatScoresNaNIsTreatedAsAFailedRefit()
    {
        // A network whose statistics overflowed in the refit scores NaN for every row: the check that sends the refit
        // to its fallback.
        var ml = new MLContext(seed: 1);
        IDataView data = ml.Data.LoadFromEnumerable(StageData.HiggsRows("test", 20));
        ITransformer Scorer(float value) => ml.Transforms.CustomMapping<HiggsRow, ScoreRow>((_, o) => o.Score = [value, 1 - value], null).Fit(data);
        SslExperiment.ThrowIfScoresAreNotFinite(ml, Scorer(0.25f), data);
        var error = Assert.Throws<InvalidOperationException>(() => SslExperiment.ThrowIfScoresAreNotFinite(ml, Scorer(float.NaN), data));
        Assert.Equal("The refitted model scores row 0 as NaN: its weights or statistics are not finite.", error.Message);
    }

    [SkippableFact]
    public async Task AFailedRefitOfTheChoiceFallsBackToAnotherPipelineWithANote()
    {
        var ml = new MLContext(seed: 1);
        HiggsRow[] rows = SslExperimentData.HiggsWithHiddenLabels(200, labeledEvery: 4);
        var refits = new List<int>();
        SslExperiment experiment = ml.SelfSupervisedExperiment()
            .SetDataset(ml.Data.LoadFromEnumerable(rows), "Label").SetInputColumn("Features").SetMaxTrials(4)
            .SetEnsembleSelection(false); // the single refit's fallback (an ensemble's is SslEnsembleTests')
        // The first refit (the search's choice) fails as a NaN loss on all the labeled rows would; the second succeeds.
        experiment.RefitFault = trial =>
        {
            refits.Add(trial.TrialId);
            return refits.Count == 1 ? new InvalidOperationException("The FineTune loss became NaN at epoch 1, step 1.") : null;
        };
        SslExperimentResult result = await experiment.RunAsync();

        Assert.Equal(2, refits.Count);
        Assert.Equal(refits[1], result.BestTrial.TrialId);
        Assert.NotEqual(refits[0], result.BestTrial.TrialId);
        Assert.Contains(result.Notes, n => n.StartsWith($"The refit of trial {refits[0]} failed: InvalidOperationException: The FineTune loss became NaN", StringComparison.Ordinal));
        Assert.Matches($@"the model is trial {refits[1]}'s instead, (the best pipeline on raw features|number \d+ of the other completed trials by metric)\.$",
            result.SelectionExplanation);
        // The fallback is a whole model: it scores rows.
        Assert.Equal(10, result.BestTrial.Model.Transform(ml.Data.LoadFromEnumerable(rows.Take(10))).GetColumn<float>("PredictedLabel").Count());
    }

    [SkippableFact]
    public async Task MissingValuesAreImputedInTheTrialsAndTheModelAndAnInfinityFailsBeforeTheFirstTrial()
    {
        // HIGGS rows, two with a NaN feature (a '?' a text loader read as missing): every pretraining reads every row,
        // so without the imputation every SSL trial would fail on them.
        var ml = new MLContext(seed: 1);
        HiggsRow[] rows = SslExperimentData.HiggsWithHiddenLabels(200, labeledEvery: 4);
        rows[37].Features[5] = float.NaN;
        rows[40].Features[0] = float.NaN;
        var trials = new List<SslTrialReport>();
        SslExperimentResult result = await ml.SelfSupervisedExperiment()
            .SetDataset(ml.Data.LoadFromEnumerable(rows), "Label").SetInputColumn("Features").SetMaxTrials(4)
            .SetProgress(new SynchronousProgress<SslTrialReport>(trials.Add)).RunAsync();

        Assert.Contains(result.Notes, n => n.Contains("2 row(s) of column 'Features' hold missing values", StringComparison.Ordinal)
            && n.Contains("first is row 37", StringComparison.Ordinal));
        // A report prints as one short line with the pipeline in words (Console.WriteLine as the docs show it), not the
        // parameters' JSON.
        SslTrialReport first = trials.First(r => r.Kind == TrialReportKind.Completed && r.Trial.TrialId == 0);
        Assert.Matches(@"^\[\s*\d+s\] trial 0 Completed metric=0\.\d+ epochs=- RawFeatures -> ", first.ToString());
        Assert.DoesNotContain("{", first.ToString(), StringComparison.Ordinal);
        // The portfolio's SSL trials ran on the imputed rows instead of failing.
        Assert.Contains(result.Trials, t => t.Status == TrialStatus.Completed && result.TrialMeasures.Any(m => m.TrialId == t.TrialId
            && m.FeatureSource is SslFeatureSource.SelfSupervised or SslFeatureSource.RawAndSelfSupervised));
        // The model imputes the rows it scores: a row with a NaN gets a prediction.
        float[] predicted = result.BestTrial.Model.Transform(ml.Data.LoadFromEnumerable(rows.Skip(36).Take(6)))
            .GetColumn<float>("PredictedLabel").ToArray();
        Assert.Equal(6, predicted.Length);
        ((IDisposable)result.BestTrial.Model).Dispose();

        // An infinity has no mean to replace it with: refused before the first trial, naming the row.
        rows[37].Features[5] = float.PositiveInfinity;
        trials.Clear();
        var error = await Assert.ThrowsAsync<InvalidDataException>(() => ml.SelfSupervisedExperiment()
            .SetDataset(ml.Data.LoadFromEnumerable(rows), "Label").SetInputColumn("Features").SetTrainingTimeInSeconds(30)
            .SetProgress(new SynchronousProgress<SslTrialReport>(trials.Add)).RunAsync());
        Assert.Contains("Row 37 of column 'Features' holds", error.Message, StringComparison.Ordinal);
        Assert.Empty(trials);
    }

    [SkippableFact]
    public async Task AnImageThatCannotBeLoadedFailsBeforeTheFirstTrialNamingItsRowAndATooLargeSizeAtTheSetter()
    {
        // 150 CIFAR images, one of them (an unlabeled row the data hash's stride skips) a file of random bytes: raw-pixel
        // trials read only the labeled rows, so the search used to fail every SSL trial on it and return a raw-pixel model
        // that could not score the data.
        var ml = new MLContext(seed: 1);
        string folder = Directory.CreateTempSubdirectory("mlnetssl-badimage-").FullName;
        try
        {
            ImageRow[] rows = StageData.CifarRows(15);
            for (int i = 0; i < rows.Length; i++)
            {
                string target = Path.Combine(folder, $"{i:000}.jpg");
                File.Copy(Path.Combine(StageData.CifarFolder, rows[i].ImagePath), target);
                rows[i] = new ImageRow { ImagePath = Path.GetFileName(target), Label = i % 3 == 0 ? rows[i].Label : "" };
            }
            File.WriteAllBytes(Path.Combine(folder, "017.jpg"), Enumerable.Range(0, 500).Select(b => (byte)(b * 37 % 251)).ToArray());
            var trials = new List<SslTrialReport>();
            var error = await Assert.ThrowsAsync<InvalidDataException>(() => ml.SelfSupervisedExperiment()
                .SetDataset(StageData.Images(ml, rows, folder), "Label").SetInputColumn("Image").SetTrainingTimeInSeconds(30)
                .SetProgress(new SynchronousProgress<SslTrialReport>(trials.Add)).RunAsync());
            Assert.StartsWith("Row 17 of column 'Image' (ImagePath '017.jpg')", error.Message, StringComparison.Ordinal);
            Assert.Contains("remove the row", error.Message, StringComparison.Ordinal);
            Assert.Empty(trials);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }

        // A size the stage would refuse is refused when it is set, not by every trial until the budget ends.
        Assert.Throws<ArgumentOutOfRangeException>(() => ml.SelfSupervisedExperiment().SetImageSize(5000, 32));
        Assert.Throws<ArgumentOutOfRangeException>(() => ml.SelfSupervisedExperiment().SetImageSize(32, SelfSupervisedOptions.MaxImageSide + 1));
        ml.SelfSupervisedExperiment().SetImageSize(SelfSupervisedOptions.MaxImageSide, 8);
    }

    private sealed class InMemoryImageRow
    {
        [Microsoft.ML.Transforms.Image.ImageType(32, 32)]
        public MLImage Image { get; set; } = null!;

        public string Label { get; set; } = "";
    }

    [SkippableFact]
    public async Task ImagesTheCallerMadeInMemoryAreSearchedAndLeftUndisposed()
    {
        // Images made from streams (no file, no LoadImages) belong to the caller: the search used to dispose every one of
        // them in its up-front load check and then fail with "Object is disposed".
        var ml = new MLContext(seed: 1);
        ImageRow[] files = StageData.CifarRows(perClass: 4);
        InMemoryImageRow[] rows = [.. files.Select((f, i) => new InMemoryImageRow
        {
            Image = MLImage.CreateFromStream(new MemoryStream(File.ReadAllBytes(Path.Combine(StageData.CifarFolder, f.ImagePath)))),
            Label = i % 2 == 0 ? f.Label : "",
        })];
        IDataView data = ml.Data.LoadFromEnumerable(rows);
        SslExperimentResult result = await ml.SelfSupervisedExperiment()
            .SetDataset(data, "Label").SetInputColumn("Image").SetTrainingTimeInSeconds(20).SetMaxTrials(3).RunAsync();
        Assert.NotEmpty(result.Trials);
        string[] predicted = [.. result.BestTrial.Model.Transform(data).GetColumn<ReadOnlyMemory<char>>("PredictedLabel").Select(p => p.ToString())];
        Assert.Equal(rows.Length, predicted.Length);
        // Every image is still the caller's to use: its pixels read as before.
        Assert.All(rows, r => Assert.Equal(32 * 32 * 4, r.Image.Pixels.Length));
    }

    [SkippableFact]
    public async Task ACheckpointFolderThatCannotBeMadeIsNamedBeforeAnyWork()
    {
        var ml = new MLContext(seed: 1);
        // A checkpoint folder that cannot be made (under a file) is named as SetCheckpoint's before any work; it was a
        // DirectoryNotFoundException naming only the cache folder inside it.
        string file = Path.Combine(_folder, "a-file");
        File.WriteAllText(file, "");
        var labeled = ml.Data.LoadFromEnumerable(SslExperimentData.HiggsWithHiddenLabels(100, labeledEvery: 2));
        var checkpoint = await Assert.ThrowsAsync<IOException>(() =>
            ml.SelfSupervisedExperiment().SetDataset(labeled).SetInputColumn("Features").SetMaxTrials(1).SetCheckpoint(Path.Combine(file, "checkpoint")).RunAsync());
        Assert.StartsWith($"SetCheckpoint(\"{Path.Combine(file, "checkpoint")}\"): the folder cannot be made", checkpoint.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task DataWithoutAnyLabelOrWithOneClassIsRefusedWithAMessageThatSaysSo()
    {
        var ml = new MLContext(seed: 1);
        HiggsRow[] unlabeled = SslExperimentData.HiggsWithHiddenLabels(100, labeledEvery: 1000);
        foreach (HiggsRow row in unlabeled) row.Label = float.NaN;
        SslExperiment Experiment(IDataView data, string input, string label) => ml.SelfSupervisedExperiment()
            .SetDataset(data, label).SetInputColumn(input).SetMaxTrials(1);

        var none = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            Experiment(ml.Data.LoadFromEnumerable(unlabeled), "Features", "Label").RunAsync());
        Assert.Contains("No row has a label in column 'Label'", none.Message);
        Assert.Contains("NaN or empty text", none.Message);
        Assert.Contains("SslObjective.LabelFree", none.Message);
        Assert.DoesNotContain("class(es)", none.Message);
        // Run() throws the same exception, not an AggregateException around it.
        var noneSync = Assert.Throws<InvalidOperationException>(() => Experiment(ml.Data.LoadFromEnumerable(unlabeled), "Features", "Label").Run());
        Assert.Equal(none.Message, noneSync.Message);

        // Text labels, all empty: the same.
        ImageRow[] images = StageData.CifarRows(perClass: 1).Select(r => new ImageRow { ImagePath = r.ImagePath, Label = "" }).ToArray();
        var noText = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            Experiment(SslExperimentData.Images(ml, images), "Image", nameof(ImageRow.Label)).RunAsync());
        Assert.Contains("No row has a label in column 'Label'", noText.Message);

        // No rows at all: said as such (it was "No row has a label ... (0 rows, all unlabeled ...)").
        var empty = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            Experiment(ml.Data.LoadFromEnumerable(Array.Empty<HiggsRow>()), "Features", "Label").RunAsync());
        Assert.Contains("The data given to SetDataset has no rows", empty.Message);
        var emptyImages = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            Experiment(SslExperimentData.Images(ml, []), "Image", nameof(ImageRow.Label)).RunAsync());
        Assert.Contains("The data given to SetDataset has no rows", emptyImages.Message);

        HiggsRow[] oneClass = SslExperimentData.HiggsWithHiddenLabels(100, labeledEvery: 10);
        foreach (HiggsRow row in oneClass) if (!float.IsNaN(row.Label)) row.Label = 1;
        var single = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            Experiment(ml.Data.LoadFromEnumerable(oneClass), "Features", "Label").RunAsync());
        Assert.Contains("a single class among its 10 labeled rows", single.Message);
    }

    [SkippableFact]
    public void ANumericLabelOfManyValuesIsNotedAsAQuantityAndClassesAreNot()
    {
        // A quantity (HIGGS's first feature, to two decimals) as the label of every other row: each value becomes a
        // class, which the experiment used to do without a word.
        var ml = new MLContext(seed: 1);
        HiggsRow[] rows = SslExperimentData.HiggsWithHiddenLabels(120, labeledEvery: 2);
        HiggsRow[] quantity = rows.Select(r => new HiggsRow { Features = r.Features, Label = float.IsNaN(r.Label) ? float.NaN : MathF.Round(r.Features[0], 2) }).ToArray();
        int distinct = quantity.Where(r => !float.IsNaN(r.Label)).Select(r => r.Label).Distinct().Count();
        Assert.True(distinct > SslExperiment.MaxNumericClassesWithoutNote, $"{distinct} distinct values");

        SslExperimentResult Run(HiggsRow[] data) => ml.SelfSupervisedExperiment().SetDataset(ml.Data.LoadFromEnumerable(data), "Label")
            .SetInputColumn("Features").SetMaxTrials(1).SetTrainingTimeInSeconds(20).Run();
        SslExperimentResult noted = Run(quantity);
        Assert.Contains(noted.Notes, n => n.Contains($"The label holds {distinct} distinct numbers among 60 labeled rows", StringComparison.Ordinal)
            && n.Contains("bin the values", StringComparison.Ordinal));
        Assert.DoesNotContain(Run(rows).Notes, n => n.Contains("distinct numbers", StringComparison.Ordinal));
    }

    [SkippableFact]
    public void ATextClassSpelledLikeAMissingMarkerIsNoted()
    {
        // A CSV export's "NA" in the label column reads as a class through the API (only an empty text is a missing
        // label), so the search learned and predicted a class 'NA' without a word.
        var ml = new MLContext(seed: 1);
        HiggsRow[] rows = SslExperimentData.HiggsWithHiddenLabels(60, labeledEvery: 1);
        var text = rows.Select((r, i) => new { r.Features, Label = i % 6 == 0 ? "NA" : i % 7 == 0 ? "" : r.Label == 1 ? "signal" : "background" }).ToArray();
        var schema = Microsoft.ML.Data.SchemaDefinition.Create(text[0].GetType());
        schema["Features"].ColumnType = new Microsoft.ML.Data.VectorDataViewType(Microsoft.ML.Data.NumberDataViewType.Single, 28);
        IDataView view = ml.Data.LoadFromEnumerable(text, schema);
        SslDataset dataset = SslDataset.Read(ml, view, "Features", "Label", SslInputShape.Tabular(28));

        string? note = SslExperiment.MarkerClassNote(view.Schema["Label"].Type, dataset);
        Assert.NotNull(note);
        Assert.StartsWith($"The label column 'Label' has the class(es) 'NA' ({text.Count(t => t.Label == "NA")} rows), spelled like a missing-value marker", note,
            StringComparison.Ordinal);
        // Without such a class, or with number labels, nothing is said.
        var plain = text.Select(t => new { t.Features, Label = t.Label == "NA" ? "" : t.Label }).ToArray();
        IDataView plainView = ml.Data.LoadFromEnumerable(plain, schema);
        Assert.Null(SslExperiment.MarkerClassNote(plainView.Schema["Label"].Type, SslDataset.Read(ml, plainView, "Features", "Label", SslInputShape.Tabular(28))));
        IDataView numbers = ml.Data.LoadFromEnumerable(rows);
        Assert.Null(SslExperiment.MarkerClassNote(numbers.Schema["Label"].Type, SslDataset.Read(ml, numbers, "Features", "Label", SslInputShape.Tabular(28))));
    }

    [SkippableFact]
    public void TextClassesThatDifferOnlyInBlanksCaseOrUnicodeFormAreNoted()
    {
        // A table exported by hand or joined from two sources writes one class several ways (" yes" beside "yes", "Yes",
        // "Zürich" with a combining diaeresis): MapValueToKey keeps each spelling as a class of its own, and through the
        // API nothing said so (the mlnet-ssl tool trims its cells and composes them to NFC).
        var ml = new MLContext(seed: 1);
        HiggsRow[] rows = SslExperimentData.HiggsWithHiddenLabels(60, labeledEvery: 1);
        string zurichComposed = "Z\u00FCrich", zurichDecomposed = "Zu\u0308rich";
        var text = rows.Select((r, i) => new
        {
            r.Features,
            Label = r.Label == 1 ? (i % 5 == 0 ? " yes" : i % 7 == 0 ? "Yes" : "yes") : (i % 4 == 0 ? zurichDecomposed : zurichComposed),
        }).ToArray();
        var schema = Microsoft.ML.Data.SchemaDefinition.Create(text[0].GetType());
        schema["Features"].ColumnType = new Microsoft.ML.Data.VectorDataViewType(Microsoft.ML.Data.NumberDataViewType.Single, 28);
        IDataView view = ml.Data.LoadFromEnumerable(text, schema);
        SslDataset dataset = SslDataset.Read(ml, view, "Features", "Label", SslInputShape.Tabular(28));

        string? note = SslExperiment.SpellingVariantClassNote(view.Schema["Label"].Type, dataset);
        Assert.NotNull(note);
        int Count(string label) => text.Count(t => t.Label == label);
        Assert.StartsWith("The label column 'Label' has classes that are one class but for blanks around them, letter case or Unicode form: ", note, StringComparison.Ordinal);
        // Each spelling with its rows, the one most rows use first.
        foreach (string label in new[] { "yes", " yes", "Yes", zurichComposed, zurichDecomposed })
            Assert.Contains($"'{label}' ({Count(label)} rows)", note, StringComparison.Ordinal);
        Assert.True(note.IndexOf("'yes'", StringComparison.Ordinal) < note.IndexOf("' yes'", StringComparison.Ordinal), note);
        Assert.True(note.IndexOf($"'{zurichComposed}'", StringComparison.Ordinal) < note.IndexOf($"'{zurichDecomposed}'", StringComparison.Ordinal), note);
        Assert.Contains("each spelling is learned and predicted as a class of its own", note, StringComparison.Ordinal);

        // One spelling per class, or number labels: nothing is said.
        var plain = text.Select(t => new { t.Features, Label = t.Label.Trim().ToLowerInvariant().Normalize() }).ToArray();
        IDataView plainView = ml.Data.LoadFromEnumerable(plain, schema);
        Assert.Null(SslExperiment.SpellingVariantClassNote(plainView.Schema["Label"].Type, SslDataset.Read(ml, plainView, "Features", "Label", SslInputShape.Tabular(28))));
        IDataView numbers = ml.Data.LoadFromEnumerable(rows);
        Assert.Null(SslExperiment.SpellingVariantClassNote(numbers.Schema["Label"].Type, SslDataset.Read(ml, numbers, "Features", "Label", SslInputShape.Tabular(28))));
    }

    [SkippableFact]
    public async Task AnInputThatIsTheSameInEveryRowIsNotedBeforeTheSearch()
    {
        // A loader with the wrong separator reads every feature as 0 (or missing): the run used to end at chance with no word.
        var ml = new MLContext(seed: 1);
        HiggsRow[] rows = SslExperimentData.HiggsWithHiddenLabels(60, labeledEvery: 2);
        Assert.False(SslDataset.IsConstantInput(ml.Data.LoadFromEnumerable(rows), "Features"));
        HiggsRow[] Same(Func<int, float> value) => [.. rows.Select(r => new HiggsRow { Label = r.Label, Features = [.. Enumerable.Range(0, 28).Select(value)] })];
        Assert.True(SslDataset.IsConstantInput(ml.Data.LoadFromEnumerable(Same(j => j)), "Features"));
        Assert.True(SslDataset.IsConstantInput(ml.Data.LoadFromEnumerable(Same(_ => float.NaN)), "Features"));
        // One row that differs in its last slot only is not constant.
        HiggsRow[] almost = Same(j => j);
        almost[59].Features[27] = 0.5f;
        Assert.False(SslDataset.IsConstantInput(ml.Data.LoadFromEnumerable(almost), "Features"));

        SslExperimentResult result = await ml.SelfSupervisedExperiment()
            .SetDataset(ml.Data.LoadFromEnumerable(Same(_ => 0f)), "Label").SetInputColumn("Features").SetMaxTrials(1).RunAsync();
        Assert.Contains(result.Notes, n => n.StartsWith("Every row of column 'Features' holds the same values (60 rows), so no pipeline can tell the classes apart",
            StringComparison.Ordinal));
        // Rows that differ get no such note.
        SslExperimentResult varied = await ml.SelfSupervisedExperiment()
            .SetDataset(ml.Data.LoadFromEnumerable(rows), "Label").SetInputColumn("Features").SetMaxTrials(1).RunAsync();
        Assert.DoesNotContain(varied.Notes, n => n.Contains("holds the same values", StringComparison.Ordinal));
    }

    [SkippableFact]
    public void AMinusOneClassThatLabelsMostRowsIsNotedAsScikitLearnsUnlabeledMark()
    {
        // scikit-learn marks unlabeled rows with -1; through the API -1 is a class, learned and predicted (MNIST labeled so:
        // -1 predicted for 957 of 1,000 test images) with no word about it.
        var ml = new MLContext(seed: 1);
        HiggsRow[] rows = SslExperimentData.HiggsWithHiddenLabels(60, labeledEvery: 1);
        float[] Labels(Func<int, float> unlabeled) => [.. rows.Select((r, i) => i % 4 == 0 ? r.Label : i % 4 == 1 ? 2f : unlabeled(i))];
        SslDataset Read(float[] labels, out IDataView view)
        {
            view = ml.Data.LoadFromEnumerable(rows.Select((r, i) => new HiggsRow { Features = r.Features, Label = labels[i] }));
            return SslDataset.Read(ml, view, "Features", "Label", SslInputShape.Tabular(28));
        }

        SslDataset dataset = Read(Labels(_ => -1f), out IDataView marked);
        string? note = SslExperiment.MinusOneClassNote(marked.Schema["Label"].Type, dataset);
        Assert.NotNull(note);
        Assert.StartsWith("The label column 'Label' has the class -1 on 30 of its 60 labeled rows, more than any other class", note, StringComparison.Ordinal);
        Assert.Contains("scikit-learn", note, StringComparison.Ordinal);

        // The same as text labels (a CSV read as text).
        var text = rows.Select((r, i) => new { r.Features, Label = i % 4 == 0 ? r.Label.ToString(System.Globalization.CultureInfo.InvariantCulture) : i % 4 == 1 ? "2" : "-1" }).ToArray();
        var schema = Microsoft.ML.Data.SchemaDefinition.Create(text[0].GetType());
        schema["Features"].ColumnType = new Microsoft.ML.Data.VectorDataViewType(Microsoft.ML.Data.NumberDataViewType.Single, 28);
        IDataView textView = ml.Data.LoadFromEnumerable(text, schema);
        Assert.StartsWith("The label column 'Label' has the class -1 on 30 of its 60 labeled rows",
            SslExperiment.MinusOneClassNote(textView.Schema["Label"].Type, SslDataset.Read(ml, textView, "Features", "Label", SslInputShape.Tabular(28))),
            StringComparison.Ordinal);

        // Unlabeled rows marked NaN, -1 as one class among others no larger than them, and the binary coding -1/1: nothing.
        Assert.Null(SslExperiment.MinusOneClassNote(marked.Schema["Label"].Type, Read(Labels(_ => float.NaN), out _)));
        Assert.Null(SslExperiment.MinusOneClassNote(marked.Schema["Label"].Type, Read(Labels(i => i % 4 == 2 ? -1f : 3f), out _)));
        float[] binary = [.. rows.Select((r, i) => i % 3 == 0 ? 1f : -1f)];
        Assert.Null(SslExperiment.MinusOneClassNote(marked.Schema["Label"].Type, Read(binary, out _)));
    }

    [SkippableFact]
    public async Task ThePipelineDescriptionSaysTheBatchASmallPoolPretrainedIn()
    {
        // 240 rows pretrain in batches of a quarter of the rows, 60, not the configured 256: the description said 256.
        var ml = new MLContext(seed: 1);
        SslExperiment experiment = SslExperimentData.OneScarfProbe(ml, rows: 240, labeledEvery: 3, epochs: 2, out Parameters probe);
        Assert.Equal(256, probe.AsType<SslTrialParameters>().Pretraining.BatchSize);
        SslExperimentResult result = await experiment.RunAsync();
        Assert.Contains(", batch 60, ", result.BestPipelineDescription, StringComparison.Ordinal);
        Assert.DoesNotContain("batch 256", result.BestPipelineDescription, StringComparison.Ordinal);
        foreach (var stage in ((IEnumerable<ITransformer>)result.BestTrial.Model).OfType<IDisposable>()) stage.Dispose();
    }

    [SkippableFact]
    public async Task AFirstTrialStopsPretrainingAtAnEpochsEndWhenTheNextWouldEndPastTheBudgetAndIsRefittedWithThatEncoder()
    {
        // A first trial used to run every configured epoch whatever the budget (3 SimCLR epochs on 10,000 images: 134 s of a
        // 60 s budget). Here 50 SCARF epochs over 2,000 rows against 0.1 s: it stops after the epoch past which the next would
        // end beyond the budget, keeps a metric, and the model is refitted with the encoder it stopped at, not trained on.
        var ml = new MLContext(seed: 1);
        SslExperimentResult result = await SslExperimentData.OneScarfProbe(ml, rows: 2000, labeledEvery: 4, epochs: 50, out _)
            .SetTrainingTime(TimeSpan.FromMilliseconds(100)).RunAsync();
        foreach (string note in result.Notes) _output.WriteLine(note);

        TrialRecord only = Assert.Single(result.Trials);
        Assert.NotNull(only.Metric);
        SslTrialMeasures measures = Assert.Single(result.TrialMeasures);
        int reached = measures.PretrainingEpochsTrained + measures.PretrainingEpochsReused;
        Assert.InRange(reached, 1, 49);
        Assert.Contains(result.Notes, n => n.StartsWith($"The first trial stopped pretraining after {reached} of its 50 epochs (trial {only.TrialId})", StringComparison.Ordinal));
        SelfSupervisedTransformer stage = ((IEnumerable<ITransformer>)result.BestTrial.Model).OfType<SelfSupervisedTransformer>().Single();
        Assert.Equal(reached, stage.History.Count);
        // The chosen pipeline is named by the epochs its encoder has, not the configured 50.
        Assert.Contains($" {reached} epochs, ", result.BestPipelineDescription, StringComparison.Ordinal);
        Assert.DoesNotContain(" 50 epochs, ", result.BestPipelineDescription, StringComparison.Ordinal);
        // So do the CLI's leaderboard and chosen-pipeline lines, which read the same measures through the public API.
        Assert.Equal(reached, MlNetSsl.Cli.Run.TrialDescriptions.EpochsReached(only, result));
        using var log = new MlNetSsl.Cli.Run.RunLog("q", null);
        Assert.Contains($" {reached} epochs ", new MlNetSsl.Cli.Run.SearchProgress(log).Describe(only, search: result), StringComparison.Ordinal);
    }

    [SkippableFact]
    public void ASearchThatRanFarPastItsBudgetSaysWhy()
    {
        // The first trial is never cut short, so a budget far below one trial's time is overrun; the result used to be
        // silent about it (a CIFAR run took 644 s of 180 beside other jobs).
        var ml = new MLContext(seed: 1);
        // The trial must outlast the note's 0.5 s floor on the fastest host: rows alone did not make sure of that (300 rows
        // ran under 0.5 s in CI, and more rows shorten the cross-validation), so the fidelity pins 100 pretraining epochs.
        // With 30 the trial took 6.0 s on a 2-core host loaded eight times over, about 4 s of it fixed and 2 s of epochs, so
        // an idle host several times faster came near the 0.6 s; 100 epochs took 10.9 s there, most of it pretraining.
        IDataView data = ml.Data.LoadFromEnumerable(SslExperimentData.HiggsWithHiddenLabels(300, labeledEvery: 4));
        SslExperimentResult overrun = ml.SelfSupervisedExperiment().SetDataset(data).SetInputColumn("Features")
            .SetSearchSpace(SslSearchSpace.For(SslInputKind.Tabular).WithoutRawFeatures())
            .SetScheduler(SslScheduler.Asha(minEpochs: 100, maxEpochs: 100))
            .SetTrainingTime(TimeSpan.FromMilliseconds(100)).SetMaxTrials(1).Run();
        TrialRecord only = Assert.Single(overrun.Trials);
        Assert.True(only.Duration > TimeSpan.FromSeconds(0.6), $"The 100-epoch trial took {only.Duration.TotalSeconds:0.00} s; the test needs more than 0.6 s.");
        Assert.Contains(overrun.Notes, n => n.StartsWith("The search took", StringComparison.Ordinal)
            && n.Contains("of a 0.1 s budget: trial 0 ran", StringComparison.Ordinal) && n.Contains("never cut short", StringComparison.Ordinal));
        SslExperimentResult inBudget = ml.SelfSupervisedExperiment().SetDataset(data).SetInputColumn("Features")
            .SetSearchSpace(SslSearchSpace.For(SslInputKind.Tabular).WithoutRawFeatures())
            .SetTrainingTimeInSeconds(300).SetMaxTrials(1).Run();
        Assert.DoesNotContain(inBudget.Notes, n => n.StartsWith("The search took", StringComparison.Ordinal));
    }

    [SkippableFact]
    public void ARunThatOnlyReplaysItsCheckpointWithNoTimeLeftDoesNotSayItsSearchOverran()
    {
        // mlnet-ssl keeps the best model after Ctrl+C by running the experiment again on its checkpoint with a 1 ms budget:
        // the journal is replayed, nothing trains, and the best trial is refitted. The notes then said "The search took 3 s
        // of a 0 s budget: ... the first result is never cut short", blaming a trial of the earlier session.
        var ml = new MLContext(seed: 1);
        IDataView data = ml.Data.LoadFromEnumerable(SslExperimentData.HiggsWithHiddenLabels(300, labeledEvery: 4));
        string folder = Directory.CreateTempSubdirectory("mlnetssl-replay-only-").FullName;
        try
        {
            SslExperiment Experiment() => ml.SelfSupervisedExperiment().SetDataset(data).SetInputColumn("Features")
                .SetSearchSpace(SslSearchSpace.For(SslInputKind.Tabular).WithoutRawFeatures())
                .SetScheduler(SslScheduler.Asha(minEpochs: 100, maxEpochs: 100)).SetMaxTrials(1).SetCheckpoint(folder);
            SslExperimentResult first = Experiment().Run();
            TrialRecord only = Assert.Single(first.Trials);
            Assert.True(first.Elapsed > TimeSpan.FromSeconds(0.6), $"The search took {first.Elapsed.TotalSeconds:0.00} s; the test needs more than 0.6 s.");

            SslExperimentResult kept = Experiment().SetTrainingTime(TimeSpan.FromMilliseconds(1)).Run();
            Assert.Equal(only.TrialId, kept.BestTrial.TrialId);
            Assert.DoesNotContain(kept.Notes, n => n.StartsWith("The search took", StringComparison.Ordinal));
            (kept.BestTrial.Model as IDisposable)?.Dispose();
            (first.BestTrial.Model as IDisposable)?.Dispose();
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [SkippableFact]
    public async Task AVectorLabelColumnIsRefusedWithAMessageThatNamesItsType()
    {
        // MapValueToKey maps a vector to a vector of keys; reading that as one key per row was an InvalidCastException.
        var ml = new MLContext(seed: 1);
        IDataView data = ml.Data.LoadFromEnumerable(SslExperimentData.HiggsWithHiddenLabels(100, labeledEvery: 2));
        IDataView vectorLabel = ml.Transforms.DropColumns("Label").Append(ml.Transforms.CopyColumns("Label", "Features")).Fit(data).Transform(data);
        IDataView withTarget = ml.Transforms.CopyColumns("Target", "Features").Fit(data).Transform(data);

        var error = await Assert.ThrowsAsync<ArgumentException>(() => ml.SelfSupervisedExperiment()
            .SetDataset(vectorLabel, "Label").SetInputColumn("Features").SetMaxTrials(1).RunAsync());
        Assert.Contains("Label column 'Label' is Vector<Single, 28>", error.Message, StringComparison.Ordinal);
        Assert.Contains("one class per row", error.Message, StringComparison.Ordinal);
        error = await Assert.ThrowsAsync<ArgumentException>(() => ml.SelfSupervisedExperiment()
            .SetDataset(withTarget, "Target").SetInputColumn("Features").SetMaxTrials(1).RunAsync());
        Assert.Contains("Label column 'Target' is Vector<Single, 28>", error.Message, StringComparison.Ordinal);
    }

    [SkippableTheory]
    [InlineData("FineTuneEpochs", 0.0, "[1, 10000]")]
    [InlineData("FineTuneLearningRate", 0.0, "(0, 10]")]
    [InlineData("L2Regularization", -1.0, "[0, infinity)")]
    [InlineData("LightGbmLeaves", 1.0, "[2, 131072]")]
    [InlineData("LightGbmIterations", 0.0, "[1, 100000]")]
    [InlineData("LightGbmMinimumRowsPerLeaf", 0.0, "[1, 2147483647]")]
    public async Task ADownstreamRangeTheTrainersRefuseIsNamedBeforeAnyTrial(string option, double value, string allowed)
    {
        // Checked only for Pretraining.*, a downstream value out of range failed trial after trial with the trainer's own
        // words ("Epochs must be at least 1", not saying which Epochs), and LightGBM at 0 iterations scored the prior
        // without a word.
        var ml = new MLContext(seed: 1);
        IDataView data = ml.Data.LoadFromEnumerable(SslExperimentData.HiggsWithHiddenLabels(100, labeledEvery: 2));
        SslSearchSpace space = SslSearchSpace.For(SslInputKind.Tabular);
        space.Downstream[option] = new ChoiceOption(value);

        var error = await Assert.ThrowsAsync<ArgumentException>(() => ml.SelfSupervisedExperiment()
            .SetDataset(data).SetInputColumn("Features").SetSearchSpace(space).SetMaxTrials(1).RunAsync());
        Assert.Contains($"Option Downstream.{option} spans [{value.ToString(System.Globalization.CultureInfo.InvariantCulture)}, " +
            $"{value.ToString(System.Globalization.CultureInfo.InvariantCulture)}]; it must stay within {allowed}.", error.Message, StringComparison.Ordinal);
    }

    [SkippableTheory]
    [InlineData(new[] { "SimClr" }, 0.001, 4.0, "SimClr needs at least 0.002", "a lower end of at least 0.002")]
    [InlineData(new[] { "Scarf", "SimClr", "MoCoV2" }, 0.001, 4.0, "MoCoV2 needs at least 0.005", "a lower end of at least 0.005")]
    [InlineData(new[] { "Byol", "Scarf" }, 1.0, 1000.0, "Byol needs at most 100", "an upper end of at most 100")]
    public async Task AMethodScaleRangeAChosenMethodCannotUseIsRefusedBeforeAnyTrial(string[] methods, double low, double high, string needs, string fix)
    {
        // The space accepted any scale in (0, 1000], but SimCLR's temperature is 0.5 x scale and must be at least 0.001 (MoCo
        // v2's 0.2 x scale, SCARF's 1 x scale), and BYOL's base momentum 1 - 0.01 x scale must stay in [0, 1]: such a range
        // failed trial after trial in the method's own words ("Temperature must be ..."), not naming Pretraining.MethodScale.
        var ml = new MLContext(seed: 1);
        IDataView data = ml.Data.LoadFromEnumerable(SslExperimentData.HiggsWithHiddenLabels(100, labeledEvery: 2));
        SslSearchSpace space = SslSearchSpace.For(SslInputKind.Tabular).WithMethods(methods);
        space.Pretraining[nameof(SslPretrainingParameters.MethodScale)] = new NumericRangeOption(low, high, logBase: true);
        space.Pretraining[nameof(SslPretrainingParameters.Epochs)] = new ChoiceOption(1);

        var error = await Assert.ThrowsAsync<ArgumentException>(() => ml.SelfSupervisedExperiment()
            .SetDataset(data).SetInputColumn("Features").SetSearchSpace(space).SetMaxTrials(2).RunAsync());
        _output.WriteLine(error.Message);
        string range = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"[{low}, {high}]");
        Assert.Contains($"Option Pretraining.MethodScale spans {range}", error.Message, StringComparison.Ordinal);
        Assert.Contains(needs, error.Message, StringComparison.Ordinal);
        Assert.Contains(fix, error.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void AMethodScaleAMethodCannotUseIsRefusedNamingTheMethodAndItsRange()
    {
        // Returned a SimCLR temperature of 0.0005 (refused only when the method was built) and a BYOL momentum of -9.
        var low = Assert.Throws<ArgumentOutOfRangeException>(() => SslPretrainingParameters.CreateMethodOptions("SimClr", 0.001));
        Assert.Contains("SSL method SimClr takes a method scale in [0.002, ", low.Message, StringComparison.Ordinal);
        var high = Assert.Throws<ArgumentOutOfRangeException>(() => SslPretrainingParameters.CreateMethodOptions("Byol", 1000));
        Assert.Contains("SSL method Byol takes a method scale in [0, 100]", high.Message, StringComparison.Ordinal);
        Assert.Equal(0, ((ByolOptions)SslPretrainingParameters.CreateMethodOptions("Byol", 100)).BaseMomentum);
        Assert.Equal(0.001, ((SimClrOptions)SslPretrainingParameters.CreateMethodOptions("SimClr", 0.002)).Temperature, 12);
    }

    [SkippableFact]
    public async Task AMethodScaleRangeEveryChosenMethodCanUseRuns()
    {
        // Barlow Twins' redundancy weight is scale / projection size: any positive scale is valid for it, so a range far
        // below SimCLR's smallest scale is no reason to refuse a space of Barlow Twins alone.
        var ml = new MLContext(seed: 1);
        IDataView data = ml.Data.LoadFromEnumerable(SslExperimentData.HiggsWithHiddenLabels(100, labeledEvery: 2));
        SslSearchSpace space = SslSearchSpace.For(SslInputKind.Tabular).WithMethods(SslMethod.BarlowTwins);
        space.Pretraining[nameof(SslPretrainingParameters.MethodScale)] = new NumericRangeOption(1e-4, 1e-3, logBase: true);
        Parameters probe = SslExperimentData.Configuration(space, ("Features", "SelfSupervised"), ("Pretraining.Epochs", 2),
            ("Pretraining.MethodScale", 1e-4), ("Downstream.Trainer", "LinearProbe"));

        SslExperimentResult result = await ml.SelfSupervisedExperiment()
            .SetDataset(data).SetInputColumn("Features").SetSearchSpace(space)
            .SetTuner(SslExperimentData.Scripted("barlow-small-scale", probe)).SetMaxTrials(1).RunAsync();
        Assert.Single(result.Trials, t => t.Metric is not null);
    }

    private sealed class SeriesRow
    {
        public float[] Values { get; set; } = [];

        public string Label { get; set; } = "";
    }

    [SkippableTheory]
    [InlineData(1, false)]
    [InlineData(4, true)]
    public async Task SeriesLongerThan512StepsGetANoteOnAveragingThemDown(int repeats, bool noted)
    {
        // GunPoint (150 steps) as it is, and with each step repeated 4 times (600 steps).
        var ml = new MLContext(seed: 1);
        SeriesRow[] rows = MlNetSsl.Tests.Cli.CliDataLoadingTests.GunPoint().Select(r => new SeriesRow
        {
            Values = r.Values.SelectMany(v => Enumerable.Repeat(float.Parse(v, System.Globalization.CultureInfo.InvariantCulture), repeats)).ToArray(),
            Label = r.Label,
        }).ToArray();
        var schema = SchemaDefinition.Create(typeof(SeriesRow));
        schema[nameof(SeriesRow.Values)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, 150 * repeats);
        SslExperimentResult result = await ml.SelfSupervisedExperiment()
            .SetDataset(ml.Data.LoadFromEnumerable(rows, schema))
            .SetInputColumn(nameof(SeriesRow.Values), seriesChannels: 1)
            .SetMaxTrials(1)
            .RunAsync();
        string? note = result.Notes.FirstOrDefault(n => n.Contains("steps per channel", StringComparison.Ordinal));
        Assert.Equal(noted, note is not null);
        if (noted) Assert.Contains("Series of 600 steps per channel", note!, StringComparison.Ordinal);
        ((IDisposable)result.BestTrial.Model).Dispose();
    }

    [SkippableFact]
    public async Task AutoCrossValidatesTabularRowsWithFourLabelsPerClassAndSaysWhy()
    {
        var ml = new MLContext(seed: 1);
        // 8 labels in 400 rows (4 per class). For images Auto would go label-free here; for tabular rows no label-free
        // measure ranked encoders better than cross-validation (docs/automl-benchmarks.md), so Auto cross-validates.
        IDataView data = ml.Data.LoadFromEnumerable(SslExperimentData.HiggsWithHiddenLabels(400, labeledEvery: 50));
        SslExperimentResult result = await ml.SelfSupervisedExperiment()
            .SetDataset(data)
            .SetInputColumn("Features")
            .SetSearchSpace(SslSearchSpace.For(data, "Features").WithMethods(SslMethod.Scarf))
            .SetTuner(SslTuner.Random)
            .SetScheduler(SslScheduler.Asha(minEpochs: 1, maxEpochs: 1))
            .SetMaxTrials(1)
            .RunAsync();
        _output.WriteLine(result.ObjectiveExplanation);

        Assert.Equal(SslObjectiveKind.CrossValidatedAccuracy, result.Objective!.Kind);
        Assert.Contains("4 labels per class", result.ObjectiveExplanation);
        Assert.Contains("no label-free measure was found to rank encoders better than cross-validation", result.ObjectiveExplanation);
        ((IDisposable)result.BestTrial.Model).Dispose();
    }

    [SkippableFact]
    public async Task AStrayClassWithASingleLabelKeepsAutoOnFiveFoldCrossValidationWithTheRawBaselines()
    {
        var ml = new MLContext(seed: 1);
        // 100 labels of two HIGGS classes, and one row labeled with a third class. Auto used to go label-free here, which
        // leaves the raw-feature baselines out; the two well-labeled classes still make cross-validation meaningful.
        HiggsRow[] rows = SslExperimentData.HiggsWithHiddenLabels(500, labeledEvery: 5);
        rows[5].Label = 2;
        IDataView data = ml.Data.LoadFromEnumerable(rows);
        SslExperimentResult result = await ml.SelfSupervisedExperiment()
            .SetDataset(data).SetInputColumn("Features")
            .SetMaxTrials(1)
            .RunAsync();
        _output.WriteLine(result.ObjectiveExplanation);

        Assert.Equal(SslObjectiveKind.CrossValidatedAccuracy, result.Objective!.Kind);
        Assert.Contains("5-fold cross-validation", result.ObjectiveExplanation);
        Assert.Contains("1 class(es) with a single label are scored only in the fold that holds them out", result.ObjectiveExplanation);
        Assert.Equal(SslFeatureSource.RawFeatures, result.Trials.Single().Parameters.AsType<SslTrialParameters>().Features);
        ((IDisposable)result.BestTrial.Model).Dispose();
    }

    [SkippableFact]
    public async Task AutoGoesLabelFreeWhenMostClassesHaveASingleLabel()
    {
        var ml = new MLContext(seed: 1);
        // 40 rows; the labeled ones are two of class 0 and three classes of one label each.
        HiggsRow[] rows = SslExperimentData.HiggsWithHiddenLabels(40, labeledEvery: 1000);
        (int Row, float Label)[] labels = [(0, 0), (1, 0), (2, 1), (3, 2), (4, 3)];
        foreach (var (row, label) in labels) rows[row].Label = label;
        IDataView data = ml.Data.LoadFromEnumerable(rows);
        SslExperimentResult result = await ml.SelfSupervisedExperiment()
            .SetDataset(data).SetInputColumn("Features")
            .SetSearchSpace(SslSearchSpace.For(data, "Features").WithMethods(SslMethod.Scarf))
            .SetTuner(SslTuner.Random)
            .SetScheduler(SslScheduler.Asha(minEpochs: 1, maxEpochs: 1))
            .SetOptimizingMetric(SslMetric.MacroAccuracy)
            .SetMaxTrials(1)
            .RunAsync();
        _output.WriteLine(result.ObjectiveExplanation);

        Assert.Equal(SslObjectiveKind.LabelFree, result.Objective!.Kind);
        Assert.Contains("3 of the 4 classes have a single label", result.ObjectiveExplanation);
        // The metric the caller set cannot be scored without labels: said, not dropped silently.
        Assert.Contains("SetOptimizingMetric(MacroAccuracy) is not used", result.ObjectiveExplanation);
        Assert.Null(result.OptimizingMetric);
        ((IDisposable)result.BestTrial.Model).Dispose();
    }

    [SkippableFact]
    public async Task TheLabelFreeObjectiveScoresTabularEmbeddingsByRankMeAndSearchesOnlyThem()
    {
        var ml = new MLContext(seed: 1);
        IDataView data = ml.Data.LoadFromEnumerable(SslExperimentData.HiggsWithHiddenLabels(400, labeledEvery: 50));
        SslExperimentResult result = await ml.SelfSupervisedExperiment()
            .SetDataset(data)
            .SetInputColumn("Features")
            .SetSearchSpace(SslSearchSpace.For(data, "Features").WithMethods(SslMethod.Scarf, SslMethod.SimClr))
            .SetObjective(SslObjective.LabelFree)
            .SetTuner(SslTuner.Random)
            .SetScheduler(SslScheduler.Asha(minEpochs: 1, maxEpochs: 1))
            .SetMaxTrials(2)
            .RunAsync();
        _output.WriteLine(result.ObjectiveExplanation);
        foreach (string note in result.Notes) _output.WriteLine(note);
        foreach (SslTrialMeasures m in result.TrialMeasures) _output.WriteLine(m.ToString());

        Assert.Equal(SslObjectiveKind.LabelFree, result.Objective!.Kind);
        Assert.Contains("Label-free objective, as set", result.ObjectiveExplanation);
        // No feature source but the embeddings alone, nor the probe's options, can be scored without labels, so they were not searched.
        Assert.Contains(result.Notes, n => n.Contains("other feature sources (RawFeatures, SupervisedFromScratch, RawAndSelfSupervised)", StringComparison.Ordinal));
        Assert.All(result.Trials, t => Assert.False(t.Parameters.ContainsKey(SslSearchSpace.DownstreamOption)));
        Assert.All(result.Trials, t => Assert.Equal("SelfSupervised", t.Parameters.GetString(SslSearchSpace.FeaturesOption)));
        // For tabular rows the label-free score is RankMe over its maximum, min(rows, embedding size).
        Assert.All(result.TrialMeasures, m =>
        {
            Assert.Null(m.CrossValidatedAccuracy);
            Assert.Equal(m.RankMeFraction, m.Metric);
            Assert.Equal(m.RankMe!.Value / Math.Min(400, m.EmbeddingSize!.Value), m.Metric, 9);
            // A collapsed encoder scores about 1 / min(rows, size) (under 0.01 here); a pretrained one spreads over many
            // directions (measured 0.45 and 0.53 on these rows).
            Assert.InRange(m.Metric, 0.1, 1.0);
        });
        Assert.Equal(SslFeatureSource.SelfSupervised, result.BestFeatureSource);
        float[] predicted = result.BestTrial.Model.Transform(ml.Data.LoadFromEnumerable(StageData.HiggsRows("test", 50)))
            .GetColumn<float>("PredictedLabel").ToArray();
        Assert.All(predicted, p => Assert.True(p is 0f or 1f));
        ((IDisposable)((IEnumerable<ITransformer>)result.BestTrial.Model).OfType<SelfSupervisedTransformer>().Single()).Dispose();
    }

    [SkippableFact]
    public async Task ARowToScoreWithAMissingValueIsImputedAlsoWhenTheTrainingRowsHadNone()
    {
        // The first trial is the portfolio's raw-feature L-BFGS, which without the imputer predicted NaN for such a row.
        var ml = new MLContext(seed: 1);
        HiggsRow[] rows = StageData.HiggsRows("train", 200);
        SslExperimentResult result = await ml.SelfSupervisedExperiment()
            .SetDataset(ml.Data.LoadFromEnumerable(rows))
            .SetInputColumn("Features")
            .SetMaxTrials(1)
            .RunAsync();

        Assert.DoesNotContain(result.Notes, n => n.Contains("hold missing values", StringComparison.Ordinal));
        HiggsRow[] test = StageData.HiggsRows("test", 20);
        foreach (HiggsRow row in test.Where((_, i) => i % 2 == 0)) row.Features[3] = float.NaN;
        float[] predicted = result.BestTrial.Model.Transform(ml.Data.LoadFromEnumerable(test)).GetColumn<float>("PredictedLabel").ToArray();
        Assert.All(predicted, p => Assert.True(p is 0f or 1f, $"predicted {p}"));
        foreach (var disposable in ((IEnumerable<ITransformer>)result.BestTrial.Model).OfType<IDisposable>()) disposable.Dispose();
    }

    [SkippableFact]
    public async Task OneLabelPerClassStillGivesAClassifierThatUsesTheLabels()
    {
        // Two labeled rows, one per class: Auto scores trials label-free, and the refit's L-BFGS then sees two rows. With
        // ML.NET's L1 of 1 (weighed against a loss summed over two rows) every weight was zero: one score for every row.
        var ml = new MLContext(seed: 1);
        HiggsRow[] rows = StageData.HiggsRows("train", 200);
        int first = Array.FindIndex(rows, r => r.Label == 0f), second = Array.FindIndex(rows, r => r.Label == 1f);
        for (int i = 0; i < rows.Length; i++)
            if (i != first && i != second) rows[i].Label = float.NaN;
        IDataView data = ml.Data.LoadFromEnumerable(rows);
        var progress = new SynchronousProgress<SslTrialReport>();
        SslExperimentResult result = await ml.SelfSupervisedExperiment()
            .SetDataset(data)
            .SetInputColumn("Features")
            .SetSearchSpace(SslSearchSpace.For(data, "Features").WithMethods(SslMethod.Scarf))
            .SetScheduler(SslScheduler.Asha(minEpochs: 1, maxEpochs: 1))
            .SetMaxTrials(1)
            .SetProgress(progress)
            .RunAsync();

        Assert.Equal(SslObjectiveKind.LabelFree, result.Objective!.Kind);
        // The reports say what their metric is and leave out the trial's trainer, which took no part in the score.
        Assert.NotEmpty(progress.Reports);
        Assert.All(progress.Reports, r => Assert.True(r.IsScoredLabelFree));
        string line = progress.Reports[^1].ToString();
        Assert.Contains("label-free score=", line, StringComparison.Ordinal);
        Assert.DoesNotContain("L-BFGS", line, StringComparison.Ordinal);
        IDataView scored = result.BestTrial.Model.Transform(ml.Data.LoadFromEnumerable(StageData.HiggsRows("test", 50)));
        float[] firstScores = scored.GetColumn<float[]>("Score").Select(s => s[0]).ToArray();
        Assert.True(firstScores.Distinct().Count() > 10, $"{firstScores.Distinct().Count()} distinct scores over 50 rows");
        Assert.Equal([0f, 1f], scored.GetColumn<float>("PredictedLabel").Distinct().Order().ToArray());
        ((IDisposable)((IEnumerable<ITransformer>)result.BestTrial.Model).OfType<SelfSupervisedTransformer>().Single()).Dispose();
    }

    [SkippableFact]
    public async Task CifarWithFewLabelsSearchesLabelFreeAndReturnsASavedReloadableImagePipeline()
    {
        var ml = new MLContext(seed: 1);
        // 160 images, one in eight labeled: 20 labels, 2 per class, so Auto scores trials by view retrieval.
        ImageRow[] rows = SslExperimentData.CifarWithHiddenLabels(perClass: 16, labeledEvery: 8);
        IDataView data = SslExperimentData.Images(ml, rows);
        SslSearchSpace space = SslSearchSpace.For(data, "Image").WithMethods(SslMethod.SimClr, SslMethod.Byol);
        space.Pretraining["EncoderWidth"] = new NumericRangeOption(0.5, 1, logBase: true, defaultValue: 1);
        var progress = new SynchronousProgress<SslTrialReport>();

        var watch = Stopwatch.StartNew();
        SslExperimentResult result = await ml.SelfSupervisedExperiment()
            .SetDataset(data, labelColumnName: "Label")
            .SetInputColumn("Image")
            .SetSearchSpace(space)
            .SetObjective(SslObjective.Auto)
            .SetTuner(SslTuner.Tpe)
            .SetScheduler(SslScheduler.Asha(minEpochs: 1, maxEpochs: 2, reduction: 2))
            .SetMaxTrials(3)
            .SetProgress(progress)
            .RunAsync();
        watch.Stop();
        foreach (SslTrialMeasures m in result.TrialMeasures) _output.WriteLine(m.ToString());
        _output.WriteLine($"{result.ObjectiveExplanation}\n{result.BestPipelineDescription}\n{watch.Elapsed.TotalSeconds:F1} s");

        Assert.Equal(SslObjectiveKind.LabelFree, result.Objective!.Kind);
        Assert.Contains(progress.Reports, r => r.Kind == TrialReportKind.Completed);
        Assert.All(result.TrialMeasures, m =>
        {
            Assert.Equal(m.ViewRetrievalAccuracy, m.Metric);
            Assert.InRange(m.Metric, 1.0 / 160, 1); // above zero: some of the 160 images find their own second view
            Assert.Null(m.RotationPredictionAccuracy); // measured only when recording is asked for
        });
        Assert.Equal(SslFeatureSource.SelfSupervised, result.BestFeatureSource);
        // The choice says how far the view-retrieval score can be trusted: a binomial error over the 160 images.
        double top = result.TrialMeasures.Where(m => m.TrialId == result.BestTrial.TrialId).OrderByDescending(m => m.Fidelity ?? 0).First().Metric;
        Assert.Contains(string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"+/- {Math.Sqrt(top * (1 - top) / 160):0.####} (binomial standard error over 160 rows)"), result.SelectionExplanation);

        ImageRow[] testRows = StageData.CifarRows(perClass: 3, split: "test");
        string[] before = result.BestTrial.Model.Transform(SslExperimentData.Images(ml, testRows)).GetColumn<string>("PredictedLabel").ToArray();
        string[] classes = rows.Select(r => r.Label).Where(l => l.Length > 0).Distinct().ToArray();
        Assert.All(before, p => Assert.Contains(p, classes));
        string path = Path.Combine(_folder, "cifar-model.zip");
        ml.Model.Save(result.BestTrial.Model, data.Schema, path);
        ((IEnumerable<ITransformer>)result.BestTrial.Model).OfType<SelfSupervisedTransformer>().Single().Dispose();
        var fresh = new MLContext(seed: 5);
        ITransformer loaded = fresh.Model.Load(path, out _);
        string[] after = loaded.Transform(SslExperimentData.Images(fresh, testRows)).GetColumn<string>("PredictedLabel").ToArray();
        Assert.Equal(before, after);
        ((IEnumerable<ITransformer>)loaded).OfType<SelfSupervisedTransformer>().Single().Dispose();
    }

    [SkippableFact]
    public async Task TheRawPixelBaselineBecomesAResizeExtractPixelsPipelineWhenItWins()
    {
        var ml = new MLContext(seed: 1);
        IDataView data = SslExperimentData.Images(ml, SslExperimentData.CifarWithHiddenLabels(perClass: 12, labeledEvery: 2));
        SslSearchSpace space = SslSearchSpace.For(SslInputKind.Image);
        Parameters raw = SslExperimentData.Configuration(space, ("Features", "RawFeatures"), ("Downstream.L2Regularization", 0.1));
        SslExperimentResult result = await ml.SelfSupervisedExperiment()
            .SetDataset(data).SetInputColumn("Image").SetSearchSpace(space)
            .SetObjective(SslObjective.CrossValidatedAccuracy(folds: 3))
            .SetTuner(SslExperimentData.Scripted("raw-only", raw))
            .SetMaxTrials(1)
            .RunAsync();

        Assert.Equal(SslFeatureSource.RawFeatures, result.BestFeatureSource);
        Assert.StartsWith("RawFeatures -> LbfgsMaximumEntropy", result.BestPipelineDescription);
        Assert.Equal(0, result.PretrainingReuse!.Segments);
        Assert.Empty(((IEnumerable<ITransformer>)result.BestTrial.Model).OfType<SelfSupervisedTransformer>());
        ImageRow[] testRows = StageData.CifarRows(perClass: 2, split: "test");
        string[] before = result.BestTrial.Model.Transform(SslExperimentData.Images(ml, testRows)).GetColumn<string>("PredictedLabel").ToArray();
        string path = Path.Combine(_folder, "raw-model.zip");
        ml.Model.Save(result.BestTrial.Model, data.Schema, path);
        var fresh = new MLContext(seed: 5);
        string[] after = fresh.Model.Load(path, out _).Transform(SslExperimentData.Images(fresh, testRows)).GetColumn<string>("PredictedLabel").ToArray();
        Assert.Equal(before, after);
    }

    [SkippableFact]
    public async Task APausedAndResumedExperimentEndsWithTheUninterruptedLeaderboard()
    {
        var ml = new MLContext(seed: 1);
        IDataView data = ml.Data.LoadFromEnumerable(SslExperimentData.HiggsWithHiddenLabels(300, labeledEvery: 4));
        SslSearchSpace space = SslSearchSpace.For(SslInputKind.Tabular).WithMethods(SslMethod.Scarf, SslMethod.Vicreg);
        // Short fine-tuning: what is checked is the replay, and a random 98-epoch FixMatch network trained three times made
        // this test take over three minutes on 2 cores.
        space.Downstream[nameof(SslDownstreamParameters.FineTuneEpochs)] = new IntegerRangeOption(10, 12);
        SslExperiment Experiment(string folder, IProgress<SslTrialReport>? progress = null)
        {
            SslExperiment experiment = ml.SelfSupervisedExperiment()
                .SetDataset(data).SetInputColumn("Features").SetSearchSpace(space)
                .SetObjective(SslObjective.CrossValidatedAccuracy(folds: 3))
                .SetTuner(SslTuner.Random)
                .SetScheduler(SslScheduler.Asha(minEpochs: 1, maxEpochs: 9, reduction: 3))
                .SetMaxTrials(5)
                .SetSeed(4)
                // The leaderboard's top, not the one-standard-error rule: that rule breaks ties between SSL trials on their
                // measured time, which a resumed session measures anew, and this test is about the replay.
                .SetOneStandardErrorRule(false)
                .SetCheckpoint(folder);
            return progress is null ? experiment : experiment.SetProgress(progress);
        }

        SslExperimentResult straight = await Experiment(Path.Combine(_folder, "straight")).RunAsync();

        // Pause as the third trial starts (the stage checks the token while reading rows and every step), then resume.
        // Cancelling at once, not after a delay, keeps the test independent of how fast the machine runs a trial.
        string paused = Path.Combine(_folder, "paused");
        using var cancellation = new CancellationTokenSource();
        var pausing = new SynchronousProgress<SslTrialReport>(r =>
        {
            if (r.Kind == TrialReportKind.Running && r.Trial.TrialId == 2) cancellation.Cancel();
        });
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Experiment(paused, pausing).RunAsync(cancellation.Token));
        var resuming = new SynchronousProgress<SslTrialReport>();
        SslExperimentResult resumed = await Experiment(paused, resuming).RunAsync();

        foreach (TrialRecord trial in resumed.Trials) _output.WriteLine(trial.ToString());
        Assert.Contains(resuming.Reports, r => r.IsReplay);
        Assert.Equal(Leaderboard(straight), Leaderboard(resumed));
        Assert.Equal(straight.BestTrial.Metric, resumed.BestTrial.Metric);
        foreach (var model in new[] { straight.BestTrial.Model, resumed.BestTrial.Model })
            foreach (var stage in ((IEnumerable<ITransformer>)model).OfType<SelfSupervisedTransformer>()) stage.Dispose();
    }

    [SkippableFact]
    public async Task CancellingTheExperimentsContextStopsTheSearch()
    {
        // ml.CancelExecution() on the user's context: trials run in contexts of their own, so the search used to go on
        // to its last trial and then throw in the refit, losing the work.
        var ml = new MLContext(seed: 1);
        IDataView data = ml.Data.LoadFromEnumerable(SslExperimentData.HiggsWithHiddenLabels(300, labeledEvery: 4));
        int lastStarted = -1;
        var progress = new SynchronousProgress<SslTrialReport>(r =>
        {
            if (r.Kind != TrialReportKind.Running) return;
            lastStarted = Math.Max(lastStarted, r.Trial.TrialId);
            if (r.Trial.TrialId == 1) ml.CancelExecution();
        });
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => ml.SelfSupervisedExperiment()
            .SetDataset(data).SetInputColumn("Features").SetMaxTrials(12).SetTrainingTimeInSeconds(600).SetProgress(progress).RunAsync());
        // The context is looked at as each trial starts, not only at its 50 ms poll: quick raw-feature trials used to let one
        // or two more start first.
        Assert.True(lastStarted == 1, $"trials up to {lastStarted} started after the context was cancelled as trial 1 started");
        // A context cancelled before the run: refused at once.
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => ml.SelfSupervisedExperiment().SetDataset(data).SetInputColumn("Features").RunAsync());
    }

    private static IEnumerable<string> Leaderboard(SslExperimentResult result) =>
        result.Trials.Select(t => $"{t.TrialId} {t.Status} {t.Fidelity} {string.Join(",", t.Rungs.Select(r => r.Metric.ToString("R", System.Globalization.CultureInfo.InvariantCulture)))}");
}
