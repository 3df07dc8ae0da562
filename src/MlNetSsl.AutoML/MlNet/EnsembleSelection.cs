namespace MlNetSsl.AutoML;

/// <summary>
/// Ensemble selection (Caruana et al., 2004) on out-of-fold predictions: starting from nothing, each round adds, with
/// replacement, the candidate whose addition gives the mean of the members' class scores the best metric over the
/// cross-validation's held-out rows (the earlier candidate on a tie); the ensemble is the first rounds whose blend scored
/// best (the fewest on a tie), so a round that made it worse is dropped. A candidate chosen k times of the n rounds kept
/// weighs k/n. Every candidate's predictions must come from the same fold assignments, so the rows line up.
/// </summary>
internal static class EnsembleSelection
{
    /// <summary>Rounds of selection, as measured in the raw-choice benchmark (docs/automl.md, "Ensembles of raw-feature pipelines").</summary>
    public const int Rounds = 10;

    /// <summary>The chosen candidates, one entry per round kept (indices into <paramref name="candidates"/>, repeated when
    /// chosen again).</summary>
    /// <param name="candidates">Each candidate's predictions: per repetition of the cross-validation, per fold.</param>
    /// <param name="metric">The metric to optimize (minimized for log-loss).</param>
    /// <param name="classCount">Classes (the scores' length).</param>
    /// <param name="positiveKey">The positive class of two-class metrics.</param>
    /// <param name="rounds">Rounds of selection.</param>
    /// <param name="classWeights">Class weights of the blend's decisions (see <see cref="Blend"/>); null: none.</param>
    public static int[] Select(IReadOnlyList<IReadOnlyList<IReadOnlyList<FoldPredictions>>> candidates, SslMetric metric, int classCount,
        uint positiveKey, int rounds = Rounds, IReadOnlyList<double>? classWeights = null)
    {
        ArgumentOutOfRangeException.ThrowIfZero(candidates.Count);
        var chosen = new List<int>();
        bool maximize = metric.IsMaximized();
        int kept = 0;
        double keptValue = double.NaN;
        for (int round = 0; round < rounds; round++)
        {
            int best = -1;
            double bestValue = double.NaN;
            for (int c = 0; c < candidates.Count; c++)
            {
                double value = Value(metric, Blend(candidates, [.. chosen, c], classCount, classWeights), classCount, positiveKey);
                if (best < 0 || (maximize ? value > bestValue : value < bestValue) || (double.IsNaN(bestValue) && !double.IsNaN(value)))
                    (best, bestValue) = (c, value);
            }
            chosen.Add(best);
            if (kept == 0 || (maximize ? bestValue > keptValue : bestValue < keptValue) || (double.IsNaN(keptValue) && !double.IsNaN(bestValue)))
                (kept, keptValue) = (chosen.Count, bestValue);
        }
        return [.. chosen.Take(kept)];
    }

    /// <summary>The metric of <paramref name="predictions"/>: its value on each repetition's pooled held-out rows, averaged
    /// (the cross-validation's metric, see <see cref="MetricCalculator.Estimate"/>).</summary>
    public static double Value(SslMetric metric, IReadOnlyList<IReadOnlyList<FoldPredictions>> predictions, int classCount, uint positiveKey) =>
        predictions.Average(folds => MetricCalculator.Compute(metric, MetricCalculator.Pooled(folds), classCount, positiveKey));

    /// <summary>The predictions of the mean of <paramref name="members"/>' class scores (a member listed twice counts
    /// twice); the predicted class is the first with the highest mean (keys from 1), times its class weight when
    /// <paramref name="classWeights"/> is given.</summary>
    public static IReadOnlyList<IReadOnlyList<FoldPredictions>> Blend(IReadOnlyList<IReadOnlyList<IReadOnlyList<FoldPredictions>>> candidates,
        IReadOnlyList<int> members, int classCount, IReadOnlyList<double>? classWeights = null)
    {
        IReadOnlyList<IReadOnlyList<FoldPredictions>> first = candidates[members[0]];
        var repetitions = new List<IReadOnlyList<FoldPredictions>>(first.Count);
        for (int rep = 0; rep < first.Count; rep++)
        {
            var folds = new List<FoldPredictions>(first[rep].Count);
            for (int fold = 0; fold < first[rep].Count; fold++)
            {
                int rows = first[rep][fold].Actual.Length;
                var scores = new float[rows][];
                var predicted = new uint[rows];
                for (int row = 0; row < rows; row++)
                {
                    var mean = new float[classCount];
                    foreach (int member in members)
                    {
                        float[] score = candidates[member][rep][fold].Scores[row];
                        for (int k = 0; k < classCount; k++) mean[k] += score[k] / members.Count;
                    }
                    int argmax = 0;
                    for (int k = 1; k < classCount; k++) if (mean[k] > mean[argmax]) argmax = k;
                    scores[row] = mean;
                    predicted[row] = classWeights is null ? (uint)argmax + 1 : MetricCalculator.WeightedArgMax(mean, classWeights);
                }
                folds.Add(new FoldPredictions(first[rep][fold].Actual, predicted, scores));
            }
            repetitions.Add(folds);
        }
        return repetitions;
    }
}
