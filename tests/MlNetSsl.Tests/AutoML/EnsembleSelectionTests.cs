using MlNetSsl.AutoML;
using Xunit;

namespace MlNetSsl.Tests.AutoML;

/// <summary>Ensemble selection on scripted held-out scores: complementary pipelines are kept together, a dominant one
/// alone, rounds that make the blend worse are dropped, and log-loss is minimized.</summary>
public sealed class EnsembleSelectionTests
{
    /// <summary>One repetition of two folds over ten rows of class 2 (keys from 1), with the given probability of class 2 per row.</summary>
    private static IReadOnlyList<IReadOnlyList<FoldPredictions>> Candidate(params double[] classTwo)
    {
        FoldPredictions Fold(IEnumerable<double> rows)
        {
            float[][] scores = [.. rows.Select(p => new[] { (float)(1 - p), (float)p })];
            return new FoldPredictions([.. scores.Select(_ => 2u)], [.. scores.Select(s => s[1] > s[0] ? 2u : 1u)], scores);
        }
        return [[Fold(classTwo.Take(5)), Fold(classTwo.Skip(5))]];
    }

    [SkippableFact]
    public void ComplementaryPipelinesAreKeptTogetherWithEqualWeights()
    {
        // A is right on rows 0-6 and narrowly wrong on 7-9; B narrowly wrong on 0-2 and right on 3-9: 70% each, 100% averaged.
        var a = Candidate(0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.4, 0.4, 0.4);
        var b = Candidate(0.45, 0.45, 0.45, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9);
        int[] picks = EnsembleSelection.Select([a, b], SslMetric.Accuracy, 2, 2);

        // Round 1 takes A (a tie with B goes to the earlier), round 2 adds B (100%); a third pick scores no better, so the
        // shortest best blend is kept.
        Assert.Equal([0, 1], picks);
        Assert.Equal(1.0, EnsembleSelection.Value(SslMetric.Accuracy, EnsembleSelection.Blend([a, b], picks, 2), 2, 2));
        Assert.Equal(0.7, EnsembleSelection.Value(SslMetric.Accuracy, a, 2, 2), 12);
    }

    [SkippableFact]
    public void ADominantPipelineIsKeptAloneAndWorseRoundsAreDropped()
    {
        var strong = Candidate(0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.4);
        var weak = Candidate(0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.9, 0.9, 0.9, 0.1);
        // Listed second, so a tie-break toward the earlier candidate cannot be what picks it.
        int[] picks = EnsembleSelection.Select([weak, strong], SslMetric.Accuracy, 2, 2);
        Assert.Equal([1], picks.Distinct());
    }

    [SkippableFact]
    public void TheBlendAveragesScoresAndPredictsTheirMostLikelyClass()
    {
        var a = Candidate(0.9, 0.1, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6);
        var b = Candidate(0.3, 0.5, 0.45, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6);
        FoldPredictions first = EnsembleSelection.Blend([a, b], [0, 0, 1], 2)[0][0];
        Assert.Equal((2 * 0.9f + 0.3f) / 3, first.Scores[0][1], 5);
        Assert.Equal((2 * 0.1f + 0.5f) / 3, first.Scores[1][1], 5);
        Assert.Equal([2u, 1u, 2u], first.Predicted.Take(3));
        Assert.Equal(a[0][0].Actual, first.Actual);
    }

    [SkippableFact]
    public void LogLossIsMinimized()
    {
        // Both always right; the confident one has the lower log-loss, and the blend of both a higher one than it alone.
        var hesitant = Candidate(0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6);
        var confident = Candidate(0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95);
        Assert.Equal([1], EnsembleSelection.Select([hesitant, confident], SslMetric.LogLoss, 2, 2).Distinct());
        // Under accuracy the two tie at 100%: the earlier is kept, alone, since no later round scores better.
        Assert.Equal([0], EnsembleSelection.Select([hesitant, confident], SslMetric.Accuracy, 2, 2));
    }
}
