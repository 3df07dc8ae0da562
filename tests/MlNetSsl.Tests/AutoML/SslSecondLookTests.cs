using Microsoft.ML;
using MlNetSsl.AutoML;
using MlNetSsl.Tests.MlNet;
using Xunit;

namespace MlNetSsl.Tests.AutoML;

/// <summary>The second look: the leading trials scored again on fold assignments the search did not use, before the
/// one-standard-error rule chooses.</summary>
public sealed class SslSecondLookTests
{
    private static readonly SearchSpace Space = new SearchSpace().WithNumeric("x", 0, 1);

    private static TrialRecord Trial(int id, double metric, int? fidelity = 9) => new(id, Space.Default.With("x", id / 10.0), TrialStatus.Completed,
        [new RungResult(fidelity, metric, TimeSpan.FromSeconds(1))], TimeSpan.FromSeconds(1), null);

    private static SslTrialMeasures Measure(int id, SslFeatureSource source, double metric, double error, int? fidelity = 9) =>
        new() { TrialId = id, Fidelity = fidelity, FeatureSource = source, Metric = metric, MetricStandardError = error };

    [SkippableFact]
    public void ThePairIsTheRulesChoiceAndTheRawTrialTheRulePrefersOnAsManyFreshAssignmentsAsFitTheAllowance()
    {
        // Leaderboard (maximized): SSL 0.80 +/- 0.02, raw + SSL 0.78, raw 0.746 (tuned), raw 0.74 (the portfolio's, untuned).
        TrialRecord best = Trial(0, 0.80), both = Trial(1, 0.78), tuned = Trial(2, 0.746), untuned = Trial(3, 0.74);
        SslTrialMeasures[] measures =
        [
            Measure(0, SslFeatureSource.SelfSupervised, 0.80, 0.02), Measure(1, SslFeatureSource.RawAndSelfSupervised, 0.78, 0.02),
            Measure(2, SslFeatureSource.RawFeatures, 0.746, 0.03), Measure(3, SslFeatureSource.RawFeatures, 0.74, 0.03),
        ];
        TrialRecord[] board = [best, both, tuned, untuned];
        // Seconds per fresh assignment: 2 for the SSL pipeline, 0.5 for a raw one; pretraining the SSL pipeline's encoder
        // again from another seed (a fresh draw) adds 4.
        double? Cost(TrialRecord t, int assignments, bool freshDraw) => (t.TrialId == 0 ? 2 : 0.5) * assignments + (freshDraw ? 4 : 0);
        SecondLookPair? Look(TrialRecord chosen, IReadOnlyList<TrialRecord> leaderboard, double allowance, IReadOnlySet<Parameters>? portfolio = null,
            IReadOnlyList<SslTrialMeasures>? with = null, Func<TrialRecord, int, bool, double?>? cost = null) =>
            SslSecondLook.Pair(chosen, leaderboard, with ?? measures, maximize: true, portfolio, cost ?? Cost, maxAssignments: 3, allowance, out _);

        Assert.Equal(new SecondLookPair(best, tuned, 3, 11.5, FreshDraw: true), Look(best, board, double.PositiveInfinity));
        // The raw trial is the one the rule itself prefers among raw ones: the portfolio's untuned settings within the error.
        var portfolio = new HashSet<Parameters> { SslSearchSpace.WithoutEpochs(untuned.Parameters) };
        Assert.Equal(untuned, Look(best, board, double.PositiveInfinity, portfolio)!.Raw);
        // A fresh draw on as many fresh assignments as fit the allowance (2.5 s each after the 4 s pretraining), down to one;
        // then the search's draw on as many as fit, down to one.
        Assert.Equal(3, Look(best, board, 11.5)!.Assignments);
        Assert.Equal(2, Look(best, board, 11.4)!.Assignments);
        Assert.Equal(new SecondLookPair(best, tuned, 1, 6.5, FreshDraw: true), Look(best, board, 6.5));
        Assert.Equal(new SecondLookPair(best, tuned, 2, 5.0), Look(best, board, 6.4));
        Assert.Equal(new SecondLookPair(best, tuned, 1, 2.5), Look(best, board, 2.5));
        // Without a time budget the look's time is unbounded, but a fresh draw must fit its own allowance (a tenth of the
        // search's time): past it, the search's draw on every assignment.
        Assert.Equal(new SecondLookPair(best, tuned, 1, 6.5, FreshDraw: true), SslSecondLook.Pair(best, board, measures, maximize: true, null, Cost,
            maxAssignments: 3, double.PositiveInfinity, out _, freshDrawAllowanceSeconds: 6.5));
        Assert.Equal(new SecondLookPair(best, tuned, 3, 7.5), SslSecondLook.Pair(best, board, measures, maximize: true, null, Cost,
            maxAssignments: 3, double.PositiveInfinity, out _, freshDrawAllowanceSeconds: 6.4));
        // An encoder whose pretraining time is not known gets the search's draw.
        Assert.Equal(new SecondLookPair(best, tuned, 3, 7.5),
            Look(best, board, double.PositiveInfinity, cost: (t, n, fresh) => fresh ? null : Cost(t, n, fresh)));
        // Not even one: no pair, and the explanation's sentence says why.
        Assert.Null(SslSecondLook.Pair(best, board, measures, maximize: true, null, Cost, maxAssignments: 3, allowanceSeconds: 2.4, out string? whyNot));
        Assert.Equal(" No second look: scoring trial 0 and raw-feature trial 2 again on one fold assignment would take about 2.5 s, more than the 2.4 s kept for it.",
            whyNot);
        Assert.Null(SslSecondLook.Pair(best, board, measures, maximize: true, null, Cost, maxAssignments: 3, allowanceSeconds: 0, out whyNot));
        Assert.Equal(" No second look: the search used its whole time budget.", whyNot);
        Assert.Null(Look(best, board, double.PositiveInfinity, cost: (t, n, _) => t.TrialId == 2 ? null : n));
        // No second look, and nothing to explain, for a raw choice, without a raw trial, or without a standard error.
        Assert.Null(SslSecondLook.Pair(tuned, board, measures, maximize: true, null, Cost, maxAssignments: 3, double.PositiveInfinity, out whyNot));
        Assert.Null(whyNot);
        Assert.Null(Look(best, [best, both], double.PositiveInfinity));
        SslTrialMeasures[] noError = [Measure(0, SslFeatureSource.SelfSupervised, 0.80, double.NaN), .. measures.Skip(1)];
        Assert.Null(Look(best, board, double.PositiveInfinity, with: noError));
    }

    [SkippableFact]
    public void ARawChoiceWithTunedSettingsIsLookedAtAgainBesideTheRawTrialTheRulePrefersAmongThePortfoliosOnes()
    {
        // As on HIGGS at 490 labels: raw LightGBM with settings the tuner found led at 0.6735 +/- 0.0216, more than one
        // error above the portfolio's raw trials, and tested 1.2 points below ML.NET's default LightGBM.
        TrialRecord tuned = Trial(26, 0.6735), ssl = Trial(4, 0.66), trees = Trial(1, 0.648), linear = Trial(0, 0.64);
        SslTrialMeasures[] measures =
        [
            Measure(26, SslFeatureSource.RawFeatures, 0.6735, 0.0216), Measure(4, SslFeatureSource.SelfSupervised, 0.66, 0.02),
            Measure(1, SslFeatureSource.RawFeatures, 0.648, 0.02), Measure(0, SslFeatureSource.RawFeatures, 0.64, 0.02),
        ];
        TrialRecord[] board = [tuned, ssl, trees, linear];
        var portfolio = new HashSet<Parameters> { SslSearchSpace.WithoutEpochs(trees.Parameters), SslSearchSpace.WithoutEpochs(linear.Parameters) };
        Assert.Same(tuned, SslExperiment.SelectWithinOneStandardError(board, measures, maximize: true, portfolio).Trial);
        double? Cost(TrialRecord t, int assignments, bool freshDraw) => 0.5 * assignments + (freshDraw ? 10 : 0);

        // Paired with the best-scoring untuned raw trial, never with the SSL one; no fresh draw, as neither has an encoder.
        Assert.Equal(new SecondLookPair(tuned, trees, 3, 3.0, TunedAgainstUntuned: true),
            SslSecondLook.Pair(tuned, board, measures, maximize: true, portfolio, Cost, maxAssignments: 3, double.PositiveInfinity, out _));
        // On tables the portfolio's order comes first: L-BFGS (0.64) is within the error of LightGBM's 0.648, and first.
        var tables = new SslRawPreference([SslSearchSpace.WithoutEpochs(linear.Parameters), SslSearchSpace.WithoutEpochs(trees.Parameters)], BeforeScores: true);
        Assert.Same(linear, SslSecondLook.Pair(tuned, board, measures, maximize: true, portfolio, Cost, maxAssignments: 3, double.PositiveInfinity, out _, tables)!.Raw);
        Assert.Same(trees, SslSecondLook.Pair(tuned, board, measures, maximize: true, portfolio, Cost, maxAssignments: 3, double.PositiveInfinity, out _,
            tables with { BeforeScores = false })!.Raw);
        // No look for a raw choice with the portfolio's settings, without a portfolio, or without an untuned raw trial.
        Assert.Null(SslSecondLook.Pair(trees, board, measures, maximize: true, portfolio, Cost, maxAssignments: 3, double.PositiveInfinity, out _));
        Assert.Null(SslSecondLook.Pair(tuned, board, measures, maximize: true, null, Cost, maxAssignments: 3, double.PositiveInfinity, out _));
        Assert.Null(SslSecondLook.Pair(tuned, [tuned, ssl], measures, maximize: true, portfolio, Cost, maxAssignments: 3, double.PositiveInfinity, out _));
        Assert.Null(SslSecondLook.Pair(tuned, board, measures, maximize: true, portfolio, Cost, maxAssignments: 3, allowanceSeconds: 0.9, out string? whyNot));
        Assert.Contains("trial 26 and untuned raw-feature trial 1 again on one fold assignment", whyNot, StringComparison.Ordinal);

        // On fresh folds the tuned lead shrinks inside the error: the portfolio's settings stand.
        var pair = new SecondLookPair(tuned, trees, 3, 3.0, TunedAgainstUntuned: true);
        (TrialRecord chosen, string why) = SslSecondLook.Decide(pair, new MetricEstimate(0.655, 0.04, 0.018, [0.63, 0.68], 0.655),
            new MetricEstimate(0.649, 0.04, 0.02, [0.62, 0.67], 0.649), measures, maximize: true);
        Assert.Same(trees, chosen);
        Assert.Contains("tuned trial 26 0.6735 -> 0.655 +/- 0.0216, untuned raw-feature trial 1 0.648 -> 0.649; the untuned raw-feature pipeline is " +
            "within one standard error there, so it is chosen, trial 1", why, StringComparison.Ordinal);
        // A tuned lead that holds on fresh folds stands.
        Assert.Same(tuned, SslSecondLook.Decide(pair, new MetricEstimate(0.68, 0.04, 0.018, [0.66, 0.70], 0.68),
            new MetricEstimate(0.64, 0.04, 0.02, [0.62, 0.66], 0.64), measures, maximize: true).Trial);
    }

    [SkippableFact]
    public void TheRawPipelineStandsWhenTheSecondLookPutsItWithinOneStandardError()
    {
        // As on the 61-feature one-hot proxy table: an SSL pipeline chosen at 0.801 +/- 0.020 on the search's folds, raw
        // L-BFGS at 0.746, outside one standard error.
        TrialRecord ssl = Trial(16, 0.801), raw = Trial(0, 0.746);
        SslTrialMeasures[] measures = [Measure(16, SslFeatureSource.SelfSupervised, 0.801, 0.020), Measure(0, SslFeatureSource.RawFeatures, 0.746, 0.035)];
        Assert.Equal(16, SslExperiment.SelectWithinOneStandardError([ssl, raw], measures, maximize: true).Trial.TrialId);

        // On fresh folds the lead shrinks inside the error: the raw pipeline stands, as the search recorded it.
        (TrialRecord chosen, string why) = SslSecondLook.Decide(new SecondLookPair(ssl, raw, 2, 1), new MetricEstimate(0.762, 0.05, 0.015, [0.7, 0.8], 0.762),
            new MetricEstimate(0.751, 0.07, 0.031, [0.7, 0.8], 0.751), measures, maximize: true);
        Assert.Same(raw, chosen);
        Assert.Equal(0.746, chosen.Metric);
        // The width is the larger of the two errors: the search's 0.020 here, not the fresh 0.015.
        Assert.Contains("Second look, on 2 fold assignments the search did not use: trial 16 0.801 -> 0.762 +/- 0.02, raw-feature trial 0 0.746 -> 0.751; " +
            "the raw-feature pipeline is within one standard error there, so it is chosen, trial 0", why, StringComparison.Ordinal);
        // 0.745 is within 0.02 of 0.762 only by the search's error: the fresh error alone (0.015) would keep the SSL pipeline.
        Assert.Same(raw, SslSecondLook.Decide(new SecondLookPair(ssl, raw, 2, 1), new MetricEstimate(0.762, 0.05, 0.015, [0.7, 0.8], 0.762),
            new MetricEstimate(0.745, 0.07, 0.031, [0.7, 0.8], 0.745), measures, maximize: true).Trial);

        // A lead that holds on fresh folds stands.
        (TrialRecord kept, string keptWhy) = SslSecondLook.Decide(new SecondLookPair(ssl, raw, 1, 1), new MetricEstimate(0.80, 0.05, 0.02, [0.75, 0.85], 0.80),
            new MetricEstimate(0.75, 0.07, 0.03, [0.7, 0.8], 0.75), measures, maximize: true);
        Assert.Same(ssl, kept);
        Assert.EndsWith("trial 16's lead holds.", keptWhy, StringComparison.Ordinal);
        Assert.StartsWith(" Second look, on 1 fold assignment the search did not use:", keptWhy, StringComparison.Ordinal);
        // With a fresh draw of the encoder the explanation says so.
        Assert.StartsWith(" Second look, on 1 fold assignment the search did not use and with trial 16's encoder pretrained again from another seed: " +
            "trial 16 0.801 -> 0.8 +/- 0.02", SslSecondLook.Decide(new SecondLookPair(ssl, raw, 1, 1, FreshDraw: true),
                new MetricEstimate(0.80, 0.05, 0.02, [0.75, 0.85], 0.80), new MetricEstimate(0.75, 0.07, 0.03, [0.7, 0.8], 0.75), measures, maximize: true).Explanation,
            StringComparison.Ordinal);

        // Minimized (log-loss): within one error above.
        Assert.Same(raw, SslSecondLook.Decide(new SecondLookPair(ssl, raw, 2, 1), new MetricEstimate(0.50, 0.05, 0.03, [0.45, 0.55], 0.8),
            new MetricEstimate(0.52, 0.05, 0.03, [0.5, 0.54], 0.8), measures, maximize: false).Trial);
        Assert.Same(ssl, SslSecondLook.Decide(new SecondLookPair(ssl, raw, 2, 1), new MetricEstimate(0.50, 0.05, 0.03, [0.45, 0.55], 0.8),
            new MetricEstimate(0.56, 0.05, 0.03, [0.5, 0.54], 0.8), measures, maximize: false).Trial);
    }

    [SkippableFact]
    public void ATunedRawTrialTheLookMovesToIsLookedAtOnceMoreBesideThePortfoliosUntunedOnes()
    {
        // An SSL pipeline leads at 0.80 +/- 0.02; the rule's raw choice is a raw trial with tuned settings (0.76, more than
        // an error above the portfolio's untuned raw trial at 0.70).
        TrialRecord ssl = Trial(4, 0.80), tuned = Trial(26, 0.76), untuned = Trial(1, 0.70);
        SslTrialMeasures[] measures =
        [
            Measure(4, SslFeatureSource.SelfSupervised, 0.80, 0.02), Measure(26, SslFeatureSource.RawFeatures, 0.76, 0.02),
            Measure(1, SslFeatureSource.RawFeatures, 0.70, 0.02),
        ];
        TrialRecord[] board = [ssl, tuned, untuned];
        var portfolio = new HashSet<Parameters> { SslSearchSpace.WithoutEpochs(untuned.Parameters) };
        var rule = SslExperiment.SelectWithinOneStandardError(board, measures, maximize: true, portfolio);
        Assert.Same(ssl, rule.Trial);
        // The SSL pipeline's pretraining time is not known, so its look uses the search's draw of its encoder.
        double? Cost(TrialRecord t, int assignments, bool freshDraw) => freshDraw ? null : 1.0 * assignments;
        var rescored = new List<int>();
        Func<TrialRecord, int, bool, MetricEstimate> Fresh(double sslScore, double tunedScore, double untunedScore, int sleepMs = 0) => (t, n, freshDraw) =>
        {
            Assert.False(freshDraw);
            rescored.Add(t.TrialId);
            Thread.Sleep(sleepMs);
            double v = t.TrialId switch { 4 => sslScore, 26 => tunedScore, _ => untunedScore };
            return new MetricEstimate(v, 0.04, 0.02, [v - 0.02, v + 0.02], v);
        };
        (TrialRecord Trial, string Explanation) Choose(Func<TrialRecord, int, bool, MetricEstimate> rescore, double allowance) =>
            SslSecondLook.Choose(rule, board, measures, maximize: true, portfolio, Cost, rescore, maxAssignments: 2, allowance, rawPreference: null, out _);

        // The SSL lead shrinks inside the error on fresh folds, so the tuned raw trial stands; then the untuned one is
        // within the error of it on fresh folds too, and stands.
        var (chosen, why) = Choose(Fresh(0.75, 0.745, 0.735), double.PositiveInfinity);
        Assert.Same(untuned, chosen);
        // The tuned trial's fresh score from the first look is reused, not computed again.
        Assert.Equal([4, 26, 1], rescored);
        Assert.Contains("so it is chosen, trial 26 (the search's folds had favoured trial 4). Then, as that trial's settings were tuned, on 2 fold assignments " +
            "the search did not use: tuned trial 26 0.76 -> 0.745 +/- 0.02, untuned raw-feature trial 1 0.7 -> 0.735; the untuned raw-feature pipeline is " +
            "within one standard error there, so it is chosen, trial 1", why, StringComparison.Ordinal);

        // The tuned trial's lead over the untuned one holds: the tuned one stays.
        rescored.Clear();
        Assert.Same(tuned, Choose(Fresh(0.75, 0.745, 0.70), double.PositiveInfinity).Trial);
        // The SSL lead holds: no further look.
        rescored.Clear();
        Assert.Same(ssl, Choose(Fresh(0.80, 0.72, 0.735), double.PositiveInfinity).Trial);
        Assert.Equal([4, 26], rescored);

        // The further look fits only in what the first left: 4 s kept, the first look's scoring slept 2 x 1.2 s.
        (TrialRecord late, string lateWhy) = Choose(Fresh(0.75, 0.745, 0.735, sleepMs: 1200), 4.0);
        Assert.Same(tuned, late);
        Assert.Matches(@" No further look: scoring trial 26 and untuned raw-feature trial 1 again on one fold assignment would take about 2 s, more than the [01](\.\d)? s kept for it\.$",
            lateWhy);
    }

    [SkippableFact]
    public void AFreshDrawStoppedAtItsDeadlineFallsBackToTheSearchsDrawWhenThatStillFits()
    {
        TrialRecord ssl = Trial(7, 0.80), raw = Trial(0, 0.70);
        SslTrialMeasures[] measures = [Measure(7, SslFeatureSource.SelfSupervised, 0.80, 0.02), Measure(0, SslFeatureSource.RawFeatures, 0.70, 0.02)];
        TrialRecord[] board = [ssl, raw];
        var rule = SslExperiment.SelectWithinOneStandardError(board, measures, maximize: true);
        Assert.Same(ssl, rule.Trial);
        // A fresh draw is priced at 3 s, the search's draw at 1 s, the raw trial at 0.5 s per assignment.
        double? Cost(TrialRecord t, int assignments, bool freshDraw) => t.TrialId == 0 ? 0.5 * assignments : freshDraw ? 3.0 : 1.0 * assignments;
        var calls = new List<(int Trial, int Assignments, bool FreshDraw)>();
        MetricEstimate Rescore(TrialRecord t, int assignments, bool freshDraw)
        {
            calls.Add((t.TrialId, assignments, freshDraw));
            if (freshDraw) throw new TimeoutException("pretraining trial 7's encoder again from another seed took more than 6 s, twice its priced time");
            double v = t.TrialId == 7 ? 0.72 : 0.71;
            return new MetricEstimate(v, 0.04, 0.02, [v - 0.02, v + 0.02], v);
        }

        (TrialRecord chosen, string why) = SslSecondLook.Choose(rule, board, measures, maximize: true, portfolio: null, Cost, Rescore, maxAssignments: 2,
            allowanceSeconds: 10, rawPreference: null, out string? failure);
        // The look went on with the search's draw on both assignments, which moved the choice to the raw pipeline.
        Assert.Null(failure);
        Assert.Equal([(7, 2, true), (7, 2, false), (0, 2, false)], calls);
        Assert.Same(raw, chosen);
        Assert.Contains(" The second look's fresh draw was stopped (pretraining trial 7's encoder again from another seed took more than 6 s, twice its priced time), " +
            "so it looks with the search's draw. Second look, on 2 fold assignments the search did not use: trial 7 0.8 -> 0.72", why, StringComparison.Ordinal);

        // When the search's draw no longer fits what the stopped draw left, the rule's choice stands and the explanation says why:
        // 4 s kept, the fresh draw (3.5 s with the raw trial) stopped after 3 s, the search's draw needs 1.5 s.
        calls.Clear();
        MetricEstimate SlowRescore(TrialRecord t, int assignments, bool freshDraw)
        {
            if (freshDraw) Thread.Sleep(3000);
            return Rescore(t, assignments, freshDraw);
        }
        (chosen, why) = SslSecondLook.Choose(rule, board, measures, maximize: true, portfolio: null, Cost, SlowRescore, maxAssignments: 1,
            allowanceSeconds: 4, rawPreference: null, out failure);
        Assert.Null(failure);
        Assert.Same(ssl, chosen);
        Assert.Equal([(7, 1, true)], calls);
        Assert.Contains("so it looks with the search's draw. No second look: scoring trial 7 and raw-feature trial 0 again on one fold assignment would take about 1.5 s",
            why, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void AFreshDrawIsPricedAtTheWholePretrainingAlsoForARungThatReusedEpochs()
    {
        // A rung that continued from its previous rung, or a trial that loaded its key's snapshot outright, spent little on
        // pretraining itself: a fresh draw trains every epoch again, so it is priced with the reused epochs' recorded seconds.
        var ml = new MLContext(1);
        string root = Directory.CreateTempSubdirectory("mlnetssl-fresh-draw-price-").FullName;
        try
        {
            var runner = SslExperimentData.HiggsRunner(ml, root);
            SslSearchSpace space = SslSearchSpace.For(SslInputKind.Tabular);
            Parameters probe = SslExperimentData.Configuration(space, ("Pretraining.Epochs", 8), ("Downstream.Trainer", "LinearProbe"));
            Parameters scratch = SslExperimentData.Configuration(space, ("Features", "SupervisedFromScratch"));
            TrialRecord Record(int id, Parameters parameters, int? fidelity) => new(id, parameters, TrialStatus.Completed,
                [new RungResult(fidelity, 0.8, TimeSpan.FromSeconds(1))], TimeSpan.FromSeconds(1), null);
            SslTrialMeasures Measures(int id, int? fidelity, SslFeatureSource source, int trained, int reused, double seconds, double saved) => new()
            {
                TrialId = id, Fidelity = fidelity, FeatureSource = source, Metric = 0.8, MetricStandardError = 0.02,
                PretrainingEpochsTrained = trained, PretrainingEpochsReused = reused, PretrainingSeconds = seconds,
                PretrainingSecondsSaved = saved, EvaluationSeconds = 2,
            };
            TrialRecord rung = Record(0, probe, 8), outright = Record(1, probe, null), unknown = Record(2, probe, null), network = Record(3, scratch, null);
            SslTrialMeasures[] measures =
            [
                // The rung at 8 epochs trained 4 (5 s) after the 4 of its rung at 4 (4 s recorded); the lower rung's measures
                // are not the ones priced.
                Measures(0, 4, SslFeatureSource.SelfSupervised, 4, 0, 4.5, 0), Measures(0, 8, SslFeatureSource.SelfSupervised, 4, 4, 5, 4),
                Measures(1, null, SslFeatureSource.SelfSupervised, 0, 8, 0.5, 9),
                Measures(2, null, SslFeatureSource.SelfSupervised, 0, 0, 0, 0),
                Measures(3, null, SslFeatureSource.SupervisedFromScratch, 0, 0, 0, 0),
            ];
            double Margin(double seconds) => SslTrialRunner.LengtheningCostMargin * seconds;

            Assert.Equal(Margin(2 * 3 + 5 + 4), runner.RescoreSeconds(rung, 3, measures, freshDraw: true)!.Value, 9);
            Assert.Equal(Margin(2 * 3 + 5.0 / 4), runner.RescoreSeconds(rung, 3, measures)!.Value, 9);
            Assert.Equal(Margin(2 + 0.5 + 9), runner.RescoreSeconds(outright, 1, measures, freshDraw: true)!.Value, 9);
            Assert.Equal(Margin(2 + 0.5), runner.RescoreSeconds(outright, 1, measures)!.Value, 9);
            // No pretraining time recorded: a fresh draw cannot be priced, the cached encoder still is.
            Assert.Null(runner.RescoreSeconds(unknown, 1, measures, freshDraw: true));
            Assert.Equal(Margin(2), runner.RescoreSeconds(unknown, 1, measures)!.Value, 9);
            // Other initial weights for a network from scratch cost nothing more.
            Assert.Equal(runner.RescoreSeconds(network, 1, measures), runner.RescoreSeconds(network, 1, measures, freshDraw: true));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [SkippableFact]
    public async Task ARescoreOnTheSearchsOwnFoldsRepeatsTheTrialsMetricAndOtherFoldsScoreAgain()
    {
        // Real HIGGS rows, one in three labeled: a pretrained probe and raw L-BFGS run as trials, then scored again.
        var ml = new MLContext(1);
        HiggsRow[] rows = SslExperimentData.HiggsWithHiddenLabels(240, labeledEvery: 3);
        SslDataset dataset = SslDataset.Read(ml, ml.Data.LoadFromEnumerable(rows), "Features", "Label", SslInputShape.Tabular(28));
        var (foldOfRow, foldCount) = StratifiedFolds.Assign(dataset.LabeledKeys, 5, seed: 1);
        string root = Directory.CreateTempSubdirectory("mlnetssl-second-look-").FullName;
        try
        {
            var settings = new SslTrialRunner.Settings(dataset, SslObjective.CrossValidatedAccuracy(5), foldOfRow, foldCount, PretrainingSeed: 2, root,
                RecordLabelFreeMeasures: false);
            var runner = new SslTrialRunner(settings);
            SslSearchSpace space = SslSearchSpace.For(SslInputKind.Tabular);
            Parameters probe = SslExperimentData.Configuration(space, ("Pretraining.Epochs", 2), ("Pretraining.EmbeddingSize", 64));
            Parameters rawLbfgs = SslExperimentData.Configuration(space, ("Features", "RawFeatures"));
            var scores = new List<(TrialRecord Trial, double Metric)>();
            foreach ((int id, Parameters parameters) in new[] { (0, probe), (1, rawLbfgs) })
            {
                string state = Directory.CreateDirectory(Path.Combine(root, $"state-{id}")).FullName;
                double metric = await runner.RunAsync(new TrialRequest(id, parameters, null, null, null, state, root, 1), CancellationToken.None);
                scores.Add((new TrialRecord(id, parameters, TrialStatus.Completed, [new RungResult(null, metric, TimeSpan.FromSeconds(1))],
                    TimeSpan.FromSeconds(1), null), metric));
            }
            string[] snapshots = Directory.GetDirectories(root, "epoch-*", SearchOption.AllDirectories);
            Assert.Single(snapshots);

            var fresh = SslSecondLook.Assignments(dataset.LabeledKeys, 5, seed: 0, repetitions: 1);
            Assert.Equal(2, fresh.Count);
            Assert.NotEqual(foldOfRow, fresh[0].FoldOfRow);
            Assert.NotEqual(fresh[0].FoldOfRow, fresh[1].FoldOfRow);
            foreach ((TrialRecord trial, double metric) in scores)
            {
                // The search's own folds give the trial's metric back: the same encoder (from the cache) and trainer.
                Assert.Equal(metric, runner.Rescore(trial, settings.Repetitions, maxFidelity: null, CancellationToken.None).Value, 12);
                MetricEstimate again = runner.Rescore(trial, fresh, maxFidelity: null, CancellationToken.None);
                Assert.InRange(again.Value, 0.3, 1.0);
                Assert.Equal(2 * 5, again.FoldValues.Length);
                Assert.True(runner.RescoreSeconds(trial, fresh.Count) > 0);
            }
            // A fresh draw pretrains the probe's encoder again from another seed (outside the cache), so the same folds score
            // otherwise, the same on every call; it is priced with the whole pretraining. A raw trial has nothing to draw.
            TrialRecord probeTrial = scores[0].Trial, rawTrial = scores[1].Trial;
            MetricEstimate drawn = runner.Rescore(probeTrial, settings.Repetitions, maxFidelity: null, CancellationToken.None, freshDraw: true);
            Assert.NotEqual(runner.Rescore(probeTrial, settings.Repetitions, maxFidelity: null, CancellationToken.None).FoldValues, drawn.FoldValues);
            Assert.Equal(drawn.FoldValues, runner.Rescore(probeTrial, settings.Repetitions, maxFidelity: null, CancellationToken.None, freshDraw: true).FoldValues);
            Assert.True(runner.RescoreSeconds(probeTrial, 1, freshDraw: true) > runner.RescoreSeconds(probeTrial, 1));
            // A fresh pretraining past its deadline stops, so the look fails (the rule's choice stands) rather than run long.
            var late = Assert.Throws<TimeoutException>(() => runner.Rescore(probeTrial, settings.Repetitions, maxFidelity: null, CancellationToken.None,
                freshDraw: true, freshDrawDeadline: TimeSpan.Zero));
            Assert.StartsWith("pretraining trial 0's encoder again from another seed took more than 0 s", late.Message, StringComparison.Ordinal);
            Assert.Equal(runner.RescoreSeconds(rawTrial, 1), runner.RescoreSeconds(rawTrial, 1, freshDraw: true));
            // Nothing was pretrained again.
            Assert.Equal(snapshots, Directory.GetDirectories(root, "epoch-*", SearchOption.AllDirectories));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
