using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetSsl.AutoML;
using MlNetSsl.Tests.MlNet;
using Xunit;

namespace MlNetSsl.Tests.AutoML;

/// <summary>A trial's token reaches everything the trial runs: label-free measures, cross-validation and ML.NET trainers.</summary>
public sealed class TrialCancellationTests
{
    private readonly MLContext _ml = new(seed: 1);

    private static CancellationToken Cancelled => new(canceled: true);

    // Each call below completes normally with a live token (RankMe's control below; the others run uncancelled in their
    // own tests), so an OperationCanceledException proves the token reached the work. No wall-clock bound: it would
    // depend on the host's speed and load.
    private static void Prompt(Action action) => Assert.ThrowsAny<OperationCanceledException>(action);

    [SkippableFact]
    public void LabelFreeMeasuresStopOnACancelledToken()
    {
        IDataView images = StageData.Images(_ml, StageData.CifarRows(perClass: 2));
        using SelfSupervisedTransformer imageStage = _ml.Transforms.SelfSupervised("E", "Image", SslMethod.SimClr, o => o.Epochs = 0).Fit(images);
        IDataView vectors = _ml.Data.LoadFromEnumerable(StageData.HiggsRows("train", 64));
        using SelfSupervisedTransformer vectorStage = _ml.Transforms.SelfSupervised("E", "Features", SslMethod.Scarf, o => o.Epochs = 0).Fit(vectors);

        Prompt(() => LabelFreeEvaluation.RankMe(vectorStage, vectors, cancellationToken: Cancelled));
        Prompt(() => LabelFreeEvaluation.RankMe(imageStage, images, cancellationToken: Cancelled));
        Prompt(() => LabelFreeEvaluation.RotationPredictionAccuracy(imageStage, images, cancellationToken: Cancelled));
        Prompt(() => LabelFreeEvaluation.ViewRetrievalAccuracy(imageStage, images, cancellationToken: Cancelled));
        // Not cancelled: unchanged.
        Assert.InRange(LabelFreeEvaluation.RankMe(vectorStage, vectors, cancellationToken: CancellationToken.None), 1, 64);
    }

    [SkippableFact]
    public void CrossValidationStopsOnACancelledTokenAndItsTrainersStopWithTheirContext()
    {
        HiggsRow[] rows = StageData.HiggsRows("train", 200);
        float[][] features = rows.Select(r => r.Features).ToArray();
        uint[] labels = rows.Select(r => (uint)r.Label + 1).ToArray();
        var (foldOfRow, foldCount) = StratifiedFolds.Assign(labels, 3, seed: 1);
        var folds = CrossValidation.BuildFolds(_ml, features, labels, 2, foldOfRow, foldCount);
        IEstimator<ITransformer> Sdca(MLContext ml) => ml.MulticlassClassification.Trainers.SdcaMaximumEntropy(
            CrossValidationTrialRunner.LabelColumn, CrossValidationTrialRunner.FeatureColumn, maximumNumberOfIterations: 50);

        Prompt(() => CrossValidation.Accuracy(folds, () => Sdca(_ml), Cancelled));

        // The trainer itself: a trial's context, cancelled through the token, stops ML.NET's training.
        var trial = new MLContext(seed: 2);
        using var cancellation = new CancellationTokenSource();
        using CancellationTokenRegistration stop = CrossValidation.CancelWith(trial, cancellation.Token);
        cancellation.Cancel();
        Assert.ThrowsAny<Exception>(() => Sdca(trial).Fit(folds[0].Train));
        Prompt(() => CrossValidation.Cancellable(() => Sdca(trial).Fit(folds[0].Train), cancellation.Token));

        var runner = new CrossValidationTrialRunner(_ml, LabeledRowsOf(rows), 3, seed: 1);
        var request = new TrialRequest(0, new SearchSpace<LinearTrainerParameters>().Default, null, null, null,
            Directory.CreateTempSubdirectory("mlnetssl-cv-").FullName, Path.GetTempPath(), 1);
        try
        {
            Prompt(() => runner.RunAsync(request, Cancelled).GetAwaiter().GetResult());
        }
        finally
        {
            Directory.Delete(request.StateDirectory, recursive: true);
        }
    }

    [SkippableFact]
    public void FineTuneCrossValidationStopsOnACancelledToken()
    {
        HiggsRow[] rows = StageData.HiggsRows("train", 120);
        IDataView data = _ml.Data.LoadFromEnumerable(rows);
        SslDataset dataset = SslDataset.Read(_ml, data, "Features", "Label", SslInputShape.Tabular(28));
        var (foldOfRow, foldCount) = StratifiedFolds.Assign(dataset.LabeledKeys, 3, seed: 1);
        using SelfSupervisedTransformer stage = _ml.Transforms.SelfSupervised("E", "Features", SslMethod.Scarf, o => o.Epochs = 0).Fit(data);

        Prompt(() => FineTuneCrossValidation.Accuracy(_ml, stage, dataset, foldOfRow, foldCount,
            new SslDownstreamParameters { Trainer = DownstreamTrainer.FineTune }, seed: 1, Cancelled));
    }

    private LabeledRows LabeledRowsOf(HiggsRow[] rows) => LabeledRows.Read(_ml, _ml.Data.LoadFromEnumerable(rows), "Label", "Features");
}
