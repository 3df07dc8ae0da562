using System.Globalization;

namespace MlNetSsl.AutoML;

/// <summary>
/// The second look: when the one-standard-error rule chooses a pipeline with an encoder, that pipeline and the raw-feature
/// pipeline the rule would choose among raw ones are scored again on fold assignments the search never used, and the raw
/// one stands if it is within one standard error there. Every trial of the search was scored on the same folds, so the
/// best of many SSL trials is partly the one those folds happened to favour (the winner's curse); on fresh folds that
/// part of its lead is gone. On few labels the luck is also in the encoder: every trial of a configuration shares one
/// pretraining seed, and of many encoders one can fit the labeled rows by chance (horse-colic, 21 labels: raw + SCARF ->
/// LightGBM scored 92.4% by cross-validation and 93.3% on fresh folds with the same encoder, 62.2% on the test rows; its
/// 3- to 10-epoch versions, 93.3% there, scored 66.7-75.2 and 80.0-83.8% by cross-validation from two other seeds), so where its time fits the chosen pipeline is scored with its
/// encoder pretrained again from another seed (a fresh draw). The same holds for a raw-feature pipeline with settings the tuner found, the best of many
/// proposals: when the rule chooses one, it is scored again beside the raw pipeline the rule prefers among those with the
/// portfolio's untuned settings. The look only ever moves the choice to the simpler pipeline: letting the fresh scores
/// promote another trial would pick the luckiest of a second noisy draw. Cheap: raw trials take seconds, an encoder is
/// pretrained again only where that fits the look's time, and otherwise comes from the pretraining cache.
/// </summary>
internal static class SslSecondLook
{
    /// <summary>The share of the time budget a second look may use (and the search keeps for it).</summary>
    internal const double BudgetShare = 0.1;

    /// <summary>The fold assignments a second look scores on: as many as the cross-validation's repetitions, at least two
    /// and at most five, drawn with seeds no repetition of the search used.</summary>
    internal static IReadOnlyList<(int[] FoldOfRow, int FoldCount)> Assignments(IReadOnlyList<uint> labeledKeys, int folds, int seed, int repetitions) =>
        Enumerable.Range(1, Math.Clamp(repetitions, 2, 5))
            .Select(r => StratifiedFolds.Assign(labeledKeys, folds, unchecked(seed + 104_729 * r)))
            .ToArray();

    /// <summary>
    /// The two pipelines a second look compares: <paramref name="chosen"/> (the rule's choice on the search's scores) and
    /// the raw-feature trial the rule chooses among the raw ones (with <paramref name="rawPreference"/> when given; for a
    /// chosen raw trial with tuned settings, among the raw ones with the settings of <paramref name="portfolio"/>), with the
    /// most fold assignments, up to
    /// <paramref name="maxAssignments"/>, that fit both rescorings in <paramref name="allowanceSeconds"/> by
    /// <paramref name="cost"/> (seconds for a trial on that many assignments, with a fresh draw of its encoder or network
    /// or not; null where not known): for a chosen pipeline with an encoder or a network, first with a fresh draw, at any
    /// number of assignments, then with the search's draw; a fresh draw must also fit <paramref name="freshDrawAllowanceSeconds"/>
    /// when given (a search without a time budget: a tenth of the search's own time, not an image pretraining after any
    /// search). Null when the choice is on raw features
    /// with the portfolio's settings (or without a portfolio), has an encoder where raw features are not the simplest
    /// (<see cref="SslRawPreference.RawFirst"/>: images), has no standard error, no such raw trial has a metric or a
    /// cost, or not even one assignment fits; in that last case <paramref name="whyNot"/> says so, for the selection's
    /// explanation.
    /// </summary>
    internal static SecondLookPair? Pair(TrialRecord chosen, IReadOnlyList<TrialRecord> leaderboard, IReadOnlyList<SslTrialMeasures> measures,
        bool maximize, IReadOnlySet<Parameters>? portfolio, Func<TrialRecord, int, bool, double?> cost, int maxAssignments, double allowanceSeconds,
        out string? whyNot, SslRawPreference? rawPreference = null, double freshDrawAllowanceSeconds = double.PositiveInfinity)
    {
        whyNot = null;
        SslTrialMeasures? chosenMeasures = SslExperiment.MeasuresOf(measures, chosen);
        if (chosenMeasures is null || chosenMeasures.MetricStandardError is not double se || !(se >= 0) || chosen.Metric is null) return null;
        bool tunedRaw = chosenMeasures.FeatureSource == SslFeatureSource.RawFeatures;
        if (tunedRaw && (portfolio is null || SslExperiment.HasPortfolioSettings(chosen, portfolio))) return null;
        // Where raw features are not the simplest (images), a raw pipeline inside the error does not take the choice.
        if (!tunedRaw && rawPreference?.RawFirst == false) return null;
        TrialRecord[] raw = leaderboard.Where(t => t.Metric is not null && t.TrialId != chosen.TrialId
            && SslExperiment.MeasuresOf(measures, t)?.FeatureSource == SslFeatureSource.RawFeatures
            && (!tunedRaw || SslExperiment.HasPortfolioSettings(t, portfolio))).ToArray();
        if (raw.Length == 0) return null;
        TrialRecord rawChoice = SslExperiment.SelectWithinOneStandardError(raw, measures, maximize, portfolio, rawPreference).Trial;
        double? seconds = null;
        // A fresh draw on one assignment before the search's draw on five: on few labels the encoder's luck was larger than
        // the folds'. Fewer fresh assignments before none: on short budgets (90 s on a busy host) two did not fit where one
        // did, and one assignment still scores both pipelines on folds the search's choice was not selected on.
        foreach (bool freshDraw in tunedRaw ? [false] : new[] { true, false })
        {
            for (int assignments = Math.Max(1, maxAssignments); assignments >= 1; assignments--)
            {
                if (cost(rawChoice, assignments, false) is not double b) return null;
                if (cost(chosen, assignments, freshDraw) is not double a)
                {
                    if (freshDraw) break;
                    return null;
                }
                if (!freshDraw) seconds = a + b;
                if (a + b <= (freshDraw ? Math.Min(allowanceSeconds, freshDrawAllowanceSeconds) : allowanceSeconds))
                    return new SecondLookPair(chosen, rawChoice, assignments, a + b, tunedRaw, freshDraw);
            }
        }
        whyNot = allowanceSeconds <= 0
            ? " No second look: the search used its whole time budget."
            : string.Create(CultureInfo.InvariantCulture,
                $" No second look: scoring trial {chosen.TrialId} and {(tunedRaw ? "untuned " : "")}raw-feature trial {rawChoice.TrialId} again on one fold assignment would take about " +
                $"{seconds:0.#} s, more than the {allowanceSeconds:0.#} s kept for it.");
        return null;
    }

    /// <summary>
    /// The rule's choice <paramref name="rule"/> after its second look: the pair (<see cref="Pair"/>) is scored with
    /// <paramref name="rescore"/> (a trial, the assignments, whether with a fresh draw) and decided (<see cref="Decide"/>). When that moves the choice to a raw-feature trial
    /// with tuned settings, that trial is the best of many proposals in turn, so it is looked at once more beside the
    /// portfolio's untuned raw trials, in what is left of <paramref name="allowanceSeconds"/> (the seconds the scoring
    /// took are subtracted; from <paramref name="freshDrawAllowanceSeconds"/> too, which bounds a fresh draw, <see cref="Pair"/>).
    /// A fresh draw that stops with a <see cref="TimeoutException"/> is not tried again: the look goes on with the search's
    /// draw if that fits what is left. A look that fails otherwise leaves the choice it had; <paramref name="failure"/> says
    /// why, for the result's notes.
    /// </summary>
    internal static (TrialRecord Trial, string Explanation) Choose((TrialRecord Trial, string Explanation) rule, IReadOnlyList<TrialRecord> leaderboard,
        IReadOnlyList<SslTrialMeasures> measures, bool maximize, IReadOnlySet<Parameters>? portfolio, Func<TrialRecord, int, bool, double?> cost,
        Func<TrialRecord, int, bool, MetricEstimate> rescore, int maxAssignments, double allowanceSeconds, SslRawPreference? rawPreference,
        out string? failure, CancellationToken cancellationToken = default, double freshDrawAllowanceSeconds = double.PositiveInfinity)
    {
        failure = null;
        (TrialRecord Trial, string Explanation) current = rule;
        // A trial scored on the same fresh assignments scores the same (the rescoring is seeded): the further look reuses it.
        var scores = new Dictionary<(int TrialId, int Assignments, bool FreshDraw), MetricEstimate>();
        MetricEstimate Score(TrialRecord trial, int assignments, bool freshDraw) =>
            scores.TryGetValue((trial.TrialId, assignments, freshDraw), out MetricEstimate? known) ? known
            : scores[(trial.TrialId, assignments, freshDraw)] = rescore(trial, assignments, freshDraw);
        bool freshDrawStopped = false;
        for (int look = 0; look < 2; look++)
        {
            double? Cost(TrialRecord trial, int assignments, bool freshDraw) =>
                freshDraw && freshDrawStopped ? null
                : scores.ContainsKey((trial.TrialId, assignments, freshDraw)) ? 0 : cost(trial, assignments, freshDraw);
            if (Pair(current.Trial, leaderboard, measures, maximize, portfolio, Cost, maxAssignments, allowanceSeconds, out string? whyNot, rawPreference,
                    freshDrawAllowanceSeconds) is not { } pair)
                return (current.Trial, current.Explanation + (look == 0 ? whyNot : whyNot?.Replace(" No second look:", " No further look:", StringComparison.Ordinal)));
            MetricEstimate chosenScore, rawScore;
            var clock = System.Diagnostics.Stopwatch.StartNew();
            try
            {
                chosenScore = Score(pair.Chosen, pair.Assignments, pair.FreshDraw);
                rawScore = Score(pair.Raw, pair.Assignments, false);
            }
            catch (TimeoutException e) when (pair.FreshDraw && !freshDrawStopped)
            {
                // A fresh draw stopped at its deadline (a busier host than its trial ran on): the look falls back to the
                // search's encoder, as when a fresh draw does not fit, if that still fits what is left of the time kept.
                freshDrawStopped = true;
                allowanceSeconds = Math.Max(allowanceSeconds - clock.Elapsed.TotalSeconds, 1e-3);
                current = (current.Trial, current.Explanation + $" The second look's fresh draw was stopped ({e.Message}), so it looks with the search's draw.");
                look--;
                continue;
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                failure = (look == 0
                    ? "The second look (the chosen pipeline and the raw-feature one the rule prefers, scored again on other folds) failed, so the one-standard-error rule's"
                    : "The further look (the tuned raw-feature pipeline and the untuned one the rule prefers, scored again on other folds) failed, so the second look's")
                    + $" choice stands: {e.GetType().Name}: {e.Message}";
                return current;
            }
            // What is left of the time kept, never zero: zero reads as a search that used its whole budget.
            allowanceSeconds = Math.Max(allowanceSeconds - clock.Elapsed.TotalSeconds, 1e-3);
            freshDrawAllowanceSeconds = Math.Max(freshDrawAllowanceSeconds - clock.Elapsed.TotalSeconds, 1e-3);
            (TrialRecord trial, string text) = Decide(pair, chosenScore, rawScore, measures, maximize, followUp: look > 0);
            current = (trial, current.Explanation + text);
            if (ReferenceEquals(trial, pair.Chosen) || pair.TunedAgainstUntuned) return current;
        }
        return current;
    }

    /// <summary>
    /// The decision on the second look's scores: the raw pipeline when its score is within one standard error of the
    /// chosen one's (the larger of that score's error and the error the search measured, so the look is never stricter
    /// than the rule was), else the chosen one; and the sentence that explains it (<paramref name="followUp"/>: for a look
    /// that follows one which moved the choice to a tuned raw-feature trial).
    /// </summary>
    internal static (TrialRecord Trial, string Explanation) Decide(SecondLookPair pair, MetricEstimate chosenScore,
        MetricEstimate rawScore, IReadOnlyList<SslTrialMeasures> measures, bool maximize, bool followUp = false)
    {
        double searchError = SslExperiment.MeasuresOf(measures, pair.Chosen)?.MetricStandardError ?? 0;
        double se = Math.Max(searchError, double.IsFinite(chosenScore.StandardError) ? chosenScore.StandardError : 0);
        bool rawStands = maximize ? rawScore.Value >= chosenScore.Value - se : rawScore.Value <= chosenScore.Value + se;
        string rawName = pair.TunedAgainstUntuned ? "untuned raw-feature" : "raw-feature";
        string figures = string.Create(CultureInfo.InvariantCulture,
            $" {(followUp ? "Then, as that trial's settings were tuned," : "Second look,")} on {pair.Assignments} fold assignment{(pair.Assignments == 1 ? "" : "s")} the search did not use" +
            $"{(pair.FreshDraw ? FreshDrawText(pair.Chosen, measures) : "")}: {(pair.TunedAgainstUntuned ? "tuned " : "")}trial {pair.Chosen.TrialId} {pair.Chosen.Metric:0.####} -> " +
            $"{chosenScore.Value:0.####} +/- {se:0.####}, {rawName} trial {pair.Raw.TrialId} {pair.Raw.Metric:0.####} -> {rawScore.Value:0.####}; ");
        return rawStands
            ? (pair.Raw, figures + string.Create(CultureInfo.InvariantCulture,
                $"the {rawName} pipeline is within one standard error there, so it is chosen, trial {pair.Raw.TrialId} (the search's folds had favoured trial {pair.Chosen.TrialId})."))
            : (pair.Chosen, figures + string.Create(CultureInfo.InvariantCulture, $"trial {pair.Chosen.TrialId}'s lead holds."));
    }

    private static string FreshDrawText(TrialRecord chosen, IReadOnlyList<SslTrialMeasures> measures) =>
        SslExperiment.MeasuresOf(measures, chosen)?.FeatureSource == SslFeatureSource.SupervisedFromScratch
            ? $" and with trial {chosen.TrialId}'s network started from other random weights"
            : $" and with trial {chosen.TrialId}'s encoder pretrained again from another seed";
}

/// <summary>What a second look compares: the rule's choice, the raw-feature trial, the fresh fold assignments both are
/// scored on, the seconds that is expected to take, whether the choice is itself a raw-feature trial with tuned
/// settings (then <paramref name="Raw"/> has the portfolio's), and whether the choice is scored with a fresh draw of its
/// encoder or network (<see cref="SslTrialRunner.Rescore"/>).</summary>
internal sealed record SecondLookPair(TrialRecord Chosen, TrialRecord Raw, int Assignments, double Seconds, bool TunedAgainstUntuned = false,
    bool FreshDraw = false);
