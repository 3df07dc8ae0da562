using Microsoft.ML;
using MlNetSsl.AutoML;
using MlNetSsl.Cli.Data;
using MlNetSsl.Cli.Run;
using MlNetSsl.Tests.Infrastructure;
using Xunit;

namespace MlNetSsl.Tests.Cli;

/// <summary>
/// The refits of the no-SSL comparison and --label-curve: test rows' features are kept per featurizer only when several
/// fits score them (the label curve), and scoring kept features gives what featurizing the test rows again gives.
/// </summary>
public sealed class DownstreamFitsTests
{
    [SkippableFact]
    public void TestFeaturesAreKeptOnlyWhenReusedAndScoreAsFeaturizingTheTestRowsAgain()
    {
        var ml = new MLContext(0);
        string root = Path.Combine(SharedData.RepoRoot, "samples", "Quickstart", "data", "cifar10-small");
        TrainingData allTrain = ImageFolder.Load(ml, Path.Combine(root, "train"), ImageFolder.DefaultUnlabeledFolder, strict: false, forTraining: true);
        TrainingData allTest = ImageFolder.Load(ml, Path.Combine(root, "test"), ImageFolder.DefaultUnlabeledFolder, strict: false, forTraining: false);
        // Every 10th training and 5th test image: every class, and a few seconds of L-BFGS on 3,072 raw pixels.
        TrainingData train = allTrain.Subset([.. Enumerable.Range(0, allTrain.Count).Where(r => r % 10 == 0 && allTrain.Labels[r].Length > 0)]);
        TrainingData test = allTest.Subset([.. Enumerable.Range(0, allTest.Count).Where(r => r % 5 == 0)]);
        var (preparation, inputColumn) = ModelParts.Preparation(ml, train, 0, SeriesResampling.Linear);
        ITransformer prepared = preparation.Fit(train.View);
        IDataView trainPrepared = prepared.Transform(train.View);
        var kept = new DownstreamFits(ml, prepared, trainPrepared, train.LabelColumn, reuseTestFeatures: true);
        var streamed = new DownstreamFits(ml, prepared, trainPrepared, train.LabelColumn, reuseTestFeatures: false);
        string[] classNames = [.. train.Labels.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];
        // The stage unpretrained (Epochs 0) is a featurizer through the stage's batched output, as the chosen pipeline's front.
        ITransformer stage = ml.Transforms.SelfSupervised("Ssl_Embedding", inputColumn, SslMethod.SimClr, o => { o.Epochs = 0; o.Seed = 1; }).Fit(trainPrepared);
        DownstreamFits.Featurizer[] featurizers = [kept.Raw(train.Kind), new(stage, "Ssl_Embedding")];
        int[] half = DownstreamFits.StratifiedShare(train.Labels, 0.5, seed: 1);
        var downstream = new SslDownstreamParameters();

        foreach (DownstreamFits.Featurizer featurizer in featurizers)
        {
            DownstreamFits.LabeledFeatures keptRows = kept.Labeled(featurizer), streamedRows = streamed.Labeled(featurizer);
            foreach (int[]? subset in new[] { null, half })
            {
                List<TestMetrics.Scored> fromKept = kept.FitAndScore(keptRows, downstream, subset, test, classNames);
                List<TestMetrics.Scored> again = streamed.FitAndScore(streamedRows, downstream, subset, test, classNames);
                Assert.Equal(test.Count, fromKept.Count);
                Assert.Equal(again.Select(r => (r.Actual, r.Predicted)), fromKept.Select(r => (r.Actual, r.Predicted)));
                for (int row = 0; row < again.Count; row++)
                    for (int c = 0; c < classNames.Length; c++)
                        Assert.Equal(again[row].Scores[c], fromKept[row].Scores[c], 1e-5f * Math.Max(1f, Math.Abs(again[row].Scores[c])));
                // Not one class for every row, so the rows' order is what the comparison tests.
                Assert.True(fromKept.Select(r => r.Predicted).Distinct().Count() > 2);
            }
        }
        // One set per featurizer where the fits reuse them (four fits above), none where each is scored once.
        Assert.Equal(2, kept.KeptTestFeatureSets);
        Assert.Equal(0, streamed.KeptTestFeatureSets);
    }
}
