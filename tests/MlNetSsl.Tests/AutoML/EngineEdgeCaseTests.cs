using MlNetSsl.AutoML;
using Xunit;

namespace MlNetSsl.Tests.AutoML;

/// <summary>Edge cases of the search engine found in review: resume, the shared store and search spaces.</summary>
public sealed class EngineEdgeCaseTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("mlnetssl-engine-edge-").FullName;

    public void Dispose()
    {
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
            // A SQLite file may still be closing; the temporary folder is only disk space.
        }
    }

    /// <summary>The stores the shared-search tests run against: SQLite always, PostgreSQL when <c>MLNETSSL_TEST_POSTGRES</c>
    /// holds a connection string (as in <see cref="SharedStorageTests"/>).</summary>
    public static TheoryData<string> Backends => new() { "sqlite", "postgres" };

    /// <summary>A store for <paramref name="backend"/> and an experiment name not used before in it.</summary>
    private (string Storage, string Name) Store(string backend, string name)
    {
        string unique = name.Replace(' ', '-') + "-" + Guid.NewGuid().ToString("N")[..8];
        if (backend == "sqlite") return ($"Data Source={Path.Combine(_folder, name + ".db")}", unique);
        string? postgres = Environment.GetEnvironmentVariable("MLNETSSL_TEST_POSTGRES");
        Skip.If(string.IsNullOrEmpty(postgres), "MLNETSSL_TEST_POSTGRES is not set (.ci/run starts a throw-away PostgreSQL server and sets it)");
        return (postgres!, unique);
    }

    [SkippableFact]
    public async Task ASearchWhoseEveryTrialFailsStopsAfterTheFirstTwentyAndResumesToTheSameStop()
    {
        // A trial function that fails for every configuration (a column it cannot find) with only a time budget ran
        // hundreds of trials a second, rewriting the journal after each, until the budget ended.
        string folder = Path.Combine(_folder, "failing");
        int calls = 0;
        SearchExperiment Experiment() => new SearchExperiment()
            .SetSearchSpace(new SearchSpace().WithNumeric("x", 0, 1))
            .SetTrainingTimeInSeconds(600).SetCheckpoint(folder)
            .SetTrialRunner((_, _) => { Interlocked.Increment(ref calls); throw new InvalidOperationException("column 'Features' not found"); });
        SearchResult result = await Experiment().RunAsync();
        Assert.Equal(SearchStopReason.EveryTrialFailed, result.StopReason);
        Assert.Equal(SearchExperiment.FailuresBeforeGivingUp, result.Trials.Count);
        Assert.All(result.Trials, t => Assert.Contains("column 'Features' not found", t.ErrorMessage));
        Assert.Equal(SearchExperiment.FailuresBeforeGivingUp, calls);

        // Resumed, the replay reaches the same stop without running a trial.
        SearchResult resumed = await Experiment().RunAsync();
        Assert.Equal(SearchStopReason.EveryTrialFailed, resumed.StopReason);
        Assert.Equal(SearchExperiment.FailuresBeforeGivingUp, calls);

        // One metric among the failures: the search goes on (to its trial limit here).
        int seen = 0;
        SearchResult mixed = await new SearchExperiment()
            .SetSearchSpace(new SearchSpace().WithNumeric("x", 0, 1)).SetMaxTrials(30)
            .SetTrialRunner((_, _) => Interlocked.Increment(ref seen) == 5 ? Task.FromResult(0.5) : throw new InvalidOperationException("flaky"))
            .RunAsync();
        Assert.Equal(SearchStopReason.MaxTrials, mixed.StopReason);
        Assert.Equal(30, mixed.Trials.Count);
    }

    [SkippableTheory]
    [MemberData(nameof(Backends))]
    public async Task WorkersOnASharedStoreStopWhenEveryTrialFails(string backend)
    {
        // The one-process stop held for a shared store too: its workers ran failing trials until the budget ended.
        (string storage, string name) = Store(backend, "every trial fails");
        int calls = 0;
        SearchExperiment Worker(string folder) => new SearchExperiment()
            .SetSearchSpace(new SearchSpace().WithNumeric("x", 0, 1))
            .SetTrainingTimeInSeconds(600).SetStorage(storage).SetExperimentName(name).SetCheckpoint(Path.Combine(_folder, folder))
            .SetTrialRunner((_, _) => { Interlocked.Increment(ref calls); throw new InvalidOperationException("column 'Features' not found"); });
        SearchResult[] results = await Task.WhenAll(Worker("worker 1").RunAsync(), Worker("worker 2").RunAsync());
        Assert.All(results, r => Assert.Equal(SearchStopReason.EveryTrialFailed, r.StopReason));
        // Each worker stops at its first failure once the store holds twenty: at most one more per other worker.
        Assert.InRange(calls, SearchExperiment.FailuresBeforeGivingUp, SearchExperiment.FailuresBeforeGivingUp + 1);
        // The first to stop may list the other worker's last trial as still running; nothing else is left open.
        Assert.All(results, r => Assert.True(r.Trials.Count(t => t.Status != TrialStatus.Failed) <= 1
            && r.Trials.All(t => t.Status is TrialStatus.Failed or TrialStatus.Running)));

        // A worker that joins later stops at its first trial.
        SearchResult late = await Worker("worker 3").RunAsync();
        Assert.Equal(SearchStopReason.EveryTrialFailed, late.StopReason);
        Assert.InRange(calls, SearchExperiment.FailuresBeforeGivingUp + 1, SearchExperiment.FailuresBeforeGivingUp + 2);
    }

    [SkippableTheory]
    [MemberData(nameof(Backends))]
    public async Task ASharedSearchCancelledBeforeItStartsReturnsCancelledAsOneProcessDoes(string backend)
    {
        // One process returns StopReason Cancelled for a token cancelled before the search; with a store, opening it
        // threw TaskCanceledException.
        (string storage, string name) = Store(backend, "cancelled early");
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        int calls = 0;
        SearchExperiment Experiment() => new SearchExperiment()
            .SetSearchSpace(new SearchSpace().WithNumeric("x", 0, 1)).SetMaxTrials(3)
            .SetTrialRunner((_, _) => { Interlocked.Increment(ref calls); return Task.FromResult(0.5); });
        SearchResult single = await Experiment().RunAsync(cancelled.Token);
        SearchResult shared = await Experiment().SetStorage(storage).SetExperimentName(name)
            .SetCheckpoint(Path.Combine(_folder, "cancelled early")).RunAsync(cancelled.Token);
        Assert.Equal(SearchStopReason.Cancelled, single.StopReason);
        Assert.Equal(SearchStopReason.Cancelled, shared.StopReason);
        Assert.Empty(shared.Trials);
        Assert.Equal(0, calls);

        // The store is usable afterwards: the same experiment runs to its end.
        SearchResult resumed = await Experiment().SetStorage(storage).SetExperimentName(name)
            .SetCheckpoint(Path.Combine(_folder, "cancelled early")).RunAsync();
        Assert.Equal(SearchStopReason.MaxTrials, resumed.StopReason);
        Assert.Equal(3, resumed.Trials.Count);
    }

    [SkippableFact]
    public async Task AResumedSearchThatHadUsedUpItsSpaceStillSaysSo()
    {
        // Two configurations and room for ten trials: the grid runs out. Resuming the finished experiment replays it and
        // must end as the first session did (it said MaxTrials: the replay never asks the tuner the proposals it ran out on).
        string folder = Path.Combine(_folder, "exhausted");
        SearchExperiment Experiment() => new SearchExperiment()
            .SetSearchSpace(new SearchSpace().WithChoice("a", "x", "y"))
            .SetTuner(SslTuner.Grid).SetMaxTrials(10).SetCheckpoint(folder)
            .SetTrialRunner((request, _) => Task.FromResult(request.Parameters.GetString("a") == "y" ? 1.0 : 0.5));
        SearchResult first = await Experiment().RunAsync();
        Assert.Equal(SearchStopReason.SearchSpaceExhausted, first.StopReason);
        Assert.Equal(2, first.Trials.Count);

        SearchResult resumed = await Experiment().RunAsync();
        Assert.Equal(first.Trials.Select(t => (t.TrialId, t.Status, t.Metric)), resumed.Trials.Select(t => (t.TrialId, t.Status, t.Metric)));
        Assert.Equal(SearchStopReason.SearchSpaceExhausted, resumed.StopReason);

        // A search that reached its trial limit still resumes as MaxTrials.
        string limited = Path.Combine(_folder, "limited");
        SearchExperiment Limited() => new SearchExperiment()
            .SetSearchSpace(new SearchSpace().WithChoice("a", "x", "y", "z"))
            .SetTuner(SslTuner.Grid).SetMaxTrials(2).SetCheckpoint(limited)
            .SetTrialRunner((_, _) => Task.FromResult(0.5));
        Assert.Equal(SearchStopReason.MaxTrials, (await Limited().RunAsync()).StopReason);
        Assert.Equal(SearchStopReason.MaxTrials, (await Limited().RunAsync()).StopReason);
    }

    [SkippableTheory]
    [MemberData(nameof(Backends))]
    public async Task APromotionItsRunnerDeclinesLeavesTheTrialPausedInASharedSearchAsInOneProcess(string backend)
    {
        // ASHA promotes the best trial at each rung; the runner declines every continuation (as the SSL runner declines a
        // promotion the budget cannot hold). One process lists those trials as Paused at their rung, with its metric; a
        // shared search listed them as NotStarted, and told the tuner so.
        (string storage, string name) = Store(backend, "declined promotion");
        var tuners = new List<ScriptedTuner>();
        SearchExperiment Experiment()
        {
            var script = Enumerable.Range(0, 3).Select(i => new Parameters().With("id", i)).ToArray();
            return new SearchExperiment().SetSearchSpace(new SearchSpace().WithInteger("id", 0, 10))
                .SetTuner(SslTuner.Custom("ids", (_, _) =>
                {
                    var tuner = new ScriptedTuner(script);
                    tuners.Add(tuner);
                    return tuner;
                }))
                .SetMaxTrials(3).SetScheduler(SslScheduler.Asha(1, 3, 3))
                .SetTrialRunner((request, _) => request.PreviousFidelity is not null
                    ? throw new TrialNotStartedException("The promotion would not fit.")
                    : Task.FromResult(request.Parameters.GetInt32("id") / 10.0));
        }

        SearchResult single = await Experiment().RunAsync();
        Assert.All(single.Trials, t => Assert.Equal(TrialStatus.Paused, t.Status));
        var singleUpdates = tuners[^1].Updates.Select(u => (u.TrialId, u.Status)).ToList();

        SearchResult shared = await Experiment().SetStorage(storage).SetExperimentName(name)
            .SetCheckpoint(Path.Combine(_folder, "shared folder")).RunAsync();
        Assert.Equal(single.Trials.Select(t => (t.TrialId, t.Status, t.Metric, t.ErrorMessage)),
            shared.Trials.Select(t => (t.TrialId, t.Status, t.Metric, t.ErrorMessage)));
        Assert.Equal(singleUpdates, tuners[^1].Updates.Select(u => (u.TrialId, u.Status)));
    }

    [SkippableFact]
    public void AnIntegerRangeOfMoreThanInt32MaxValueValuesHasAPositiveCountAndAGrid()
    {
        // [0, int.MaxValue] holds 2^31 values: Max - Min + 1 overflowed to int.MinValue, the feature dimension's cardinality
        // was negative, and a grid over the option threw ArgumentOutOfRangeException from Enumerable.Range.
        var space = new SearchSpace().WithInteger("seed", 0, int.MaxValue).WithInteger("offset", int.MinValue, int.MaxValue);
        Assert.Equal(int.MaxValue, ((IntegerRangeOption)space["seed"]).Count);
        Assert.All(space.FeatureDimensions, d => Assert.True(d.Cardinality > 0, $"{d.Path}: cardinality {d.Cardinality}"));

        var grid = new GridTuner(space, new GridTunerOptions { DefaultSteps = 3 });
        Assert.Equal(9, grid.PointCount);
        var proposals = Enumerable.Range(0, 9).Select(i => grid.Propose(new TrialContext(i))!).ToList();
        Assert.All(proposals, p => Assert.True(space.Contains(p), p.ToString()));
        Assert.Equal(new[] { 0.0, 1073741824, int.MaxValue }, proposals.Select(p => p.GetDouble("seed")).Distinct().Order());
        Assert.Null(grid.Propose(new TrialContext(9)));

        // The ends of the unit interval map to the ends of the range, and back.
        foreach (double u in new[] { 0.0, 1.0 })
        {
            Parameters p = space.SampleFromFeatureSpace(new[] { u, u });
            Assert.Equal(p, space.SampleFromFeatureSpace(space.MapToFeatureSpace(p)));
        }
    }

    [SkippableTheory]
    [MemberData(nameof(Backends))]
    public async Task ASegmentPausedByItsWorkersDoesNotUseUpTheAttemptsThatGuardAgainstDeadWorkers(string backend)
    {
        // Trial 1 is paused twice (each process is cancelled while it runs it: the segment goes back to the queue), then
        // the third process that claims it stalls (its heartbeat is made to look minutes old) and is presumed dead. The
        // retry limit (3 workers) is for workers that die; the two pauses counted as attempts, so the one dead worker
        // failed the trial "after 3 attempt(s)". It is re-queued and finished instead.
        (string storage, string name) = Store(backend, "paused twice");
        async Task<SearchResult> RunAsync(Func<CancellationTokenSource, CancellationToken, Task> trialOne)
        {
            using var cancellation = new CancellationTokenSource();
            var (space, tuner) = ScriptedTuner.ForIds(2);
            return await new SearchExperiment().SetSearchSpace(space).SetTuner(tuner).SetMaxTrials(2)
                .SetTrialRunner(async (request, token) =>
                {
                    if (request.Parameters.GetInt32("id") == 1) await trialOne(cancellation, token);
                    return 0.5;
                })
                .SetStorage(storage).SetExperimentName(name).SetCheckpoint(Path.Combine(_folder, "paused folder"))
                .SetHeartbeatGracePeriod(TimeSpan.FromSeconds(1))
                .RunAsync(cancellation.Token);
        }
        static async Task PauseAsync(CancellationTokenSource caller, CancellationToken token)
        {
            caller.Cancel();
            await Task.Delay(Timeout.InfiniteTimeSpan, token);
        }

        for (int pause = 0; pause < 2; pause++)
        {
            SearchResult paused = await RunAsync(PauseAsync);
            Assert.Equal(SearchStopReason.Cancelled, paused.StopReason);
            Assert.Equal(TrialStatus.Cancelled, paused.Trials.Single(t => t.TrialId == 1).Status);
        }

        bool stalled = false;
        SearchResult finished = await RunAsync(async (_, token) =>
        {
            if (stalled) return;
            stalled = true;
            await using (System.Data.Common.DbConnection connection = backend == "sqlite"
                ? new Microsoft.Data.Sqlite.SqliteConnection(storage) : new Npgsql.NpgsqlConnection(storage))
            {
                await connection.OpenAsync(token);
                using var command = connection.CreateCommand();
                command.CommandText = $"UPDATE mlnetssl_segments SET heartbeat_ms = 0 WHERE experiment = '{name}' AND trial_id = 1";
                Assert.Equal(1, await command.ExecuteNonQueryAsync(token));
            }
            await Task.Delay(Timeout.InfiniteTimeSpan, token); // cancelled when the heartbeat finds the lease lapsed
        });
        Assert.True(stalled, "trial 1 never ran in the third process");
        TrialRecord trial = finished.Trials.Single(t => t.TrialId == 1);
        Assert.True(trial.Status == TrialStatus.Completed, $"trial 1 is {trial.Status}: {trial.ErrorMessage}");
        var log = await ExperimentStore.ReadLogAsync(storage, name, CancellationToken.None);
        Assert.Single(log, e => e.Event.Event.Type == JournalEventType.Requeued && e.Event.Event.TrialId == 1);
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
    }

    [SkippableTheory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ABudgetLongerThanATimerCanWaitRunsTheSearch(bool shared)
    {
        // SetTrainingTimeInSeconds takes any uint (136 years); CancelAfter and Task.Delay throw beyond 49.7 days, so the
        // second trial's budget timer threw ArgumentOutOfRangeException out of RunAsync (so did a grace period that long).
        SearchExperiment Experiment(string name)
        {
            var (space, tuner) = ScriptedTuner.ForIds(3);
            var experiment = new SearchExperiment().SetSearchSpace(space).SetTuner(tuner).SetMaxTrials(3)
                .SetTrialCancellationGracePeriod(TimeSpan.MaxValue)
                .SetTrialRunner((request, _) => Task.FromResult(request.Parameters.GetInt32("id") / 10.0));
            return shared ? experiment.SetStorage($"Data Source={Path.Combine(_folder, name + ".db")}").SetExperimentName(name)
                .SetCheckpoint(Path.Combine(_folder, name)).SetHeartbeatGracePeriod(TimeSpan.MaxValue) : experiment;
        }

        foreach (SearchExperiment experiment in new[]
            { Experiment("seconds").SetTrainingTimeInSeconds(uint.MaxValue), Experiment("timespan").SetTrainingTime(TimeSpan.MaxValue) })
        {
            SearchResult result = await experiment.RunAsync();
            Assert.Equal(SearchStopReason.MaxTrials, result.StopReason);
            Assert.Equal(new[] { 2, 1, 0 }, result.Trials.Select(t => t.TrialId));
            Assert.All(result.Trials, t => Assert.Equal(TrialStatus.Completed, t.Status));
        }

        Assert.Equal(TimeSpan.FromSeconds(3), ExperimentRun.TimerDelay(TimeSpan.FromSeconds(3)));
        Assert.Equal(TimeSpan.Zero, ExperimentRun.TimerDelay(TimeSpan.FromSeconds(-3)));
        Assert.Equal(Timeout.InfiniteTimeSpan, ExperimentRun.TimerDelay(TimeSpan.FromDays(50)));
    }

    [SkippableFact]
    public async Task ASelfSupervisedExperimentWithABudgetLongerThanATimerCanWaitRunsItsTrials()
    {
        // The SSL runner caps every trial after the first at a share of the budget left, with a timer: with
        // SetTrainingTimeInSeconds(uint.MaxValue) that timer threw, so every trial but the first failed.
        var ml = new Microsoft.ML.MLContext(seed: 1);
        var space = SslSearchSpace.For(SslInputKind.Tabular);
        Parameters linear = SslExperimentData.Configuration(space, ("Features", "RawFeatures"), ("Downstream.Trainer", "LinearProbe"));
        Parameters boosted = SslExperimentData.Configuration(space, ("Features", "RawFeatures"), ("Downstream.Trainer", "LightGbm"));
        SslExperimentResult result = await ml.SelfSupervisedExperiment()
            .SetDataset(ml.Data.LoadFromEnumerable(SslExperimentData.HiggsWithHiddenLabels(300, labeledEvery: 2))).SetInputColumn("Features")
            .SetSearchSpace(space).SetTuner(SslExperimentData.Scripted("raw-linear-then-lightgbm", linear, boosted))
            .SetMaxTrials(2).SetTrainingTimeInSeconds(uint.MaxValue)
            .RunAsync();
        Assert.Equal(2, result.Trials.Count);
        Assert.All(result.Trials, t => Assert.True(t.Status == TrialStatus.Completed, $"trial {t.TrialId} is {t.Status}: {t.ErrorMessage}"));
    }

    [SkippableFact]
    public async Task HyperbandOverAHugeFidelityRangeStillStartsTrials()
    {
        // Rungs 1, 2, 4, ..., 2^30, int.MaxValue: the first bracket's n = 32 * 2^31 / 32 = 2^31 wrapped to int.MinValue, so
        // no trial could enter it and the search ended at once with no trial.
        var scheduler = new HyperbandScheduler(1, int.MaxValue, 2);
        Assert.All(scheduler.Brackets, b => Assert.True(b.TrialCount > 0, $"bracket s={b.Index} holds {b.TrialCount} trials"));
        Assert.Equal(int.MaxValue, scheduler.Brackets[0].TrialCount);

        var (space, tuner) = ScriptedTuner.ForIds(3);
        SearchResult result = await new SearchExperiment().SetSearchSpace(space).SetTuner(tuner).SetMaxTrials(3)
            .SetScheduler(SslScheduler.Hyperband(1, int.MaxValue, 2))
            .SetTrialRunner((request, _) => Task.FromResult(request.Parameters.GetInt32("id") + (request.Fidelity ?? 0) / 1e10))
            .RunAsync();
        Assert.Equal(3, result.Trials.Count);
        Assert.Equal(2, result.BestTrial!.TrialId);
    }
}
