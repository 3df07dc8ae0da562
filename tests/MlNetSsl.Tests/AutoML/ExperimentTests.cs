using System.Diagnostics;
using System.Text.Json;
using Microsoft.ML;
using MlNetSsl.AutoML;
using Xunit;

namespace MlNetSsl.Tests.AutoML;

/// <summary>The experiment runner: time budget, cancellation, failures, checkpoints and resume (the memory limit: <see cref="ExperimentMemoryLimitTests"/>).</summary>
public sealed class ExperimentTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("mlnetssl-automl-exp-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static SearchExperiment IdExperiment(int trials, Func<int, CancellationToken, Task<double>> metricOfId)
    {
        var (space, tuner) = ScriptedTuner.ForIds(trials);
        return new SearchExperiment().SetSearchSpace(space).SetTuner(tuner).SetMaxTrials(trials)
            .SetTrialRunner((request, token) => metricOfId(request.Parameters.GetInt32("id"), token));
    }

    /// <summary>Ten trials, each taking the milliseconds given for its id by its own stopwatch (not a single Task.Delay,
    /// which may end a tick early), within a time budget.</summary>
    private static SearchExperiment TimedExperiment(Func<int, int> millisecondsOfId, double budgetSeconds) =>
        IdExperiment(10, async (id, token) =>
            {
                var own = Stopwatch.StartNew();
                TimeSpan takes = TimeSpan.FromMilliseconds(millisecondsOfId(id));
                while (own.Elapsed < takes) await Task.Delay(TimeSpan.FromMilliseconds(5), token);
                return 0.5;
            })
            .SetTrainingTime(TimeSpan.FromSeconds(budgetSeconds));

    // The engine's first-call compilation can take longer than a 1 s budget on a loaded machine; tests that need the first
    // trial to finish well inside their budget run a search once before.
    private static Task WarmUpAsync() => IdExperiment(1, (_, _) => Task.FromResult(0.5)).SetTrainingTime(TimeSpan.FromSeconds(10)).RunAsync();

    [SkippableFact]
    public async Task TimeBudgetCancelsARunningTrialOnceATrialHasFinished()
    {
        await WarmUpAsync();
        // Trial 1 would wait a minute; only the budget's cancellation can end it. No wall-clock window is asserted
        // (a loaded machine only makes things later): the token the trial saw and the leaderboard say what happened.
        bool trialOneSawCancellation = false;
        SearchResult result = await IdExperiment(10, async (id, token) =>
            {
                if (id > 0)
                {
                    try
                    {
                        await Task.Delay(TimeSpan.FromSeconds(60), token);
                    }
                    catch (OperationCanceledException)
                    {
                        trialOneSawCancellation = true;
                        throw;
                    }
                }
                return 0.5;
            })
            .SetTrainingTime(TimeSpan.FromSeconds(1))
            .RunAsync();

        Assert.True(trialOneSawCancellation, "the running trial's token was never cancelled");
        Assert.Equal(SearchStopReason.TimeBudget, result.StopReason);
        Assert.Equal(new[] { (0, TrialStatus.Completed), (1, TrialStatus.Cancelled) }, result.Trials.Select(t => (t.TrialId, t.Status)));
        // It says what stopped it, as a failed trial says why it failed; the completed one has no message.
        Assert.Matches(@"^Stopped \d+(\.\d)? s into its run by the end of the time budget; it has no metric\.$", result.Trials[1].ErrorMessage);
        Assert.Null(result.Trials[0].ErrorMessage);
        Assert.Equal(0, result.BestTrial!.TrialId);
        // The cancelled trial's time counts in its duration (it read 0 s, hiding where the budget went).
        Assert.True(result.Trials.Single(t => t.TrialId == 1).Duration > TimeSpan.Zero, "the stopped trial's duration is zero");
        // Stopped by the budget, not earlier: the cancellation timer is set for what is left of the 1 s (100 ms of
        // slack for timer granularity), and 8 of the 10 trials never started.
        Assert.True(result.Elapsed >= TimeSpan.FromMilliseconds(900), $"elapsed {result.Elapsed.TotalMilliseconds:0} ms");
    }

    [SkippableFact]
    public async Task NoTrialStartsWhenWhatIsLeftOfTheBudgetIsShorterThanAnyTrialSoFar()
    {
        // Every trial takes at least 600 ms by its own stopwatch, so after the first less than 600 ms of the 1.2 s budget
        // is left (the experiment's clock started before the trial's). Without the rule a second trial would start there
        // (with up to 550 ms of slack for a loaded machine) and be cancelled by the budget; the experiment stops instead.
        // A warm-up search first, so the engine's first-call compilation does not stretch the trial past the budget.
        await WarmUpAsync();
        SearchResult result = await IdExperiment(10, async (id, token) =>
            {
                var own = Stopwatch.StartNew();
                while (own.Elapsed < TimeSpan.FromMilliseconds(600)) await Task.Delay(TimeSpan.FromMilliseconds(20), token);
                return 0.5;
            })
            .SetTrainingTime(TimeSpan.FromMilliseconds(1200))
            .RunAsync();

        Assert.Equal(SearchStopReason.TimeBudget, result.StopReason);
        TrialRecord only = Assert.Single(result.Trials);
        Assert.Equal(TrialStatus.Completed, only.Status);
    }

    [SkippableFact]
    public async Task TheTimeKeptForTheRefitIsLeftOutOfTheSearchBudget()
    {
        // An hour's budget; trials end at once and record the budget they were told is left. Once a trial has a metric,
        // 40 minutes are kept for the refit, so later trials see at most 20 minutes; the first saw the whole hour.
        var seen = new System.Collections.Concurrent.ConcurrentDictionary<int, TimeSpan?>();
        TimeSpan Kept(IReadOnlyList<TrialRecord> board) => board.Count > 0 && board[0].Metric is not null ? TimeSpan.FromMinutes(40) : TimeSpan.Zero;
        var (space, tuner) = ScriptedTuner.ForIds(3);
        SearchResult result = await new SearchExperiment().SetSearchSpace(space).SetTuner(tuner).SetMaxTrials(3)
            .SetTrialRunner((request, _) =>
            {
                seen[request.Parameters.GetInt32("id")] = request.RemainingBudget;
                return Task.FromResult(0.5);
            })
            .SetTrainingTime(TimeSpan.FromHours(1))
            .SetTimeAfterSearch(Kept)
            .RunAsync();

        Assert.Equal(3, result.Trials.Count);
        Assert.InRange(seen[0]!.Value, TimeSpan.FromMinutes(59), TimeSpan.FromHours(1));
        Assert.InRange(seen[1]!.Value, TimeSpan.FromMinutes(19), TimeSpan.FromMinutes(20));
        Assert.InRange(seen[2]!.Value, TimeSpan.FromMinutes(19), TimeSpan.FromMinutes(20));

        // More kept than the whole budget: the search ends as soon as it has a result.
        var (space2, tuner2) = ScriptedTuner.ForIds(3);
        SearchResult stopped = await new SearchExperiment().SetSearchSpace(space2).SetTuner(tuner2).SetMaxTrials(3)
            .SetTrialRunner((_, _) => Task.FromResult(0.5))
            .SetTrainingTime(TimeSpan.FromHours(1))
            .SetTimeAfterSearch(board => Kept(board) * 2)
            .RunAsync();
        Assert.Single(stopped.Trials);
        Assert.Equal(SearchStopReason.TimeBudget, stopped.StopReason);
    }

    [SkippableFact]
    public async Task AConfigurationThatMayBeCheaperThanEveryTrialSoFarStillRunsInWhatIsLeft()
    {
        // Less than 2 s of the 3 s budget is left after trial 0, which takes 2 s by its own stopwatch; trial 1 takes 10 ms
        // (about 1 s of slack for a loaded machine). Told that a configuration not yet run may take less than every trial so
        // far (the self-supervised experiment's raw-feature portfolio entries), the search runs it instead of stopping, then
        // stops, though more 10 ms trials would fit: what is left is for the configurations vouched for, not for proposals
        // of unknown cost (which the rule keeps from being cut by the budget). Not told, it stops after trial 0.
        await WarmUpAsync();
        SearchExperiment Experiment() => TimedExperiment(id => id == 0 ? 2000 : 10, budgetSeconds: 3);

        SearchResult told = await Experiment().SetUnmeasuredMayFit(leaderboard => leaderboard.Count < 2).RunAsync();
        SearchResult notTold = await Experiment().RunAsync();

        Assert.Equal(SearchStopReason.TimeBudget, told.StopReason);
        Assert.Equal(2, told.Trials.Count);
        Assert.All(told.Trials, t => Assert.Equal(TrialStatus.Completed, t.Status));
        Assert.Equal(SearchStopReason.TimeBudget, notTold.StopReason);
        Assert.Equal(TrialStatus.Completed, Assert.Single(notTold.Trials).Status);
    }

    [SkippableFact]
    public async Task ANewTrialDoesNotStartWhereEveryTrialOfItsKindTookLongerThanWhatIsLeft()
    {
        // Trial 0 is fast (10 ms by its own stopwatch), the others slow (2 s); the budget is 4 s. After trials 0 and 1
        // just under 2 s is left: less than the slow trial took whatever the machine's load, and more than the fast one
        // took unless the search itself was held up for about 2 s. With one kind trial 2 starts and the budget cuts it;
        // told the kinds, the search stops at trial 2's proposal, as every slow trial so far took longer than what is left.
        await WarmUpAsync();
        SearchExperiment Experiment() => TimedExperiment(id => id == 0 ? 10 : 2000, budgetSeconds: 4);

        SearchResult byKind = await Experiment().SetSegmentKind(p => p.GetInt32("id") == 0 ? "fast" : "slow").RunAsync();
        SearchResult oneKind = await Experiment().RunAsync();

        Assert.Equal(SearchStopReason.TimeBudget, byKind.StopReason);
        Assert.Equal(2, byKind.Trials.Count);
        Assert.All(byKind.Trials, t => Assert.Equal(TrialStatus.Completed, t.Status));
        Assert.Equal(3, oneKind.Trials.Count);
        Assert.NotEqual(TrialStatus.Completed, oneKind.Trials[2].Status);
    }

    [SkippableFact]
    public async Task ATrialKeepsTheKindItStartedWith()
    {
        // A kind may depend on what ran before: trial 0 needs no encoder (10 ms), trial 1 pretrains encoder A (2 s), trial 2
        // reuses it (10 ms), trial 3 needs a new encoder B. The kind function answers from what ran, so asked now it would
        // call trial 1 "pretrained"; kept from its start it is "new", so with just under 2 s of the 4 s left the search stops
        // at trial 3's proposal instead of starting a new encoder that the budget would cut.
        await WarmUpAsync();
        var pretrained = new HashSet<string>();
        static string? Encoder(int id) => id switch { 0 => null, 3 => "B", _ => "A" };
        SearchResult result = await IdExperiment(10, async (id, token) =>
            {
                var own = Stopwatch.StartNew();
                TimeSpan takes = TimeSpan.FromMilliseconds(Encoder(id) is string encoder && pretrained.Add(encoder) ? 2000 : 10);
                while (own.Elapsed < takes) await Task.Delay(TimeSpan.FromMilliseconds(5), token);
                return 0.5;
            })
            .SetTrainingTime(TimeSpan.FromSeconds(4))
            .SetSegmentKind(p => Encoder(p.GetInt32("id")) is not string encoder ? "none" : pretrained.Contains(encoder) ? "pretrained" : "new")
            .RunAsync();

        Assert.Equal(SearchStopReason.TimeBudget, result.StopReason);
        Assert.Equal(3, result.Trials.Count);
        Assert.All(result.Trials, t => Assert.Equal(TrialStatus.Completed, t.Status));
    }

    [SkippableFact]
    public async Task TheFirstTrialMayFinishPastTheBudgetSoThereIsAResult()
    {
        // The trial runs at least 800 ms by its own stopwatch (not a single Task.Delay, which may end a tick early),
        // four times the budget, and must not be cancelled: there is no result to return yet.
        TimeSpan trialLength = TimeSpan.FromMilliseconds(800);
        bool cancelled = false;
        SearchResult result = await IdExperiment(5, async (id, token) =>
            {
                var own = Stopwatch.StartNew();
                while (own.Elapsed < trialLength) await Task.Delay(TimeSpan.FromMilliseconds(20), CancellationToken.None);
                cancelled = token.IsCancellationRequested;
                return 0.4;
            })
            .SetTrainingTime(TimeSpan.FromMilliseconds(200))
            .RunAsync();

        TrialRecord only = Assert.Single(result.Trials);
        Assert.Equal(TrialStatus.Completed, only.Status);
        Assert.Equal(0.4, only.Metric);
        Assert.False(cancelled, "the first trial was cancelled before any trial had a result");
        // The experiment's clock started before the trial did, so this holds on any machine.
        Assert.True(result.Elapsed >= trialLength, $"elapsed {result.Elapsed.TotalMilliseconds:0} ms");
        Assert.Equal(SearchStopReason.TimeBudget, result.StopReason);
    }

    [SkippableFact]
    public async Task ATrialThatIgnoresCancellationIsNotWaitedFor()
    {
        await WarmUpAsync();
        // Trial 1 never looks at its token and stays blocked until the test releases it, after RunAsync returned. If
        // the experiment waited for it, it would only return when the 60 s safety timeout ends the block, and the
        // trial would be seen finished.
        using var release = new ManualResetEventSlim(false);
        int trialOneFinished = 0;
        SearchResult result;
        try
        {
            result = await IdExperiment(10, (id, token) =>
                {
                    if (id > 0)
                    {
                        release.Wait(TimeSpan.FromSeconds(60)); // never looks at its token
                        Volatile.Write(ref trialOneFinished, 1);
                    }
                    return Task.FromResult(0.5);
                })
                .SetTrainingTime(TimeSpan.FromSeconds(1))
                .SetTrialCancellationGracePeriod(TimeSpan.FromMilliseconds(200))
                .RunAsync();
            Assert.Equal(0, Volatile.Read(ref trialOneFinished));
        }
        finally
        {
            release.Set();
        }

        Assert.Equal(TrialStatus.Cancelled, result.Trials.Single(t => t.TrialId == 1).Status);
        Assert.Equal(new[] { 0, 1 }, result.Trials.Select(t => t.TrialId).Order());
        Assert.Equal(SearchStopReason.TimeBudget, result.StopReason);
    }

    [SkippableFact]
    public async Task AnExperimentThatRefitsReturnsOnlyAfterTheTrialTheBudgetAbandonedHasExited()
    {
        await WarmUpAsync();
        long exitedAt = 0;
        SearchResult result = await IdExperiment(10, async (id, token) =>
            {
                if (id == 0) return 0.5;
                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(60), token);
                    return 0.9;
                }
                finally
                {
                    // Cancelled, but it first finishes its current step, well past the grace period.
                    Thread.Sleep(1500);
                    Interlocked.Exchange(ref exitedAt, Stopwatch.GetTimestamp());
                }
            })
            .SetTrainingTime(TimeSpan.FromMilliseconds(500))
            .SetTrialCancellationGracePeriod(TimeSpan.FromMilliseconds(100))
            .WaitForAbandonedTrials()
            .RunAsync();
        long returnedAt = Stopwatch.GetTimestamp();

        long exited = Interlocked.Read(ref exitedAt);
        Assert.NotEqual(0, exited); // no trial code runs after RunAsync returned
        Assert.True(exited <= returnedAt);
        Assert.Equal(SearchStopReason.TimeBudget, result.StopReason);
        Assert.Equal(TrialStatus.Cancelled, result.Trials.Single(t => t.TrialId == 1).Status);

        // The experiments that refit against their trials' cache wait like this.
        Assert.True(new MLContext().SelfSupervisedExperiment().Search.WaitsForAbandonedTrials);
        Assert.True(new MLContext().MulticlassTrainerExperiment().Search.WaitsForAbandonedTrials);
        Assert.False(new SearchExperiment().WaitsForAbandonedTrials);
    }

    [SkippableFact]
    public async Task CancellationStopsTheRunningTrialAndReturnsTheLeaderboardSoFar()
    {
        using var cancellation = new CancellationTokenSource();
        SearchResult result = await IdExperiment(10, async (id, token) =>
            {
                if (id == 3)
                {
                    await cancellation.CancelAsync();
                    await Task.Delay(Timeout.Infinite, token);
                }
                return id / 10.0;
            })
            .RunAsync(cancellation.Token);

        Assert.Equal(SearchStopReason.Cancelled, result.StopReason);
        Assert.Equal(new[] { TrialStatus.Completed, TrialStatus.Completed, TrialStatus.Completed, TrialStatus.Cancelled },
            result.Trials.OrderBy(t => t.TrialId).Select(t => t.Status));
        Assert.Equal(2, result.BestTrial!.TrialId);
    }

    [SkippableFact]
    public async Task AFailingTrialIsRecordedWithItsMessageAndTheSearchGoesOn()
    {
        var script = Enumerable.Range(0, 6).Select(i => new Parameters().With("id", i)).ToArray();
        ScriptedTuner? tuner = null;
        SearchResult result = await new SearchExperiment()
            .SetSearchSpace(new SearchSpace().WithInteger("id", 0, 10))
            .SetTuner(SslTuner.Custom("ids", (_, _) => tuner = new ScriptedTuner(script)))
            .SetMaxTrials(6)
            .SetTrialRunner((request, _) => request.Parameters.GetInt32("id") switch
            {
                2 => throw new InvalidOperationException("boom at trial 2"),
                4 => Task.FromResult(double.NaN),
                int id => Task.FromResult(id / 10.0),
            })
            .RunAsync();

        Assert.Equal(6, result.Trials.Count);
        Assert.Equal(new[] { 5, 3, 1, 0, 2, 4 }, result.Trials.Select(t => t.TrialId)); // failed trials last
        Assert.Equal("InvalidOperationException: boom at trial 2", result.Trials[4].ErrorMessage);
        Assert.Equal(TrialStatus.Failed, result.Trials[4].Status);
        Assert.Contains("non-finite metric", result.Trials[5].ErrorMessage);
        Assert.Null(result.Trials[5].Metric);
        Assert.Equal(5, result.BestTrial!.TrialId);
        // The tuner heard about every trial, failures included (with no loss).
        Assert.Equal(6, tuner!.Updates.Count);
        Assert.Null(tuner.Updates.Single(u => u.TrialId == 2).Loss);
    }

    [SkippableFact]
    public async Task ATrialTheRunnerDeclinesIsNotStartedNotFailedAndResumesSo()
    {
        // The runner declines trial 1 (as the SSL runner declines a longer version that would not fit). It is recorded as
        // NotStarted with the runner's message and no time, the tuner hears of it, the search goes on, and a session
        // resumed from the checkpoint replays it the same way without asking the runner again.
        var script = Enumerable.Range(0, 3).Select(i => new Parameters().With("id", i)).ToArray();
        string folder = Path.Combine(_folder, "declined");
        int asked = 0;
        ScriptedTuner? tuner = null;
        SearchExperiment Experiment(int trials) => new SearchExperiment()
            .SetSearchSpace(new SearchSpace().WithInteger("id", 0, 10))
            .SetTuner(SslTuner.Custom("ids", (_, _) => tuner = new ScriptedTuner(script)))
            .SetMaxTrials(trials)
            .SetCheckpoint(folder)
            .SetTrialRunner((request, _) =>
            {
                Interlocked.Increment(ref asked);
                return request.Parameters.GetInt32("id") == 1
                    ? throw new TrialNotStartedException("Trial 1 was not started: it would need about 500 s, 200 s are left.")
                    : Task.FromResult(request.Parameters.GetInt32("id") / 10.0);
            });

        SearchResult first = await Experiment(3).RunAsync();
        Assert.Equal(new[] { (2, TrialStatus.Completed), (0, TrialStatus.Completed), (1, TrialStatus.NotStarted) },
            first.Trials.Select(t => (t.TrialId, t.Status)));
        TrialRecord declined = first.Trials[2];
        Assert.Equal("Trial 1 was not started: it would need about 500 s, 200 s are left.", declined.ErrorMessage);
        Assert.Equal(TimeSpan.Zero, declined.Duration);
        Assert.Equal(TrialStatus.NotStarted, tuner!.Updates.Single(u => u.TrialId == 1).Status);
        Assert.Equal(3, asked);

        SearchResult resumed = await Experiment(3).RunAsync();
        Assert.Equal(first.Trials.Select(t => (t.TrialId, t.Status, t.ErrorMessage)), resumed.Trials.Select(t => (t.TrialId, t.Status, t.ErrorMessage)));
        Assert.Equal(3, asked);
        Assert.Equal(TrialStatus.NotStarted, tuner!.Updates.Single(u => u.TrialId == 1).Status);
    }

    [SkippableFact]
    public async Task ATrialStoppedAtItsRunnersTimeLimitIsTimedOutNotFailedAndResumesSo()
    {
        // The runner stops trial 1 at a limit of its own (as the SSL runner's per-trial time cap does). It is recorded as
        // TimedOut with the runner's message (no exception type in front: nothing broke) and the time it ran, the search goes
        // on, and a session resumed from the checkpoint replays it the same way without running it again.
        var script = Enumerable.Range(0, 3).Select(i => new Parameters().With("id", i)).ToArray();
        string folder = Path.Combine(_folder, "timed-out");
        int asked = 0;
        ScriptedTuner? tuner = null;
        var reports = new List<TrialReportKind>();
        SearchExperiment Experiment(int trials) => new SearchExperiment()
            .SetSearchSpace(new SearchSpace().WithInteger("id", 0, 10))
            .SetTuner(SslTuner.Custom("ids", (_, _) => tuner = new ScriptedTuner(script)))
            .SetMaxTrials(trials)
            .SetCheckpoint(folder)
            .SetProgress(new SynchronousProgress<SslTrialReport>(r => { if (r.Trial.TrialId == 1) reports.Add(r.Kind); }))
            .SetTrialRunner(async (request, _) =>
            {
                Interlocked.Increment(ref asked);
                if (request.Parameters.GetInt32("id") != 1) return request.Parameters.GetInt32("id") / 10.0;
                await Task.Delay(50);
                throw new TrialTimedOutException("Trial 1 exceeded its time cap of 0.05 s.", new OperationCanceledException());
            });

        SearchResult first = await Experiment(3).RunAsync();
        Assert.Equal(new[] { (2, TrialStatus.Completed), (0, TrialStatus.Completed), (1, TrialStatus.TimedOut) },
            first.Trials.Select(t => (t.TrialId, t.Status)));
        TrialRecord timedOut = first.Trials[2];
        Assert.Equal("Trial 1 exceeded its time cap of 0.05 s.", timedOut.ErrorMessage);
        Assert.True(timedOut.Duration >= TimeSpan.FromMilliseconds(40), $"the time it ran counts: {timedOut.Duration}");
        Assert.Null(timedOut.Metric);
        Assert.Equal(TrialStatus.TimedOut, tuner!.Updates.Single(u => u.TrialId == 1).Status);
        Assert.Equal(new[] { TrialReportKind.Running, TrialReportKind.TimedOut }, reports);
        Assert.Equal(3, asked);

        reports.Clear();
        SearchResult resumed = await Experiment(3).RunAsync();
        Assert.Equal(first.Trials.Select(t => (t.TrialId, t.Status, t.ErrorMessage, t.Duration)),
            resumed.Trials.Select(t => (t.TrialId, t.Status, t.ErrorMessage, t.Duration)));
        Assert.Equal(3, asked);
        Assert.Equal(new[] { TrialReportKind.Running, TrialReportKind.TimedOut }, reports);
    }

    [SkippableFact]
    public void AJournalledDurationReadsBackToTheSameTicks()
    {
        // Written as milliseconds in a double; a resumed session must see the very TimeSpan the first one recorded. A
        // truncating read turned 6,688 ticks (0.6688 ms) into 6,687 and failed the resume comparison above on some hosts.
        var rng = new Random(7);
        long[] ticks = new long[] { 0, 1, 6688, 9999, 10_001, TimeSpan.TicksPerHour * 5 + 3 }
            .Concat(Enumerable.Range(0, 2000).Select(_ => rng.NextInt64(0, TimeSpan.TicksPerDay))).ToArray();
        foreach (long t in ticks)
        {
            var written = new JournalEvent(JournalEventType.Result, 0, null, null, 0.5, null, TimeSpan.FromTicks(t).TotalMilliseconds, 0);
            JournalEvent read = ExperimentJournal.Deserialize(ExperimentJournal.Serialize(written))!;
            Assert.Equal(TimeSpan.FromTicks(t), read.Duration);
        }
    }

    [SkippableFact]
    public void ARefusalNamesTheRunnerSettingThatDiffersNotTheWholeDescription()
    {
        // An SSL experiment's description runs to hundreds of characters; the user must see the one option to change.
        string stored = "SelfSupervised(input=Ssl_Input,checkpoint SslInputShape { Kind = Tabular, Length = 4 },label=Label,cv,metric=Accuracy,repeats=0,folds used=5)";
        string now = stored.Replace("metric=Accuracy", "metric=MacroAccuracy", StringComparison.Ordinal);
        Assert.Equal(["metric: checkpoint Accuracy, now MacroAccuracy"], ExperimentFingerprint.RunnerDifferences(stored, now));
        // A brace-nested part is one setting; a part without a key is named with the runner; a description of another
        // form is named whole.
        string shape = stored.Replace("Length = 4", "Length = 5", StringComparison.Ordinal);
        Assert.Equal(["trial runner: checkpoint checkpoint SslInputShape { Kind = Tabular, Length = 4 }, now checkpoint SslInputShape { Kind = Tabular, Length = 5 }"],
            ExperimentFingerprint.RunnerDifferences(stored, shape));
        Assert.Equal(["repeats: checkpoint 0, now 3", "folds used: checkpoint 5, now (none)"],
            ExperimentFingerprint.RunnerDifferences(stored, stored.Replace("repeats=0,folds used=5", "repeats=3", StringComparison.Ordinal)));
        Assert.Equal(["trial runner: checkpoint plain, now other"], ExperimentFingerprint.RunnerDifferences("plain", "other"));

        // SslExperiment's own form: a label-free objective has no metric or repeats, and "fine-tune folds" (a key with a
        // '-') after them must not be read as a part without a key, whose place moved, and named twice as a difference.
        string Real(string objective, string metric) => "SelfSupervised(input=Ssl_Input,SslInputShape { Kind = Tabular, Channels = 1, Height = 0, Width = 0, " +
            $"Features = 4, Length = 0, Size = 4 }},label=Label,{objective},{metric}folds used=5,fine-tune folds=0,rows=1372,labeled=1372,data=ab12,pretraining seed=1,standardize=centred)";
        Assert.Equal(["trial runner: checkpoint LabelFree, now CrossValidatedAccuracy(folds=5)", "metric: checkpoint (none), now Accuracy", "repeats: checkpoint (none), now 0"],
            ExperimentFingerprint.RunnerDifferences(Real("LabelFree", ""), Real("CrossValidatedAccuracy(folds=5)", "metric=Accuracy,repeats=0,")));
        Assert.Equal(["fine-tune folds: checkpoint 0, now 3"], ExperimentFingerprint.RunnerDifferences(Real("LabelFree", ""),
            Real("LabelFree", "").Replace("fine-tune folds=0", "fine-tune folds=3", StringComparison.Ordinal)));
        // A checkpoint from before the small-pool rules (pretraining batch and LightGBM leaf at most a quarter of the rows)
        // scored its trials otherwise: it is refused with that part named.
        string withSmallPools = Real("LabelFree", "").Replace(",standardize=centred)", ",standardize=centred,small pools=batch and LightGBM leaf at most a quarter of the rows)",
            StringComparison.Ordinal);
        Assert.Equal(["small pools: checkpoint (none), now batch and LightGBM leaf at most a quarter of the rows"],
            ExperimentFingerprint.RunnerDifferences(Real("LabelFree", ""), withSmallPools));
    }

    public static TheoryData<string> Tuners => new() { "tpe", "random", "cost-frugal" };

    [SkippableTheory]
    [MemberData(nameof(Tuners))]
    public async Task NoConfigurationRunsTwiceAndASmallSpaceEndsExhausted(string tunerName)
    {
        // 6 configurations and room for 20 trials: TPE's best candidate on such a space is the same point again and again.
        SearchSpace space = new SearchSpace().WithChoice("a", "x", "y").WithChoice("b", "p", "q", "r");
        SslTuner tuner = tunerName switch { "tpe" => SslTuner.Tpe, "random" => SslTuner.Random, _ => SslTuner.CostFrugal };
        SearchResult result = await new SearchExperiment().SetSearchSpace(space).SetTuner(tuner).SetSeed(5).SetMaxTrials(20)
            .SetTrialRunner((request, _) => Task.FromResult(request.Parameters.GetString("a") == "y" ? 1.0 : 0.5))
            .RunAsync();

        Assert.Equal(6, result.Trials.Count);
        Assert.Equal(6, result.Trials.Select(t => t.Parameters).Distinct().Count());
        Assert.Equal(SearchStopReason.SearchSpaceExhausted, result.StopReason);
    }

    [SkippableTheory]
    [MemberData(nameof(Tuners))]
    public async Task ConfigurationsThatCannotRunOrDifferOnlyInUnreadOptionsAreNotRun(string tunerName)
    {
        // A conditional space: "depth" applies to the tree only, and "linear" cannot use "raw" input. Distinct runnable
        // configurations: 6 trees (2 inputs x 3 depths) and 1 linear on "img", 7 of the space's 12 points.
        SearchSpace space = new SearchSpace().WithChoice("input", "img", "raw").WithChoice("model", "tree", "linear")
            .WithChoice("depth", 2, 4, 8);
        static Parameters? Effective(Parameters p) =>
            p.GetString("model") == "linear"
                ? p.GetString("input") == "raw" ? null : new Parameters(p.Where(o => o.Key != "depth"))
                : p;
        var ran = new List<Parameters>();
        SslTuner tuner = tunerName switch { "tpe" => SslTuner.Tpe, "random" => SslTuner.Random, _ => SslTuner.CostFrugal };
        SearchResult result = await new SearchExperiment().SetSearchSpace(space).SetTuner(tuner).SetSeed(2).SetMaxTrials(30)
            .SetEffectiveConfiguration(Effective)
            .SetTrialRunner((request, _) =>
            {
                ran.Add(request.Parameters);
                return Task.FromResult(request.Parameters.GetString("model") == "tree" ? request.Parameters.GetDouble("depth") : 5.0);
            })
            .RunAsync();

        Assert.DoesNotContain(ran, p => Effective(p) is null);
        Assert.Equal(ran.Count, ran.Select(p => Effective(p)!).Distinct().Count());
        Assert.Equal(6, ran.Count(p => p.GetString("model") == "tree"));
        Assert.Single(ran, p => p.GetString("model") == "linear");
        Assert.Equal(7, ran.Count);
        Assert.Equal(SearchStopReason.SearchSpaceExhausted, result.StopReason);
    }

    [SkippableFact]
    public async Task TrialsGetTheirOwnStateAndSeedAndShareCacheKeysForEqualSubsets()
    {
        var requests = new List<TrialRequest>();
        SearchResult result = await new SearchExperiment()
            .SetSearchSpace(SyntheticObjectives.QuadraticSpace())
            .SetTuner(SslTuner.Random).SetSeed(3).SetMaxTrials(12)
            .SetTrialRunner((request, _) =>
            {
                requests.Add(request);
                return Task.FromResult(-SyntheticObjectives.Quadratic(request.Parameters));
            })
            .RunAsync();

        Assert.Equal(12, requests.Select(r => r.StateDirectory).Distinct().Count());
        Assert.Single(requests.Select(r => r.CacheDirectory).Distinct());
        Assert.Equal(12, requests.Select(r => r.Seed).Distinct().Count());
        Assert.All(requests, r => Assert.Null(r.Fidelity)); // no scheduler: train fully as configured
        foreach (var group in requests.GroupBy(r => r.Parameters.GetString("category")))
            Assert.Single(group.Select(r => r.GetCacheKey("category")).Distinct());
        Assert.Equal(4, requests.Select(r => r.GetCacheKey("category")).Distinct().Count());
        Assert.False(Directory.Exists(Path.GetDirectoryName(requests[0].StateDirectory))); // temporary state is cleaned up
        Assert.Equal(-result.Trials.Min(t => SyntheticObjectives.Quadratic(t.Parameters)), result.BestTrial!.Metric);
    }

    /// <summary>A search whose metric improves with epochs: -(quadratic + 3 / epochs), with per-trial state.</summary>
    private static (SearchExperiment Experiment, LearningCurveRunner Runner) ResumableSearch(SslTuner tuner, SslScheduler scheduler, int maxTrials,
        Func<TrialRequest, CancellationToken, Task>? hook = null)
    {
        var runner = new LearningCurveRunner(r => -(SyntheticObjectives.Quadratic(r.Parameters) + 3.0 / (r.Fidelity ?? 9))) { Hook = hook };
        var experiment = new SearchExperiment()
            .SetSearchSpace(SyntheticObjectives.QuadraticSpace())
            .SetTuner(tuner).SetScheduler(scheduler).SetSeed(7).SetMaxTrials(maxTrials)
            .SetTrialRunner(runner.RunAsync);
        return (experiment, runner);
    }

    private static void AssertSameLeaderboard(SearchResult expected, SearchResult actual)
    {
        Assert.Equal(expected.Trials.Count, actual.Trials.Count);
        for (int i = 0; i < expected.Trials.Count; i++)
        {
            TrialRecord e = expected.Trials[i], a = actual.Trials[i];
            Assert.Equal(e.TrialId, a.TrialId);
            Assert.Equal(e.Parameters, a.Parameters);
            Assert.Equal(e.Status, a.Status);
            Assert.Equal(e.Rungs.Select(r => (r.Fidelity, r.Metric)), a.Rungs.Select(r => (r.Fidelity, r.Metric)));
        }
    }

    [SkippableFact]
    public async Task ResumingAfterAPauseOrACrashGivesTheUninterruptedLeaderboard()
    {
        var tpe = SslTuner.FromOptions(new TpeTunerOptions { StartupTrials = 4 });
        var asha = SslScheduler.Asha(1, 9, 3);
        string uninterrupted = Path.Combine(_folder, "uninterrupted"), paused = Path.Combine(_folder, "paused"), crashed = Path.Combine(_folder, "crashed");

        // Uninterrupted, with a checkpoint; after the 7th decided trial, a copy of the folder is what a crash would leave.
        var (reference, _) = ResumableSearch(tpe, asha, 14);
        int decided = 0;
        var journalSizes = new List<int>();
        SearchResult expected = await reference.SetCheckpoint(uninterrupted).SetProgress(new SynchronousProgress<SslTrialReport>(report =>
        {
            // The journal on disk is complete JSON at every report, with no temporary file left beside it.
            using var journal = JsonDocument.Parse(File.ReadAllText(Path.Combine(uninterrupted, "journal.json")));
            journalSizes.Add(journal.RootElement.GetProperty("events").GetArrayLength());
            Assert.Empty(Directory.GetFiles(uninterrupted, "*.tmp"));
            if (report.Kind is TrialReportKind.Completed or TrialReportKind.Pruned && ++decided == 7) CopyDirectory(uninterrupted, crashed);
        })).RunAsync();
        Assert.Equal(SearchStopReason.MaxTrials, expected.StopReason);
        Assert.Equal(journalSizes.Order(), journalSizes);

        // Paused: cancelled right after the 5th decided trial, then resumed by a new experiment object.
        using (var cancellation = new CancellationTokenSource())
        {
            var (first, _) = ResumableSearch(tpe, asha, 14);
            int seen = 0;
            SearchResult pausedResult = await first.SetCheckpoint(paused).SetProgress(new SynchronousProgress<SslTrialReport>(report =>
            {
                if (report.Kind is TrialReportKind.Completed or TrialReportKind.Pruned && ++seen == 5) cancellation.Cancel();
            })).RunAsync(cancellation.Token);
            Assert.Equal(SearchStopReason.Cancelled, pausedResult.StopReason);
            Assert.True(pausedResult.Trials.Count < 14);
        }
        var (second, resumedRunner) = ResumableSearch(tpe, asha, 14);
        var resumedProgress = new SynchronousProgress<SslTrialReport>();
        SearchResult resumed = await second.SetCheckpoint(paused).SetProgress(resumedProgress).RunAsync();
        AssertSameLeaderboard(expected, resumed);
        Assert.Contains(resumedProgress.Reports, r => r.IsReplay);
        Assert.Equal(resumedRunner.Segments.Count, resumedProgress.Reports.Count(r => r.Kind == TrialReportKind.Running && !r.IsReplay));

        // Crashed: resumed from the copy.
        var (afterCrash, _) = ResumableSearch(tpe, asha, 14);
        AssertSameLeaderboard(expected, await afterCrash.SetCheckpoint(crashed).RunAsync());

        // Running a finished experiment again replays it without training anything.
        var (again, againRunner) = ResumableSearch(tpe, asha, 14);
        AssertSameLeaderboard(expected, await again.SetCheckpoint(uninterrupted).RunAsync());
        Assert.Empty(againRunner.Segments);
    }

    [SkippableFact]
    public async Task AnInterruptedContinuationResumesFromTheTrialsStateAndMatchesTheUninterruptedRun()
    {
        var cfo = SslTuner.CostFrugal;
        var hyperband = SslScheduler.Hyperband(1, 9, 3);
        var (reference, _) = ResumableSearch(cfo, hyperband, 12);
        SearchResult expected = await reference.SetCheckpoint(Path.Combine(_folder, "a")).RunAsync();

        // Interrupt the first continuation (a promoted trial going from epoch 1 to 3) while it runs.
        using var cancellation = new CancellationTokenSource();
        string folder = Path.Combine(_folder, "b");
        var (first, firstRunner) = ResumableSearch(cfo, hyperband, 12, async (request, token) =>
        {
            if (request.PreviousFidelity != 1) return;
            await cancellation.CancelAsync();
            await Task.Delay(Timeout.Infinite, token);
        });
        SearchResult interrupted = await first.SetCheckpoint(folder).RunAsync(cancellation.Token);
        Assert.Equal(SearchStopReason.Cancelled, interrupted.StopReason);
        int interruptedTrial = firstRunner.Segments.Last().TrialId;
        TrialRecord paused = interrupted.Trials.Single(t => t.TrialId == interruptedTrial);
        Assert.Equal((TrialStatus.Paused, (int?)1), (paused.Status, paused.Fidelity));

        var (second, resumedRunner) = ResumableSearch(cfo, hyperband, 12);
        SearchResult resumed = await second.SetCheckpoint(folder).RunAsync();

        AssertSameLeaderboard(expected, resumed);
        var firstLive = resumedRunner.Segments.First();
        Assert.Equal((interruptedTrial, (int?)1, (int?)3, 1), (firstLive.TrialId, firstLive.PreviousFidelity, firstLive.Fidelity, firstLive.EpochsTrainedBefore));
    }

    [SkippableFact]
    public async Task ACheckpointOfAnotherExperimentOrADamagedJournalIsRefused()
    {
        string folder = Path.Combine(_folder, "x");
        SearchExperiment Build(int seed) => new SearchExperiment().SetSearchSpace(SyntheticObjectives.QuadraticSpace()).SetTuner(SslTuner.Random)
            .SetSeed(seed).SetMaxTrials(2).SetCheckpoint(folder).SetTrialRunner((r, _) => Task.FromResult(-SyntheticObjectives.Quadratic(r.Parameters)));
        await Build(1).RunAsync();

        var other = await Assert.ThrowsAsync<InvalidOperationException>(() => Build(2).RunAsync());
        Assert.Contains("seed: checkpoint 1, now 2", other.Message);

        await File.WriteAllTextAsync(Path.Combine(folder, "journal.json"), "{ \"version\": 1, \"events\": [ {");
        var damaged = await Assert.ThrowsAsync<InvalidDataException>(() => Build(1).RunAsync());
        Assert.Contains("damaged", damaged.Message);

        // A newer version's journal, with an event type this version does not know, is named as newer, not damaged.
        await Build(1).SetCheckpoint(Path.Combine(_folder, "y")).RunAsync();
        string journal = Path.Combine(_folder, "y", "journal.json");
        string newer = (await File.ReadAllTextAsync(journal)).Replace("\"version\": 1", "\"version\": 2").Replace("\"started\"", "\"startedOnWorker\"");
        Assert.Contains("startedOnWorker", newer);
        await File.WriteAllTextAsync(journal, newer);
        var future = await Assert.ThrowsAsync<InvalidDataException>(() => Build(1).SetCheckpoint(Path.Combine(_folder, "y")).RunAsync());
        Assert.Contains("newer MlNetSsl.AutoML (journal format 2", future.Message);
    }

    [SkippableFact]
    public async Task AJournalTemporaryLeftByAKilledSessionIsIgnoredAndRemovedOnResume()
    {
        string folder = Path.Combine(_folder, "killed");
        SearchExperiment Build() => new SearchExperiment().SetSearchSpace(SyntheticObjectives.QuadraticSpace()).SetTuner(SslTuner.Random)
            .SetSeed(3).SetMaxTrials(2).SetCheckpoint(folder).SetTrialRunner((r, _) => Task.FromResult(-SyntheticObjectives.Quadratic(r.Parameters)));
        SearchResult first = await Build().RunAsync();
        // A session killed while rewriting the journal: half a journal in its temporary file, hours ago.
        string stale = Path.Combine(folder, $"journal.json.{Guid.NewGuid():N}.tmp");
        await File.WriteAllTextAsync(stale, "{ \"version\": 1, \"events\": [ {");
        File.SetLastWriteTimeUtc(stale, DateTime.UtcNow - TimeSpan.FromHours(2));

        SearchResult resumed = await Build().RunAsync();

        Assert.Equal(first.Trials.Select(t => (t.TrialId, t.Metric)), resumed.Trials.Select(t => (t.TrialId, t.Metric)));
        Assert.False(File.Exists(stale));
        Assert.Empty(Directory.GetFiles(folder, "*.tmp", SearchOption.AllDirectories));
    }

    private static void CopyDirectory(string source, string destination)
    {
        Directory.CreateDirectory(destination);
        foreach (string file in Directory.GetFiles(source)) File.Copy(file, Path.Combine(destination, Path.GetFileName(file)));
        foreach (string directory in Directory.GetDirectories(source)) CopyDirectory(directory, Path.Combine(destination, Path.GetFileName(directory)));
    }
}
