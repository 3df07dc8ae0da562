using Microsoft.ML;
using MlNetSsl.AutoML;
using MlNetSsl.Tests.MlNet;
using Xunit;

namespace MlNetSsl.Tests.AutoML;

/// <summary>The optimizing metrics: values hand-computed on five rows, their spread over folds, the two-class check and the
/// direction the experiment ranks in.</summary>
public sealed class SslMetricTests
{
    // Five rows of two classes: keys 1 1 2 2 2, predicted 1 2 2 2 1, probabilities [p(1), p(2)] below.
    private static readonly FoldPredictions Rows = new(
        [1, 1, 2, 2, 2],
        [1, 2, 2, 2, 1],
        [[0.8f, 0.2f], [0.4f, 0.6f], [0.1f, 0.9f], [0.4f, 0.6f], [0.7f, 0.3f]]);

    [SkippableFact]
    public void MetricsMatchHandComputedValues()
    {
        // Class 1 has 2 rows, class 2 has 3, so class 1 is the positive class of AUC and F1.
        uint positive = MetricCalculator.PositiveKey(Rows.Actual);
        Assert.Equal(1u, positive);
        Assert.Equal(3 / 5.0, MetricCalculator.Compute(SslMetric.Accuracy, Rows, 2, positive), 12);
        // Recalls: class 1 1/2, class 2 2/3.
        Assert.Equal((1 / 2.0 + 2 / 3.0) / 2, MetricCalculator.Compute(SslMetric.MacroAccuracy, Rows, 2, positive), 12);
        // True-class probabilities 0.8, 0.4, 0.9, 0.6, 0.3.
        double logLoss = -(Math.Log(0.8) + Math.Log(0.4) + Math.Log(0.9) + Math.Log(0.6) + Math.Log(0.3)) / 5;
        Assert.Equal(logLoss, MetricCalculator.Compute(SslMetric.LogLoss, Rows, 2, positive), 6);
        // Positives score 0.8 and 0.4, negatives 0.1, 0.4, 0.7: 0.8 beats all three, 0.4 beats 0.1 and ties 0.4: 4.5 of 6 pairs.
        Assert.Equal(4.5 / 6, MetricCalculator.Compute(SslMetric.AreaUnderRocCurve, Rows, 2, positive), 6);
        // Class 1: TP row 0, FN row 1, FP row 4: 2 / (2 + 1 + 1).
        Assert.Equal(0.5, MetricCalculator.Compute(SslMetric.F1Score, Rows, 2, positive), 12);
        // With class 2 as the positive class: TP rows 2 and 3, FN row 4, FP row 1: 4 / (4 + 1 + 1).
        Assert.Equal(4 / 6.0, MetricCalculator.Compute(SslMetric.F1Score, Rows, 2, 2), 12);
    }

    [SkippableFact]
    public void AFoldWithoutAPositiveRowHasNoF1NorAucAndIsLeftOutOfTheSpread()
    {
        // A positive class of one label: the four folds that do not hold it have no positive row. Their F1 is 0 / 0 and was
        // reported as 0, so a model that found the one positive (pooled F1 1) got fold values 1, 0, 0, 0, 0 and a spread of 0.45.
        FoldPredictions Negatives(bool falsePositive) => new([2, 2, 2], [falsePositive ? 1u : 2, 2, 2], [[0.2f, 0.8f], [0.1f, 0.9f], [0.3f, 0.7f]]);
        var holder = new FoldPredictions([1, 2, 2], [1, 2, 2], [[0.9f, 0.1f], [0.2f, 0.8f], [0.1f, 0.9f]]);
        FoldPredictions[] folds = [holder, Negatives(false), Negatives(false), Negatives(false), Negatives(false)];

        Assert.True(double.IsNaN(MetricCalculator.Compute(SslMetric.F1Score, Negatives(false), 2, 1)));
        Assert.True(double.IsNaN(MetricCalculator.Compute(SslMetric.AreaUnderRocCurve, Negatives(false), 2, 1)));
        // A positive predicted where there is none is an error, and F1 is 0 then.
        Assert.Equal(0, MetricCalculator.Compute(SslMetric.F1Score, Negatives(true), 2, 1));
        foreach (SslMetric metric in new[] { SslMetric.F1Score, SslMetric.AreaUnderRocCurve })
        {
            MetricEstimate estimate = MetricCalculator.Estimate(metric, [folds], 2, 1);
            Assert.Equal(1, estimate.Value, 12);
            Assert.Equal([1.0], estimate.FoldValues);
            // One fold value: the error is the bootstrap's, over resamples that hold the positive row.
            Assert.Equal(MetricCalculator.BootstrapStandardError(metric, folds, 2, 1), estimate.StandardError, 12);
            Assert.Equal(0, estimate.StandardError, 12);
        }
    }

    [SkippableFact]
    public void FoldsThatAllScoreTheSameStillHaveTheErrorOfTheirRows()
    {
        // Three stratified folds of a majority-class model: every fold scores 3/4, so the folds' spread is 0; the rows are
        // still 12, and the bootstrap over them gives the error (about sqrt(0.75 * 0.25 / 12) = 0.125).
        FoldPredictions Fold() => new([1, 1, 1, 2], [1, 1, 1, 1], [[0.9f, 0.1f], [0.9f, 0.1f], [0.9f, 0.1f], [0.9f, 0.1f]]);
        FoldPredictions[] folds = [Fold(), Fold(), Fold()];
        MetricEstimate estimate = MetricCalculator.Estimate(SslMetric.Accuracy, [folds], 2, 1);
        Assert.Equal(0.75, estimate.Value, 12);
        Assert.Equal(0, estimate.StandardDeviation, 12);
        Assert.Equal(MetricCalculator.BootstrapStandardError(SslMetric.Accuracy, folds, 2, 1), estimate.StandardError, 12);
        Assert.InRange(estimate.StandardError, 0.08, 0.17);
    }

    [SkippableFact]
    public void EstimatePoolsPredictionsAndTakesTheSpreadFromFolds()
    {
        // Fold A: rows 0 and 2 (both right, accuracy 1); fold B: rows 1, 3, 4 (one right, 1/3).
        var foldA = new FoldPredictions([1, 2], [1, 2], [[0.8f, 0.2f], [0.1f, 0.9f]]);
        var foldB = new FoldPredictions([1, 2, 2], [2, 2, 1], [[0.4f, 0.6f], [0.4f, 0.6f], [0.7f, 0.3f]]);
        MetricEstimate estimate = MetricCalculator.Estimate(SslMetric.Accuracy, [[foldA, foldB]], 2, 1);
        Assert.Equal(0.6, estimate.Value, 12);
        Assert.Equal([1.0, 1 / 3.0], estimate.FoldValues);
        double deviation = Math.Sqrt(2 * Math.Pow(1 / 3.0, 2)); // mean 2/3, n - 1 = 1
        Assert.Equal(deviation, estimate.StandardDeviation, 12);
        // Two fold values say little about the spread: the standard error is bootstrapped from their five rows.
        Assert.Equal(MetricCalculator.BootstrapStandardError(SslMetric.Accuracy, [foldA, foldB], 2, 1), estimate.StandardError, 12);

        // A second repetition that scores 0.4 pooled: the value is the mean of the repetitions, the spread uses all 4 folds.
        var foldC = new FoldPredictions([1, 2, 2, 2, 1], [2, 2, 1, 1, 1], [[0.4f, 0.6f], [0.1f, 0.9f], [0.6f, 0.4f], [0.6f, 0.4f], [0.9f, 0.1f]]);
        MetricEstimate repeated = MetricCalculator.Estimate(SslMetric.Accuracy, [[foldA, foldB], [foldC]], 2, 1);
        Assert.Equal((0.6 + 0.4) / 2, repeated.Value, 12);
        Assert.Equal(3, repeated.FoldValues.Length);
        // Nadeau and Bengio's corrected error: the splits have 2 folds, so half the rows train (n_test / n_train = 1).
        Assert.Equal(MetricCalculator.StandardDeviation([1.0, 1 / 3.0, 0.4]) * Math.Sqrt(1 / 3.0 + 1), repeated.StandardError, 12);
    }

    [SkippableFact]
    public void RepeatingASplitDoesNotShrinkTheErrorTowardsZero()
    {
        // Five folds of 8 rows with 8, 7, 6, 5 and 7 right: the same predictions seen once and five times over. Repetitions
        // of one data set add no rows, so the error keeps the share that comes from the rows (1 / (k - 1)); the plain
        // deviation / sqrt(fold values) fell by sqrt(5) and made 5-repetition errors 2.1 times too small on the benchmark.
        FoldPredictions Fold(int right) => new([.. Enumerable.Repeat(1u, 8)], [.. Enumerable.Range(0, 8).Select(i => i < right ? 1u : 2u)],
            [.. Enumerable.Repeat(new[] { 0.6f, 0.4f }, 8)]);
        IReadOnlyList<FoldPredictions> split = [Fold(8), Fold(7), Fold(6), Fold(5), Fold(7)];
        MetricEstimate once = MetricCalculator.Estimate(SslMetric.Accuracy, [split], 2, 1);
        MetricEstimate fiveTimes = MetricCalculator.Estimate(SslMetric.Accuracy, [split, split, split, split, split], 2, 1);
        double deviation = MetricCalculator.StandardDeviation([1, 7 / 8.0, 6 / 8.0, 5 / 8.0, 7 / 8.0]);
        Assert.Equal(deviation, once.StandardDeviation, 12);
        Assert.Equal(deviation * Math.Sqrt(1 / 5.0 + 1 / 4.0), once.StandardError, 12);
        Assert.Equal(fiveTimes.StandardDeviation * Math.Sqrt(1 / 25.0 + 1 / 4.0), fiveTimes.StandardError, 12);
        // 0.73 of the single split's (the 25 values' n - 1 deviation is a little smaller); it was 0.41.
        Assert.InRange(fiveTimes.StandardError / once.StandardError, 0.7, 0.8);

        // A network that trained 2 of the 5 folds plus a third: its held-out share is still a fifth of the rows.
        MetricEstimate threeOfFive = MetricCalculator.Estimate(SslMetric.Accuracy, [[split[0], split[1], split[2]]], 2, 1, splitFolds: 5);
        Assert.Equal(MetricCalculator.StandardDeviation([1, 7 / 8.0, 6 / 8.0]) * Math.Sqrt(1 / 3.0 + 1 / 4.0), threeOfFive.StandardError, 12);
    }

    [SkippableFact]
    public void AHoldOutGetsABootstrappedStandardErrorThatMatchesTheBinomialOne()
    {
        // 100 held-out rows, 60 predicted right: the binomial standard error is sqrt(0.6 * 0.4 / 100) = 0.049.
        uint[] actual = Enumerable.Range(0, 100).Select(i => (uint)(1 + i % 2)).ToArray();
        uint[] predicted = actual.Select((k, i) => i < 60 ? k : 3 - k).ToArray();
        float[][] scores = predicted.Select(k => k == 1 ? new[] { 0.7f, 0.3f } : [0.3f, 0.7f]).ToArray();
        var holdOut = new FoldPredictions(actual, predicted, scores);

        MetricEstimate estimate = MetricCalculator.Estimate(SslMetric.Accuracy, [[holdOut]], 2, 1);
        Assert.Equal(0.6, estimate.Value, 12);
        Assert.Equal(0, estimate.StandardDeviation); // one fold value has no spread of its own
        double binomial = Math.Sqrt(0.6 * 0.4 / 100);
        Assert.InRange(estimate.StandardError, 0.8 * binomial, 1.2 * binomial);
        // Deterministic: the same predictions give the same error.
        Assert.Equal(estimate.StandardError, MetricCalculator.Estimate(SslMetric.Accuracy, [[holdOut]], 2, 1).StandardError);
        // Every metric gets one, e.g. the AUC of these scores.
        Assert.True(MetricCalculator.BootstrapStandardError(SslMetric.AreaUnderRocCurve, [holdOut], 2, 1) > 0);
        // Two folds: the bootstrap over their 100 rows, not the deviation of two values.
        var halves = new[] { new FoldPredictions(actual[..50], predicted[..50], scores[..50]), new FoldPredictions(actual[50..], predicted[50..], scores[50..]) };
        MetricEstimate twoFolds = MetricCalculator.Estimate(SslMetric.Accuracy, [halves], 2, 1);
        Assert.InRange(twoFolds.StandardError, 0.8 * binomial, 1.2 * binomial);
    }

    [SkippableTheory]
    [InlineData(500, 5, 2)] // CIFAR-10 at 10% of 5,000 images: 200 held out by 2 folds of 100
    [InlineData(2000, 5, 1)]
    [InlineData(400, 5, 3)]
    [InlineData(100, 5, 5)] // fewer than 200 labels: every fold
    [InlineData(100, 3, 3)]
    public void FineTuningTrialsTrainTheFewestFoldsThatHoldOut200Labels(int labeled, int folds, int expected) =>
        Assert.Equal(expected, SslExperiment.AutomaticFineTuneFolds(labeled, folds));

    [SkippableFact]
    public void ScoresThatAreNotProbabilitiesGoThroughSoftmax()
    {
        double[] p = MetricCalculator.Probabilities([-1f, 1f]);
        Assert.Equal(1 / (1 + Math.Exp(-2)), p[1], 6);
        Assert.Equal([0.25, 0.75], MetricCalculator.Probabilities([1f, 3f]));
    }

    [SkippableFact]
    public void TwoClassMetricsNameTheClassCount()
    {
        var error = Assert.Throws<InvalidOperationException>(() => SslMetric.AreaUnderRocCurve.CheckClassCount(3));
        Assert.Contains("3 classes", error.Message);
        Assert.Contains("two classes", error.Message);
        SslMetric.F1Score.CheckClassCount(2);
        SslMetric.LogLoss.CheckClassCount(7);
        Assert.False(SslMetric.LogLoss.IsMaximized());
        Assert.True(SslMetric.MacroAccuracy.IsMaximized());
    }

    [SkippableFact]
    public async Task AnExperimentWithThreeClassesRefusesF1BeforeAnyTrial()
    {
        var ml = new MLContext(seed: 1);
        var rows = Enumerable.Range(0, 30).Select(i => new ThreeClassRow { Features = [i % 3, i * 0.1f], Label = (i % 3).ToString(System.Globalization.CultureInfo.InvariantCulture) });
        IDataView data = ml.Data.LoadFromEnumerable(rows);
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => ml.SelfSupervisedExperiment()
            .SetDataset(data).SetInputColumn("Features").SetOptimizingMetric(SslMetric.F1Score).SetMaxTrials(1).RunAsync());
        Assert.Contains("3 classes", error.Message);
    }

    [SkippableFact]
    public async Task TheObjectiveExplanationNamesTheMetricAndThePositiveClassByItsLabel()
    {
        // An audit read "Auto chose 5-fold cross-validated accuracy ... Metric: F1Score (..., positive class: key 2, the
        // rarer)" and could not tell which label key 2 was.
        var ml = new MLContext(seed: 1);
        var rows = Enumerable.Range(0, 30).Select(i => new ThreeClassRow { Features = [i % 3 == 0 ? 1 : 0, i * 0.1f], Label = i % 3 == 0 ? "forged" : "genuine" });
        IDataView data = ml.Data.LoadFromEnumerable(rows);
        SslExperimentResult result = await ml.SelfSupervisedExperiment()
            .SetDataset(data).SetInputColumn("Features").SetOptimizingMetric(SslMetric.F1Score).SetMaxTrials(1).RunAsync();

        Assert.Contains("Auto chose cross-validation (of F1Score)", result.ObjectiveExplanation);
        Assert.Contains("positive class: key 1 ('forged'), the rarer", result.ObjectiveExplanation);
        ((IDisposable)result.BestTrial.Model).Dispose();
    }

    [SkippableFact]
    public async Task TheObjectiveExplanationStatesOneFoldCountTheOneUsed()
    {
        // It read "Auto chose 5-fold cross-validated accuracy: ..." and then "3-fold cross-validation (not 5: ...)": the
        // rarest class (3 labels) cuts the folds, so the count Auto names first was not the one used.
        var ml = new MLContext(seed: 1);
        var rows = Enumerable.Range(0, 30).Select(i => new ThreeClassRow { Features = [i % 10 == 0 ? 1 : 0, i * 0.1f], Label = i % 10 == 0 ? "forged" : "genuine" });
        IDataView data = ml.Data.LoadFromEnumerable(rows);
        SslExperimentResult result = await ml.SelfSupervisedExperiment()
            .SetDataset(data).SetInputColumn("Features").SetMaxTrials(1).RunAsync();

        string explanation = result.ObjectiveExplanation!;
        Assert.Contains("Auto chose cross-validated accuracy: 30 labeled rows of 30, 2 classes", explanation);
        Assert.Contains("3-fold cross-validation (fewer than the objective's 5 folds: the rarest class of 2 labels or more has 3 labels, one per fold at least)", explanation);
        Assert.DoesNotContain("5-fold", explanation);
        ((IDisposable)result.BestTrial.Model).Dispose();
    }

    [SkippableFact]
    public async Task LogLossIsMinimizedAndEveryTrialReportsItsSpread()
    {
        var ml = new MLContext(seed: 1);
        IDataView data = ml.Data.LoadFromEnumerable(SslExperimentData.HiggsWithHiddenLabels(300, labeledEvery: 2));
        SslSearchSpace space = SslSearchSpace.For(data, "Features");
        space[SslSearchSpace.FeaturesOption] = new ChoiceOption(nameof(SslFeatureSource.RawFeatures));
        space.Downstream[nameof(SslDownstreamParameters.Trainer)] = new ChoiceOption(nameof(DownstreamTrainer.LinearProbe));
        Parameters strong = SslExperimentData.Configuration(space, ("Downstream.L2Regularization", 1.0));
        Parameters weak = SslExperimentData.Configuration(space, ("Downstream.L2Regularization", 10.0), ("Downstream.L1Regularization", 10.0));

        SslExperimentResult result = await ml.SelfSupervisedExperiment()
            .SetDataset(data).SetInputColumn("Features").SetSearchSpace(space)
            .SetObjective(SslObjective.CrossValidatedAccuracy(folds: 3))
            .SetOptimizingMetric(SslMetric.LogLoss)
            .SetCrossValidationRepeats(2)
            .SetTuner(SslExperimentData.Scripted("two probes", weak, strong))
            .SetMaxTrials(2)
            .RunAsync();

        Assert.Equal(SslMetric.LogLoss, result.OptimizingMetric);
        Assert.False(result.IsMetricMaximized);
        Assert.Equal(2, result.Trials.Count);
        Assert.True(result.Trials[0].Metric < result.Trials[1].Metric, "the leaderboard puts the lower log-loss first");
        Assert.Equal(result.Trials[0].TrialId, result.BestTrial.TrialId);
        Assert.All(result.TrialMeasures, m =>
        {
            Assert.Equal(SslMetric.LogLoss, m.OptimizingMetric);
            Assert.Equal(6, m.MetricFoldValues!.Count); // 3 folds x 2 repetitions
            Assert.True(m.MetricStandardError > 0);
            Assert.Equal(m.MetricStandardDeviation!.Value * Math.Sqrt(1 / 6.0 + 1 / 2.0), m.MetricStandardError!.Value, 9); // 3 folds: n_test / n_train = 1/2
            Assert.InRange(m.CrossValidatedAccuracy!.Value, 0, 1);
        });
        Assert.NotNull(result.BestTrial.MetricStandardError);
        Assert.All(result.Trials, t =>
        {
            SslTrialMeasures behind = result.MeasuresOf(t)!;
            Assert.Equal(t.TrialId, behind.TrialId);
            Assert.Equal(t.Metric!.Value, behind.Metric, 12);
        });
        Assert.Equal(result.BestTrial.MetricStandardError, result.MeasuresOf(result.Trials.Single(t => t.TrialId == result.BestTrial.TrialId))!.MetricStandardError);
        Assert.Contains("LogLoss (minimized)", result.ObjectiveExplanation);
    }

    [SkippableFact]
    public async Task FewerFoldsAreExplainedByTheRarestClassThatCutThem()
    {
        // Classes of 1, 3 and 30 labels: a single-label class does not cut the folds (it is scored where it is held out),
        // the 3-label class does. The explanation said "the rarest class has 1 label, one per fold at least" beside 3 folds.
        var ml = new MLContext(seed: 1);
        var rows = Enumerable.Range(0, 34).Select(i => new ThreeClassRow
        {
            Features = [i % 5, i * 0.1f],
            Label = i == 0 ? "single" : i <= 3 ? "three" : "many",
        });
        SslSearchSpace space = SslSearchSpace.For(SslInputKind.Tabular);
        space[SslSearchSpace.FeaturesOption] = new ChoiceOption(nameof(SslFeatureSource.RawFeatures));
        space.Downstream[nameof(SslDownstreamParameters.Trainer)] = new ChoiceOption(nameof(DownstreamTrainer.LinearProbe));
        SslExperimentResult result = await ml.SelfSupervisedExperiment()
            .SetDataset(ml.Data.LoadFromEnumerable(rows)).SetInputColumn("Features").SetSearchSpace(space)
            .SetObjective(SslObjective.CrossValidatedAccuracy(folds: 5)).SetEnsembleSelection(false).SetMaxTrials(1).RunAsync();

        Assert.Contains("3-fold cross-validation (fewer than the objective's 5 folds: the rarest class of 2 labels or more has 3 labels, one per fold at least)", result.ObjectiveExplanation);
        Assert.DoesNotContain("has 1 label", result.ObjectiveExplanation);
    }

    private sealed class ThreeClassRow
    {
        [Microsoft.ML.Data.VectorType(2)]
        public float[] Features { get; set; } = [];

        public string Label { get; set; } = "";
    }
}
