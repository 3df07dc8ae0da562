using MlNetSsl.Cli.Run;
using Xunit;

namespace MlNetSsl.Tests.Cli;

/// <summary>The CLI's test metrics when the test rows hold classes the model never saw (a test folder with an extra class).</summary>
public sealed class TestMetricsTests
{
    private static TestMetrics.Scored Row(int actual, int predicted) => new(actual, predicted, predicted == 0 ? [0.9f, 0.1f] : [0.1f, 0.9f]);

    [SkippableFact]
    public void MacroAccuracyCountsEachUnseenClassAsAClassWithRecallZero()
    {
        // Class 0: 2 of 2 right; class 1: 1 of 2; an unseen class (index -2): 2 rows, necessarily wrong.
        TestMetrics.Scored[] rows = [Row(0, 0), Row(0, 0), Row(1, 1), Row(1, 0), Row(-2, 0), Row(-2, 1)];
        Assert.Equal((1.0 + 0.5 + 0.0) / 3, TestMetrics.Compute("macro-accuracy", rows, 2, positive: 1), 12);
        Assert.Equal(3.0 / 6, TestMetrics.Compute("accuracy", rows, 2, positive: 1), 12);
    }

    [SkippableFact]
    public void EveryMetricIsDefinedWhenNoTestClassIsKnown()
    {
        // Two unseen classes only: every prediction is wrong, nothing throws.
        TestMetrics.Scored[] rows = [Row(-2, 0), Row(-2, 1), Row(-3, 0)];
        foreach (string metric in TestMetrics.Names)
        {
            var (value, lower, upper) = TestMetrics.WithInterval(metric, rows, 2, positive: 1, seed: 0);
            Assert.True(lower <= upper || double.IsNaN(value), $"{metric}: {lower} > {upper}");
        }
        Assert.Equal(0, TestMetrics.Compute("accuracy", rows, 2, positive: 1));
        Assert.Equal(0, TestMetrics.Compute("macro-accuracy", rows, 2, positive: 1));
    }

    [SkippableFact]
    public void F1OfTestRowsWithoutAPositiveIsNotDefinedUnlessOneIsPredicted()
    {
        // Class 1 is positive; the test rows hold class 0 only. Nothing predicted positive: 0 / 0, which read "test f1 0.0000"
        // as if the model missed every positive. A positive predicted there is a false positive, and F1 is 0.
        var (value, lower, upper) = TestMetrics.WithInterval("f1", [Row(0, 0), Row(0, 0), Row(0, 0)], 2, positive: 1, seed: 0);
        Assert.True(double.IsNaN(value) && double.IsNaN(lower) && double.IsNaN(upper));
        Assert.Equal(0, TestMetrics.Compute("f1", [Row(0, 0), Row(0, 1), Row(0, 0)], 2, positive: 1));
        Assert.Equal(2.0 / 3, TestMetrics.Compute("f1", [Row(1, 1), Row(1, 0), Row(0, 0)], 2, positive: 1), 12);
    }

    [SkippableFact]
    public void MacroAccuracysIntervalHoldsItsValueWhenAClassHasASingleWrongRow()
    {
        // Ten classes of 20 test rows, 15 right in each, and two classes of one row each, both wrong: macro-accuracy
        // (10 x 0.75 + 0 + 0) / 12 = 0.625. A plain bootstrap leaves the single rows out of about a third of its
        // resamples, each time lifting the value to 0.68 or 0.75, so 0.625 fell near the interval's bottom.
        var rows = new List<TestMetrics.Scored>();
        for (int c = 0; c < 10; c++)
            for (int i = 0; i < 20; i++) rows.Add(new(c, i < 15 ? c : (c + 1) % 10, new float[12]));
        rows.Add(new(10, 0, new float[12]));
        rows.Add(new(11, 0, new float[12]));
        var (value, lower, upper) = TestMetrics.WithInterval("macro-accuracy", rows, 12, positive: 1, seed: 0);
        Assert.Equal(0.625, value, 12);
        // Resampled within each class, the single rows are always there: the value sits mid-interval.
        Assert.InRange(value - lower, 0.5 * (upper - value), 2 * (upper - value));
    }

    [SkippableFact]
    public void IntervalsOverClassesOfOneTestRowEachAreNotAPoint()
    {
        // PigCVP split in halves: 52 classes, one test row each, half of them right. Resampled within each class, every
        // resample drew the same rows, and evaluate printed "macro-accuracy 0.5000 (95% interval 0.5000 to 0.5000)" and a
        // log-loss interval of one point, as if 52 rows settled the figures exactly.
        var rows = new List<TestMetrics.Scored>();
        for (int c = 0; c < 52; c++)
        {
            var scores = new float[52];
            scores[c] = c % 2 == 0 ? 0.6f : 0.1f;
            scores[(c + 1) % 52] = 1 - scores[c];
            rows.Add(new(c, c % 2 == 0 ? c : (c + 1) % 52, scores));
        }
        foreach (string metric in new[] { "macro-accuracy", "log-loss" })
        {
            var (value, lower, upper) = TestMetrics.WithInterval(metric, rows, 52, positive: 1, seed: 0);
            Assert.Equal(TestMetrics.Compute(metric, rows, 52, positive: 1), value, 12);
            // About what Wilson's interval gives accuracy on 52 rows (0.37 to 0.63), and around the value.
            Assert.True(upper - lower > 0.1, $"{metric}: {lower} to {upper}");
            Assert.InRange(value - lower, 0.5 * (upper - value), 2 * (upper - value));
        }
        // Beside classes of several rows, the classes of one row still each weigh one class in macro-accuracy.
        var mixed = new List<TestMetrics.Scored>();
        for (int c = 0; c < 4; c++)
            for (int i = 0; i < 10; i++) mixed.Add(new(c, i < 8 ? c : (c + 1) % 4, new float[8]));
        for (int c = 4; c < 8; c++) mixed.Add(new(c, c % 2 == 0 ? c : 0, new float[8]));
        var (macro, low, high) = TestMetrics.WithInterval("macro-accuracy", mixed, 8, positive: 1, seed: 0);
        Assert.Equal((4 * 0.8 + 2) / 8, macro, 12);
        Assert.True(low < macro && macro < high, $"{low} to {high}");
    }

    [SkippableTheory]
    [InlineData("Macro-Accuracy", "macro-accuracy")]
    [InlineData("LOG_LOSS", "log-loss")]
    [InlineData(" auc ", "auc")]
    [InlineData("F1", "f1")]
    [InlineData("precision", null)]
    [InlineData("logloss", null)]
    public void MetricNamesIgnoreCaseAndUnderscores(string typed, string? canonical) =>
        Assert.Equal(canonical, TestMetrics.Canonical(typed));
    [SkippableFact]
    public void ALogLossAboveAUniformGuessIsNamed()
    {
        // Five of six rows right at 0.9, one wrong with nothing on its class: accuracy 5/6, log-loss above ln 2.
        TestMetrics.Scored[] rows = [.. Enumerable.Range(0, 5).Select(_ => Row(0, 0)), new(1, 0, [1f, 0f])];
        double logLoss = TestMetrics.Compute("log-loss", rows, 2, positive: 1);
        Assert.True(logLoss > Math.Log(2));
        string? note = TestMetrics.LogLossNote(rows, 2);
        Assert.NotNull(note);
        Assert.Contains("above 0.6931", note, StringComparison.Ordinal);
        // The same rows with the wrong one at 0.6 against 0.4: below ln 2, nothing to say.
        rows[5] = new(1, 0, [0.6f, 0.4f]);
        Assert.Null(TestMetrics.LogLossNote(rows, 2));
        // Three classes raise the bar to ln 3: 0.45 on each row's class is a log-loss of 0.80, between ln 2 and ln 3.
        TestMetrics.Scored[] hesitant = [new(0, 0, [0.45f, 0.3f, 0.25f]), new(1, 1, [0.3f, 0.45f, 0.25f]), new(2, 2, [0.3f, 0.25f, 0.45f])];
        Assert.Null(TestMetrics.LogLossNote(hesitant, 3));
        Assert.NotNull(TestMetrics.LogLossNote(hesitant, 2));

        // Rows of a class the model never saw (actual < 0) add 34.5 each whatever the model does: the note says so and
        // judges the model on the rest, which are well calibrated here.
        TestMetrics.Scored[] withUnseen = [.. Enumerable.Range(0, 5).Select(_ => Row(0, 0)), new(-2, 0, [0.9f, 0.1f])];
        Assert.True(TestMetrics.Compute("log-loss", withUnseen, 2, positive: 1) > 5);
        string unseen = TestMetrics.LogLossNote(withUnseen, 2)!;
        Assert.StartsWith("log-loss counts the 1 row(s) of classes the model never saw", unseen, StringComparison.Ordinal);
        Assert.Contains("on the 5 rows of the model's classes it is 0.1054.", unseen, StringComparison.Ordinal);
        Assert.DoesNotContain("confidently wrong", unseen, StringComparison.Ordinal);
    }
}
