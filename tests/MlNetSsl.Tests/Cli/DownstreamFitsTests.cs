using System.Collections.Immutable;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;
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

    [SkippableFact]
    public void OneHotIndicatorSlotsPassTheRefitUnscaledAsInTheSearch()
    {
        // Abalone (UCI) with its sex column as text, which the CLI one-hot encodes, and rings in two classes. The search
        // leaves 0/1 indicator slots unscaled before its trainers (SslDownstream.Standardize); the no-SSL comparison and
        // the label curve refit the same pipelines and must standardize the same way, or they score another pipeline.
        string folder = Path.Combine(Path.GetTempPath(), "mlnetssl-downstreamfits-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            string csv = Path.Combine(folder, "abalone.csv");
            File.WriteAllLines(csv, new[] { "sex,length,diameter,height,whole,shucked,viscera,shell,age" }.Concat(
                File.ReadLines(Path.Combine(SharedData.DataRoot, "tabular", "abalone.csv")).Where(line => line.Length > 0).Take(300)
                    .Select(line => line.Split(','))
                    .Select(cells => string.Join(',', cells[..8]) + "," + (int.Parse(cells[8], CultureInfo.InvariantCulture) >= 10 ? "old" : "young"))));
            var ml = new MLContext(0);
            TrainingData train = TableLoader.LoadForTraining(csv, DatasetReader.Csv(hasHeader: true, ",", "age", []));
            var (preparation, _) = ModelParts.Preparation(ml, train, 0, SeriesResampling.Linear);
            ITransformer prepared = preparation.Fit(train.View);
            var fits = new DownstreamFits(ml, prepared, prepared.Transform(train.View), train.LabelColumn, reuseTestFeatures: false);
            DownstreamFits.LabeledFeatures raw = fits.Labeled(fits.Raw(train.Kind));

            ITransformer fitted = fits.Fit(raw, new SslDownstreamParameters(), subset: null);

            var normalizer = ModelParts.Flatten(fitted).OfType<NormalizingTransformer>().Single();
            var affine = (NormalizingTransformer.AffineNormalizerModelParameters<ImmutableArray<float>>)normalizer.GetNormalizerModelParameters(0);
            float[][] features = raw.Rows.GetColumn<float[]>(raw.Featurizer.Column).ToArray();
            int width = features[0].Length;
            bool[] indicator = [.. Enumerable.Range(0, width).Select(slot => features.All(r => r[slot] == 0 || r[slot] == 1))];
            Assert.Equal(3, indicator.Count(i => i)); // M, F and I; the seven measurements are not 0/1
            for (int slot = 0; slot < width; slot++)
            {
                float offset = affine.Offset.IsDefaultOrEmpty ? 0 : affine.Offset[slot];
                if (indicator[slot])
                    Assert.True(Math.Abs(affine.Scale[slot] - 1) < 1e-5 && Math.Abs(offset) < 1e-5,
                        $"indicator slot {slot} is scaled by {affine.Scale[slot]} with offset {offset}, where the search leaves it as it is");
                else
                    Assert.True(Math.Abs(affine.Scale[slot] - 1) > 1e-3, $"measurement slot {slot} was not standardized");
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
