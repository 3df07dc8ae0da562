using MlNetSsl.AutoML;
using Xunit;

namespace MlNetSsl.Tests.AutoML;

/// <summary>ASHA and Hyperband on scripted learning curves whose decisions can be checked by hand.</summary>
public sealed class SchedulerTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("mlnetssl-automl-sched-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [SkippableFact]
    public void RungsAreMinTimesReductionPowersUpToMax()
    {
        Assert.Equal(new[] { 2, 6, 18, 30 }, new AshaScheduler(2, 30, 3).Rungs);
        Assert.Equal(new[] { 1, 3, 9 }, new AshaScheduler(1, 9, 3).Rungs);
        Assert.Equal(new[] { 1, 2, 4, 8, 10 }, new AshaScheduler(1, 10, 2).Rungs);
        Assert.Equal(new[] { 5 }, new AshaScheduler(5, 5).Rungs);
        var asha = new AshaScheduler(1, 9, 3);
        Assert.Equal(new[] { 1, 1, 1, 2, 2, 3 }, new[] { 1, 2, 3, 6, 8, 9 }.Select(asha.PromotionQuota));
        Assert.Throws<ArgumentOutOfRangeException>(() => SslScheduler.Asha(0, 9));
        Assert.Throws<ArgumentOutOfRangeException>(() => SslScheduler.Asha(10, 9));
        Assert.Throws<ArgumentOutOfRangeException>(() => SslScheduler.Hyperband(1, 9, reduction: 1));
    }

    [SkippableFact]
    public void HyperbandBracketSizesMatchThePaperTable()
    {
        // Li et al. (2018), Table 1: R = 81, eta = 3.
        var hyperband = new HyperbandScheduler(1, 81, 3);
        Assert.Equal(new[] { 4, 3, 2, 1, 0 }, hyperband.Brackets.Select(b => b.Index));
        Assert.Equal(new[] { 81, 34, 15, 8, 5 }, hyperband.Brackets.Select(b => b.TrialCount));
        Assert.Equal(new[] { 1, 3, 9, 27, 81 }, hyperband.Brackets.Select(b => b.Rungs[0]));
        Assert.All(hyperband.Brackets, b => Assert.Equal(81, b.Rungs[^1]));

        // A maximum that is not a power of the reduction: the ladder ends at the maximum.
        var uneven = new HyperbandScheduler(2, 30, 3);
        Assert.Equal(new[] { 2, 6, 18, 30 }, uneven.Rungs);
        Assert.Equal(new[] { 27, 12, 6, 4 }, uneven.Brackets.Select(b => b.TrialCount)); // ceil(4/(s+1) * 3^s)
        Assert.Equal(new[] { 18, 30 }, uneven.Brackets[2].Rungs);
    }

    [SkippableFact]
    public async Task AshaPromotesTheTopThirdSoFarAndPrunesTheRest()
    {
        // Metric of trial i at rungs 1, 3, 9 (higher is better). Walk-through, quota = max(1, floor(n / 3)):
        //  t0 .50 alone -> up; .60 alone -> up; completes.   t1 .90 best of 2 -> up; .55 < .60 -> pruned at 3.
        //  t2 .30 rank 3 of 3 -> pruned.   t3 .80 rank 2 of 4 -> pruned.   t4 .95 best of 5 -> up; .65 best of 3 -> up.
        //  t5 .85 rank 3 of 6 (quota 2) -> pruned.   t6 .92 rank 2 of 7 -> up; .62 rank 2 of 4 (quota 1) -> pruned.
        //  t7 .10 -> pruned.   t8 .99 best of 9 -> up; .70 best of 5 -> up; completes.
        double[] rung1 = [0.50, 0.90, 0.30, 0.80, 0.95, 0.85, 0.92, 0.10, 0.99];
        var rung3 = new Dictionary<int, double> { [0] = 0.60, [1] = 0.55, [4] = 0.65, [6] = 0.62, [8] = 0.70 };
        var rung9 = new Dictionary<int, double> { [0] = 0.70, [4] = 0.80, [8] = 0.90 };
        var runner = new LearningCurveRunner((id, fidelity) => fidelity switch { 1 => rung1[id], 3 => rung3[id], _ => rung9[id] });
        var (space, tuner) = ScriptedTuner.ForIds(9);
        var progress = new SynchronousProgress<SslTrialReport>();

        SearchResult result = await new SearchExperiment()
            .SetSearchSpace(space).SetTuner(tuner).SetScheduler(SslScheduler.Asha(1, 9, 3))
            .SetTrialRunner(runner.RunAsync).SetMaxTrials(9).SetCheckpoint(_folder).SetProgress(progress)
            .RunAsync();

        Assert.Equal(
            new (int, int?, int?)[]
            {
                (0, null, 1), (0, 1, 3), (0, 3, 9), (1, null, 1), (1, 1, 3), (2, null, 1), (3, null, 1), (4, null, 1), (4, 1, 3),
                (4, 3, 9), (5, null, 1), (6, null, 1), (6, 1, 3), (7, null, 1), (8, null, 1), (8, 1, 3), (8, 3, 9),
            },
            runner.Segments.Select(s => (s.TrialId, s.PreviousFidelity, s.Fidelity)));
        // A continuation resumes from the epochs its own state folder recorded at the previous rung.
        Assert.All(runner.Segments, s => Assert.Equal(s.PreviousFidelity ?? 0, s.EpochsTrainedBefore));

        TrialRecord Trial(int id) => result.Trials.Single(t => t.TrialId == id);
        Assert.All(new[] { 0, 4, 8 }, id => Assert.Equal((TrialStatus.Completed, (int?)9), (Trial(id).Status, Trial(id).Fidelity)));
        Assert.All(new[] { 1, 6 }, id => Assert.Equal((TrialStatus.Pruned, (int?)3), (Trial(id).Status, Trial(id).Fidelity)));
        Assert.All(new[] { 2, 3, 5, 7 }, id => Assert.Equal((TrialStatus.Pruned, (int?)1), (Trial(id).Status, Trial(id).Fidelity)));
        Assert.Equal(new[] { 0.50, 0.60, 0.70 }, Trial(0).Rungs.Select(r => r.Metric));

        // Leaderboard: higher fidelity first, then metric.
        Assert.Equal(new[] { 8, 4, 0, 6, 1, 5, 3, 2, 7 }, result.Trials.Select(t => t.TrialId));
        Assert.Equal(8, result.BestTrial!.TrialId);
        Assert.Equal(9, result.MaxFidelity);
        Assert.Equal(SearchStopReason.MaxTrials, result.StopReason);

        // Progress: every segment starts with Running; 3 completions, 6 prunings; best-so-far never gets worse.
        Assert.Equal(17, progress.Reports.Count(r => r.Kind == TrialReportKind.Running));
        Assert.Equal(3, progress.Reports.Count(r => r.Kind == TrialReportKind.Completed));
        Assert.Equal(6, progress.Reports.Count(r => r.Kind == TrialReportKind.Pruned));
        Assert.Equal(new[] { 0, 4, 8 }, progress.Reports.Where(r => r.Kind == TrialReportKind.Completed).Select(r => r.Trial.TrialId));
        Assert.Equal(8, progress.Reports[^1].BestTrial!.TrialId);

        // Pruned trials' state is removed; completed trials keep theirs.
        Assert.True(Directory.Exists(Path.Combine(_folder, "trials", "trial-0008")));
        Assert.False(Directory.Exists(Path.Combine(_folder, "trials", "trial-0002")));
    }

    [SkippableFact]
    public async Task HyperbandRunsSuccessiveHalvingInEachBracketThenTheNext()
    {
        // q(i) = (7 i mod 17) / 17, the same at every fidelity. R = 9, eta = 3: brackets of 9 trials from fidelity 1,
        // 5 trials from 3, 3 trials at 9. Bracket 0 (ids 0-8): q ranks 7 > 2 > 4 > ..., so 7, 2, 4 go to 3 and 7 to 9.
        // Bracket 1 (ids 9-13): 12 is best, goes to 9. Bracket 2 (ids 14-16) completes at 9 directly.
        static double Q(int id) => 7 * id % 17 / 17.0;
        var runner = new LearningCurveRunner((id, _) => Q(id));
        var (space, tuner) = ScriptedTuner.ForIds(17);
        var progress = new SynchronousProgress<SslTrialReport>();

        SearchResult result = await new SearchExperiment()
            .SetSearchSpace(space).SetTuner(tuner).SetScheduler(SslScheduler.Hyperband(1, 9, 3))
            .SetTrialRunner(runner.RunAsync).SetMaxTrials(17).SetProgress(progress)
            .RunAsync();

        var expected = Enumerable.Range(0, 9).Select(i => (i, (int?)null, (int?)1))
            .Concat(new (int, int?, int?)[] { (7, 1, 3), (2, 1, 3), (4, 1, 3), (7, 3, 9) })
            .Concat(Enumerable.Range(9, 5).Select(i => (i, (int?)null, (int?)3)))
            .Append((12, 3, 9))
            .Concat(Enumerable.Range(14, 3).Select(i => (i, (int?)null, (int?)9)));
        Assert.Equal(expected, runner.Segments.Select(s => (s.TrialId, s.PreviousFidelity, s.Fidelity)));
        Assert.All(runner.Segments, s => Assert.Equal(s.PreviousFidelity ?? 0, s.EpochsTrainedBefore));

        TrialRecord Trial(int id) => result.Trials.Single(t => t.TrialId == id);
        Assert.Equal(new[] { 7, 12, 14, 15, 16 }, result.Trials.Where(t => t.Status == TrialStatus.Completed).Select(t => t.TrialId).Order());
        Assert.All(new[] { 2, 4, 9, 10, 11, 13 }, id => Assert.Equal((TrialStatus.Pruned, (int?)3), (Trial(id).Status, Trial(id).Fidelity)));
        Assert.All(new[] { 0, 1, 3, 5, 6, 8 }, id => Assert.Equal((TrialStatus.Pruned, (int?)1), (Trial(id).Status, Trial(id).Fidelity)));
        // Synchronous halving: the first rung's nine trials all report (and wait) before anyone is pruned.
        Assert.Equal(9, progress.Reports.TakeWhile(r => r.Kind != TrialReportKind.Pruned).Count(r => r.Kind == TrialReportKind.RungCompleted));
        Assert.Equal(SearchStopReason.MaxTrials, result.StopReason);
    }

    [SkippableFact]
    public async Task HyperbandDecidesARungThatCannotFillWithTheTrialsItHas()
    {
        static double Q(int id) => 7 * id % 17 / 17.0; // ids 0-3: 0, 7, 14, 4 (/17): trial 2 is best
        var runner = new LearningCurveRunner((id, _) => Q(id));
        var (space, tuner) = ScriptedTuner.ForIds(4);

        SearchResult result = await new SearchExperiment()
            .SetSearchSpace(space).SetTuner(tuner).SetScheduler(SslScheduler.Hyperband(1, 9, 3))
            .SetTrialRunner(runner.RunAsync).SetMaxTrials(4)
            .RunAsync();

        Assert.Equal(new (int, int?, int?)[] { (0, null, 1), (1, null, 1), (2, null, 1), (3, null, 1), (2, 1, 3), (2, 3, 9) },
            runner.Segments.Select(s => (s.TrialId, s.PreviousFidelity, s.Fidelity)));
        Assert.Equal(TrialStatus.Completed, result.BestTrial!.Status);
        Assert.Equal(2, result.BestTrial.TrialId);
        Assert.Equal(3, result.Trials.Count(t => t.Status == TrialStatus.Pruned));
    }
}
