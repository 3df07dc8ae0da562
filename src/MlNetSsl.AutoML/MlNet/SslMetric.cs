using System.Globalization;

namespace MlNetSsl.AutoML;

/// <summary>The metric the self-supervised experiment optimizes (<see cref="SslExperiment.SetOptimizingMetric"/>), computed
/// on the out-of-fold predictions of its cross-validation.</summary>
public enum SslMetric
{
    /// <summary>Correct predictions over all labeled rows (micro accuracy). Maximized. The default.</summary>
    Accuracy,

    /// <summary>The mean over classes of each class's recall (balanced accuracy): a majority-class predictor scores
    /// 1 / classes whatever the imbalance. Maximized.</summary>
    MacroAccuracy,

    /// <summary>Mean negative natural log of the probability given to the true class (probabilities clipped at 1e-15, as
    /// ML.NET's evaluator does). Minimized.</summary>
    LogLoss,

    /// <summary>Area under the ROC curve of the positive class's probability (ties count one half). Two classes only.
    /// Maximized.</summary>
    AreaUnderRocCurve,

    /// <summary>F1 score of the positive class: 2 TP / (2 TP + FP + FN). Two classes only. Maximized.</summary>
    F1Score,
}

/// <summary>Properties of <see cref="SslMetric"/> values.</summary>
public static class SslMetrics
{
    /// <summary>Whether a higher value of <paramref name="metric"/> is better (false for <see cref="SslMetric.LogLoss"/>).</summary>
    public static bool IsMaximized(this SslMetric metric) => metric != SslMetric.LogLoss;

    /// <summary>Whether <paramref name="metric"/> is defined only for two classes (<see cref="SslMetric.AreaUnderRocCurve"/>,
    /// <see cref="SslMetric.F1Score"/>).</summary>
    public static bool RequiresTwoClasses(this SslMetric metric) => metric is SslMetric.AreaUnderRocCurve or SslMetric.F1Score;

    /// <summary>Throws when <paramref name="metric"/> cannot be computed for <paramref name="classCount"/> classes.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The metric is not a defined value.</exception>
    /// <exception cref="InvalidOperationException">A two-class metric and another number of classes; the message names it.</exception>
    public static void CheckClassCount(this SslMetric metric, int classCount)
    {
        if (!Enum.IsDefined(metric)) throw new ArgumentOutOfRangeException(nameof(metric), metric, "Unknown metric.");
        if (metric.RequiresTwoClasses() && classCount != 2)
            throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture,
                $"The metric {metric} is defined for two classes, and the label has {classCount} classes among its labeled rows; " +
                $"use {nameof(SslMetric.Accuracy)}, {nameof(SslMetric.MacroAccuracy)} or {nameof(SslMetric.LogLoss)}."));
    }
}

/// <summary>A cross-validated metric with its spread: the value over the pooled out-of-fold predictions (averaged over
/// repetitions), the standard deviation of the per-fold values and the standard error of the value.</summary>
/// <param name="Value">The metric.</param>
/// <param name="StandardDeviation">Sample standard deviation of the per-fold values (0 with one fold value).</param>
/// <param name="StandardError">Nadeau and Bengio's corrected error, StandardDeviation x sqrt(1 / fold values + 1 / (k - 1)) for
/// k folds (bootstrapped below 3 fold values or when every fold scored the same; see <see cref="MetricCalculator.Estimate"/>).</param>
/// <param name="FoldValues">The metric of every fold of every repetition, in order.</param>
/// <param name="Accuracy">Pooled accuracy over the same predictions (averaged over repetitions).</param>
internal sealed record MetricEstimate(double Value, double StandardDeviation, double StandardError, double[] FoldValues, double Accuracy);

/// <summary>Out-of-fold predictions of one fold: true and predicted class keys (1-based) and class probabilities.</summary>
internal sealed record FoldPredictions(uint[] Actual, uint[] Predicted, float[][] Scores);

/// <summary>Computes <see cref="SslMetric"/> values from class keys and scores.</summary>
internal static class MetricCalculator
{
    private const double LogLossClip = 1e-15;

    /// <summary>The positive class of the two-class metrics: the rarer class among the labeled keys (ties: key 2), the
    /// class whose detection F1 and AUC usually matter.</summary>
    public static uint PositiveKey(uint[] labeledKeys)
    {
        int ones = labeledKeys.Count(k => k == 1), twos = labeledKeys.Count(k => k == 2);
        return ones < twos ? 1u : 2u;
    }

    /// <summary>The class weights under which macro accuracy is optimized: each class's factor is the inverse of its share of
    /// the labeled rows (scaled so a balanced label gives 1 everywhere). Dividing calibrated class probabilities by the class
    /// shares gives a balanced training set's probabilities, whose most likely class maximizes the mean recall; a model
    /// trained on 95% of one class otherwise predicts that class nearly everywhere.</summary>
    public static double[] BalancingWeights(IReadOnlyList<uint> labeledKeys, int classCount)
    {
        var counts = new int[classCount];
        foreach (uint key in labeledKeys) if (key >= 1 && key <= classCount) counts[key - 1]++;
        double n = labeledKeys.Count;
        return [.. counts.Select(c => n / (classCount * (double)Math.Max(1, c)))];
    }

    /// <summary><paramref name="predictions"/> with each row's predicted class the first that maximizes its class probability
    /// times <paramref name="classWeights"/> (the scores stay as they are), as <c>ReweightClassScores</c> decides in the model.</summary>
    public static FoldPredictions Reweighted(FoldPredictions predictions, IReadOnlyList<double> classWeights)
    {
        var predicted = new uint[predictions.Actual.Length];
        for (int i = 0; i < predicted.Length; i++) predicted[i] = WeightedArgMax(predictions.Scores[i], classWeights);
        return predictions with { Predicted = predicted };
    }

    /// <summary>The key (from 1) of the first class with the highest probability times its weight.</summary>
    public static uint WeightedArgMax(float[] scores, IReadOnlyList<double> classWeights)
    {
        double[] probabilities = Probabilities(scores);
        int best = 0;
        for (int k = 1; k < probabilities.Length; k++)
            if (probabilities[k] * classWeights[k] > probabilities[best] * classWeights[best]) best = k;
        return (uint)best + 1;
    }

    /// <summary>The metric over the rows of <paramref name="predictions"/>.</summary>
    /// <param name="metric">The metric.</param>
    /// <param name="predictions">Keys 1..classCount and scores (any positive-valued or real scores: they are turned into
    /// probabilities, normalized when they are non-negative, by softmax otherwise).</param>
    /// <param name="classCount">The number of classes.</param>
    /// <param name="positiveKey">The positive class of two-class metrics.</param>
    /// <returns>NaN when the metric is undefined on these rows: AUC with one class present, F1 with no positive row and no
    /// positive prediction (0 / 0; a positive prediction there makes it 0).</returns>
    public static double Compute(SslMetric metric, FoldPredictions predictions, int classCount, uint positiveKey)
    {
        uint[] actual = predictions.Actual, predicted = predictions.Predicted;
        if (actual.Length == 0) return double.NaN;
        switch (metric)
        {
            case SslMetric.Accuracy:
                return actual.Zip(predicted).Count(p => p.First == p.Second) / (double)actual.Length;
            case SslMetric.MacroAccuracy:
            {
                double sum = 0;
                int present = 0;
                for (uint key = 1; key <= classCount; key++)
                {
                    int rows = 0, correct = 0;
                    for (int i = 0; i < actual.Length; i++)
                    {
                        if (actual[i] != key) continue;
                        rows++;
                        if (predicted[i] == key) correct++;
                    }
                    if (rows == 0) continue; // a class absent from these rows has no recall
                    sum += correct / (double)rows;
                    present++;
                }
                return sum / present;
            }
            case SslMetric.LogLoss:
            {
                double loss = 0;
                for (int i = 0; i < actual.Length; i++)
                    loss -= Math.Log(Math.Max(Probabilities(predictions.Scores[i])[actual[i] - 1], LogLossClip));
                return loss / actual.Length;
            }
            case SslMetric.AreaUnderRocCurve:
                metric.CheckClassCount(classCount);
                return AreaUnderRocCurve(actual, predictions.Scores.Select(s => Probabilities(s)[positiveKey - 1]).ToArray(), positiveKey);
            case SslMetric.F1Score:
            {
                metric.CheckClassCount(classCount);
                int truePositive = 0, falsePositive = 0, falseNegative = 0;
                for (int i = 0; i < actual.Length; i++)
                {
                    bool isPositive = actual[i] == positiveKey, saysPositive = predicted[i] == positiveKey;
                    if (isPositive && saysPositive) truePositive++;
                    else if (saysPositive) falsePositive++;
                    else if (isPositive) falseNegative++;
                }
                int denominator = 2 * truePositive + falsePositive + falseNegative;
                // 0 / 0: rows without a positive (a fold or bootstrap resample of a rare class) say nothing about F1, as they
                // say nothing about AUC; as 0 they widened the spread and the bootstrap error of a model that found every positive.
                return denominator == 0 ? double.NaN : 2.0 * truePositive / denominator;
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(metric), metric, "Unknown metric.");
        }
    }

    /// <summary>The estimate over folds grouped in repetitions: the value is the mean over repetitions of the metric of
    /// their pooled predictions; the spread comes from every fold's own value (undefined fold values are skipped).</summary>
    /// <param name="metric">The metric.</param>
    /// <param name="repetitions">Each repetition's folds (a network's trial may train only the first folds of its split).</param>
    /// <param name="classCount">The number of classes.</param>
    /// <param name="positiveKey">The positive class of two-class metrics.</param>
    /// <param name="splitFolds">The folds each repetition's split has (k), which sets the share of held-out rows; 0: as many
    /// as the largest repetition holds.</param>
    public static MetricEstimate Estimate(SslMetric metric, IReadOnlyList<IReadOnlyList<FoldPredictions>> repetitions, int classCount, uint positiveKey,
        int splitFolds = 0)
    {
        var pooledValues = new List<double>();
        var pooledAccuracies = new List<double>();
        var foldValues = new List<double>();
        foreach (IReadOnlyList<FoldPredictions> folds in repetitions)
        {
            FoldPredictions pooled = Pooled(folds);
            pooledValues.Add(Compute(metric, pooled, classCount, positiveKey));
            pooledAccuracies.Add(Compute(SslMetric.Accuracy, pooled, classCount, positiveKey));
            foldValues.AddRange(folds.Select(f => Compute(metric, f, classCount, positiveKey)).Where(double.IsFinite));
        }
        double deviation = StandardDeviation(foldValues);
        int k = splitFolds > 0 ? splitFolds : repetitions.Select(r => r.Count).DefaultIfEmpty(0).Max();
        double error = foldValues.Count > 0 ? CorrectedStandardError(deviation, foldValues.Count, k) : 0;
        // One or two fold values (a hold-out) say little about the spread: the rows they hold do. Nor do folds that all score
        // the same: on an imbalanced table a model that predicts the majority class scores its share exactly in every
        // stratified fold (a 0 standard error at 240 labels, 4% positives), and the one-standard-error rule then took a
        // pretrained probe that tied on 0.958 over raw LightGBM one row behind (95.0% against 96.1% test accuracy). There
        // the error is the bootstrap's over the pooled rows of the first repetition (0 still where every row is right).
        if ((foldValues.Count < 3 && repetitions.Count == 1) || (deviation == 0 && repetitions.Count > 0))
            error = BootstrapStandardError(metric, repetitions[0], classCount, positiveKey);
        return new MetricEstimate(pooledValues.Average(), deviation, error, foldValues.ToArray(), pooledAccuracies.Average());
    }

    /// <summary>
    /// The standard error of a k-fold mean from <paramref name="values"/> fold values of sample deviation
    /// <paramref name="deviation"/>, by Nadeau and Bengio's corrected resampled variance (Machine Learning 52, 2003):
    /// (1 / values + n_test / n_train) x deviation^2, with n_test / n_train = 1 / (k - 1). Folds share training rows and
    /// repetitions share every row, so deviation / sqrt(values) shrinks with repetitions that add no new data: measured by
    /// the benchmark's <c>raw-choice</c> command on 26 tables and series, the spread of (cross-validated metric - test
    /// accuracy) over splits was 0.9 to 3.3 times that error (2.0 at the median), and 0.5 to 1.6 times this one (0.9; docs/automl.md, "Spread").
    /// </summary>
    public static double CorrectedStandardError(double deviation, int values, int folds) =>
        values <= 0 ? 0 : deviation * Math.Sqrt(1.0 / values + 1.0 / Math.Max(1, folds - 1));

    /// <summary>The rows of every fold of one repetition as one set of predictions.</summary>
    public static FoldPredictions Pooled(IReadOnlyList<FoldPredictions> folds) => new([.. folds.SelectMany(f => f.Actual)],
        [.. folds.SelectMany(f => f.Predicted)], [.. folds.SelectMany(f => f.Scores)]);

    /// <summary>The standard error of the metric over the pooled rows of <paramref name="folds"/>, by the bootstrap: the
    /// standard deviation of the metric over <paramref name="resamples"/> resamples of the rows with replacement (a fixed
    /// seed, so the same predictions give the same error). 0 with fewer than two rows.</summary>
    public static double BootstrapStandardError(SslMetric metric, IReadOnlyList<FoldPredictions> folds, int classCount, uint positiveKey,
        int resamples = 200, int seed = 0)
    {
        FoldPredictions all = Pooled(folds);
        uint[] actual = all.Actual, predicted = all.Predicted;
        float[][] scores = all.Scores;
        int n = actual.Length;
        if (n < 2) return 0;
        var random = new Random(seed);
        var values = new List<double>(resamples);
        var a = new uint[n];
        var p = new uint[n];
        var s = new float[n][];
        for (int r = 0; r < resamples; r++)
        {
            for (int i = 0; i < n; i++)
            {
                int row = random.Next(n);
                a[i] = actual[row];
                p[i] = predicted[row];
                s[i] = scores[row];
            }
            double value = Compute(metric, new FoldPredictions(a, p, s), classCount, positiveKey);
            if (double.IsFinite(value)) values.Add(value);
        }
        return StandardDeviation(values);
    }

    /// <summary>The sample standard deviation (n - 1); 0 for fewer than two values.</summary>
    public static double StandardDeviation(IReadOnlyList<double> values)
    {
        if (values.Count < 2) return 0;
        double mean = values.Average();
        return Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Count - 1));
    }

    /// <summary>Class probabilities from a score vector: divided by their sum when all are non-negative (ML.NET's
    /// multiclass trainers and the fine-tuner already give probabilities), by softmax otherwise.</summary>
    public static double[] Probabilities(float[] scores)
    {
        var p = new double[scores.Length];
        if (scores.All(s => s >= 0) && scores.Sum(s => (double)s) > 0)
        {
            double sum = scores.Sum(s => (double)s);
            for (int k = 0; k < p.Length; k++) p[k] = scores[k] / sum;
            return p;
        }
        double max = scores.Max();
        double total = 0;
        for (int k = 0; k < p.Length; k++) total += p[k] = Math.Exp(scores[k] - max);
        for (int k = 0; k < p.Length; k++) p[k] /= total;
        return p;
    }

    /// <summary>The Mann-Whitney form of the AUC: the share of (positive, negative) pairs ranked correctly, ties one half.</summary>
    private static double AreaUnderRocCurve(uint[] actual, double[] positiveScore, uint positiveKey)
    {
        int[] order = Enumerable.Range(0, actual.Length).OrderBy(i => positiveScore[i]).ToArray();
        var rank = new double[actual.Length];
        for (int start = 0; start < order.Length;)
        {
            int end = start;
            while (end + 1 < order.Length && positiveScore[order[end + 1]] == positiveScore[order[start]]) end++;
            double averageRank = (start + end) / 2.0 + 1; // 1-based, ties share their mean rank
            for (int i = start; i <= end; i++) rank[order[i]] = averageRank;
            start = end + 1;
        }
        long positives = actual.Count(k => k == positiveKey), negatives = actual.Length - positives;
        if (positives == 0 || negatives == 0) return double.NaN;
        double positiveRankSum = Enumerable.Range(0, actual.Length).Where(i => actual[i] == positiveKey).Sum(i => rank[i]);
        return (positiveRankSum - positives * (positives + 1) / 2.0) / (positives * (double)negatives);
    }
}
