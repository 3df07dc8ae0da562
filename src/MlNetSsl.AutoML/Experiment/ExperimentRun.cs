using System.Diagnostics;
using System.Globalization;

namespace MlNetSsl.AutoML;

/// <summary>
/// One execution of a <see cref="SearchExperiment"/>: the loop that asks the scheduler for jobs, the tuner for
/// configurations and the runner for metrics. With a journal from an earlier session it first replays it: the same
/// loop runs, but segment outcomes come from the journal instead of the runner, which rebuilds the tuner and scheduler
/// state exactly; then it carries on live.
/// </summary>
internal sealed partial class ExperimentRun
{
    private static readonly TimeSpan MemoryCheckInterval = TimeSpan.FromMilliseconds(100);

    private readonly Settings _settings;
    private readonly ExperimentJournal _journal;
    private readonly Dictionary<int, TrialState> _trials = new();
    // Trials cancelled but still running when the loop stopped waiting for them (see Settings.WaitForAbandonedTrials).
    private readonly List<Task> _abandoned = new();
    private readonly Stopwatch _clock = new();
    // Set once what is left of the search budget is shorter than every segment measured: from then on only configurations
    // that Settings.UnmeasuredMayFit vouches for start.
    private bool _inRemainder;
    private readonly TimeSpan _clockOffset;
    private readonly string _stateRoot;
    private readonly string _cacheRoot;
    private readonly string? _temporaryRoot;
    private int _cursor;
    private int _startedTrials;
    private bool _noMoreTrials;
    private bool _tunerExhausted;

    public ExperimentRun(Settings settings, ExperimentJournal journal)
    {
        _settings = settings;
        _journal = journal;
        _clockOffset = journal.LastElapsed;
        if (settings.CheckpointFolder is string folder)
        {
            _stateRoot = Path.Combine(folder, "trials");
            _cacheRoot = Path.Combine(folder, "cache");
        }
        else
        {
            _temporaryRoot = Directory.CreateTempSubdirectory("mlnetssl-automl-").FullName;
            _stateRoot = Path.Combine(_temporaryRoot, "trials");
            _cacheRoot = Path.Combine(_temporaryRoot, "cache");
        }
        Directory.CreateDirectory(_cacheRoot);
    }

    private TimeSpan Elapsed => _clockOffset + _clock.Elapsed;

    private bool Replaying => _cursor < _journal.Events.Count;

    public async Task<SearchResult> RunAsync(CancellationToken cancellationToken)
    {
        _clock.Start();
        try
        {
            SearchStopReason reason = await LoopAsync(cancellationToken).ConfigureAwait(false);
            return new SearchResult(Leaderboard(), reason, Elapsed, _settings.Scheduler.MaxFidelity);
        }
        finally
        {
            if (_settings.WaitForAbandonedTrials)
            {
                // Their tokens are cancelled, so cooperative trials end within a step; until then they still use the
                // cache and state folders the caller is about to use (a refit) or that are deleted below.
                foreach (Task trial in _abandoned)
                    await trial.ContinueWith(_ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default)
                        .ConfigureAwait(false);
            }
            if (_temporaryRoot is not null) TryDeleteDirectory(_temporaryRoot);
        }
    }

    /// <summary>The shortest segment that produced a metric so far, of any trial or only of those of one
    /// <see cref="Settings.SegmentKind"/> (as the trial's kind was when it started); null before any.</summary>
    private TimeSpan? ShortestSegment(string? kind = null)
    {
        TimeSpan? shortest = null;
        foreach (TrialState trial in _trials.Values)
        {
            if (kind is not null && trial.Kind != kind) continue;
            foreach (RungResult rung in trial.Rungs)
                if (shortest is not TimeSpan s || rung.Duration < s) shortest = rung.Duration;
        }
        return shortest;
    }

    /// <summary>Whether a new trial of <paramref name="kind"/> (<see cref="Settings.SegmentKind"/>) should not start: every
    /// segment measured for that kind took longer than what is left of <paramref name="budget"/>. Seconds-long raw trials
    /// kept the rule above from stopping a 600 s image search, so three encoder proposals started with 32, 16 and 8 s
    /// left and were all cut by their caps, where the shortest encoder trial had taken 32 s.</summary>
    private bool KindOutlastsWhatIsLeft(string? kind, TimeSpan budget) =>
        kind is not null && ShortestSegment(kind) is TimeSpan shortest && budget - Elapsed < shortest
        && _settings.UnmeasuredMayFit?.Invoke(Leaderboard()) != true;

    private async Task<SearchStopReason> LoopAsync(CancellationToken cancellationToken)
    {
        int nextTrialId = 0;
        while (true)
        {
            if (cancellationToken.IsCancellationRequested) return SearchStopReason.Cancelled;
            // Spent, or no segment measured so far would fit in what is left: more trials would only be cut short and
            // listed as failures (a 600 s image search ended with nine of them, capped at 21, 11, 5... 0.1 s).
            // A configuration not run yet that may be cheaper than all of them (Settings.UnmeasuredMayFit) still gets what is
            // left; once none is, the search stops there, even where that configuration's own segment was short.
            if (!Replaying && SearchBudget() is TimeSpan budget)
            {
                _inRemainder |= ShortestSegment() is TimeSpan shortest && budget - Elapsed < shortest;
                if (Elapsed >= budget || (_inRemainder && _settings.UnmeasuredMayFit?.Invoke(Leaderboard()) != true))
                    return SearchStopReason.TimeBudget;
            }

            // Whether new trials may start is itself journaled, so a replay makes the scheduler the same calls even if
            // this session's trial limit differs.
            if (Replaying && _journal.Events[_cursor].Type == JournalEventType.NoMoreTrials)
            {
                // The event says whether the tuner had run out (a session resumed after that ends SearchSpaceExhausted, as the
                // first one did, not MaxTrials); a replay does not ask the tuner the proposals it ran out on.
                _tunerExhausted |= _journal.Events[_cursor].Message == TunerExhaustedMessage;
                _cursor++;
                _noMoreTrials = true;
            }
            bool canStartNew = !_noMoreTrials && !_tunerExhausted && (Replaying || _startedTrials < _settings.MaxTrials);
            if (!canStartNew && !_noMoreTrials && !Replaying)
            {
                _noMoreTrials = true;
                AppendLive(new JournalEvent(JournalEventType.NoMoreTrials, -1, null, null, null, _tunerExhausted ? TunerExhaustedMessage : null, 0,
                    Elapsed.TotalMilliseconds));
            }

            SchedulerJob? job = _settings.Scheduler.NextJob(canStartNew);
            ApplyDecisions(Replaying);
            if (job is null)
            {
                if (Replaying) throw JournalMismatch("the search to end", _journal.Events[_cursor]);
                return _tunerExhausted ? SearchStopReason.SearchSpaceExhausted : SearchStopReason.MaxTrials;
            }

            int trialId;
            if (job.Kind == SchedulerJobKind.StartNew)
            {
                trialId = nextTrialId;
                Parameters? proposed = ProposeUntried(trialId);
                if (proposed is null)
                {
                    _tunerExhausted = true;
                    continue;
                }
                if (!_settings.SearchSpace.Contains(proposed))
                    throw new InvalidOperationException($"The tuner proposed a configuration outside the search space: {proposed}.");
                // Stopped here rather than declined: a declined proposal would only make the tuner propose again (and learn
                // a failure); the configurations vouched for by Settings.UnmeasuredMayFit still get their turn, as above.
                string? kind = _settings.SegmentKind?.Invoke(proposed);
                if (!Replaying && SearchBudget() is TimeSpan left && KindOutlastsWhatIsLeft(kind, left))
                {
                    _settings.Tuner.Withdraw(trialId);
                    return SearchStopReason.TimeBudget;
                }
                if (Replaying) ConsumeStarted(trialId, proposed);
                else AppendLive(new JournalEvent(JournalEventType.Started, trialId, proposed, null, null, null, 0, Elapsed.TotalMilliseconds));
                nextTrialId++;
                _startedTrials++;
                _trials[trialId] = new TrialState(trialId, proposed) { Kind = kind };
            }
            else
            {
                trialId = job.TrialId;
                if (!_trials.ContainsKey(trialId)) throw new InvalidOperationException($"The scheduler continued unknown trial {trialId}.");
            }

            _settings.Scheduler.OnJobStarted(trialId, job);
            TrialState trial = _trials[trialId];
            trial.Status = TrialStatus.Running;
            trial.ErrorMessage = null; // a continued trial's earlier stop no longer explains it
            bool replayed = Replaying;
            Report(TrialReportKind.Running, trial, job.Fidelity, replayed);

            SegmentOutcome outcome = replayed ? ConsumeSegment(trialId, job.Fidelity) : await RunSegmentAsync(trial, job, cancellationToken).ConfigureAwait(false);
            switch (outcome.Kind)
            {
                case OutcomeKind.Metric:
                    trial.Rungs.Add(new RungResult(job.Fidelity, outcome.Metric, outcome.Duration));
                    trial.Duration += outcome.Duration;
                    trial.Status = TrialStatus.Paused; // until the scheduler completes, prunes or continues it
                    if (!replayed)
                        AppendLive(new JournalEvent(JournalEventType.Result, trialId, null, job.Fidelity, outcome.Metric, null,
                            outcome.Duration.TotalMilliseconds, Elapsed.TotalMilliseconds));
                    _settings.Scheduler.OnResult(trialId, job.Fidelity, Loss(outcome.Metric));
                    ApplyDecisions(replayed);
                    if (trial.Status == TrialStatus.Paused) Report(TrialReportKind.RungCompleted, trial, job.Fidelity, replayed);
                    break;

                case OutcomeKind.Failed:
                case OutcomeKind.NotStarted: // declined by its runner: its duration is zero
                case OutcomeKind.TimedOut:
                    (TrialStatus status, JournalEventType journaled, TrialReportKind reported) = Ended(outcome.Kind);
                    trial.Duration += outcome.Duration;
                    // A promotion its runner declined (it would not fit the budget) leaves the trial at its last rung,
                    // with that rung's metric, as a search stopped between rungs does.
                    trial.Status = outcome.Kind == OutcomeKind.NotStarted && trial.Rungs.Count > 0 ? TrialStatus.Paused : status;
                    trial.ErrorMessage = outcome.Message;
                    if (!replayed)
                        AppendLive(new JournalEvent(journaled, trialId, null, job.Fidelity, null,
                            outcome.Message, outcome.Duration.TotalMilliseconds, Elapsed.TotalMilliseconds));
                    _settings.Scheduler.OnFailed(trialId);
                    _settings.Tuner.Update(ToResult(trial));
                    TryDeleteDirectory(StateDirectory(trialId));
                    Report(reported, trial, job.Fidelity, replayed);
                    ApplyDecisions(replayed);
                    if (outcome.Abandoned) return SearchStopReason.MemoryLimit;
                    // A trial function that fails for every configuration ran 338 trials in 3 s of a time budget, rewriting
                    // the checkpoint's journal after each (quadratic in the trials), until the budget ended. Recomputed from
                    // the trials, so a resumed search stops at the same trial.
                    if (outcome.Kind == OutcomeKind.Failed && EveryTrialFailed(_trials.Values)) return SearchStopReason.EveryTrialFailed;
                    break;

                default:
                    // Stopped by the budget or the caller: the segment's work is lost (not journaled); a resumed
                    // experiment runs it again, from the trial's state when it has one. Its time still counts in this
                    // result's duration, so the leaderboard shows where the budget went.
                    trial.Duration += outcome.Duration;
                    trial.Status = trial.Rungs.Count > 0 ? TrialStatus.Paused : TrialStatus.Cancelled;
                    trial.ErrorMessage = StoppedMessage(trial, outcome.Duration, job.Fidelity, cancellationToken.IsCancellationRequested);
                    Report(TrialReportKind.Stopped, trial, trial.Rungs.Count > 0 ? trial.Rungs[^1].Fidelity : job.Fidelity, replayed: false);
                    return cancellationToken.IsCancellationRequested ? SearchStopReason.Cancelled : SearchStopReason.TimeBudget;
            }
        }
    }

    /// <summary>Whether the search has <see cref="SearchExperiment.FailuresBeforeGivingUp"/> failed trials and no metric.</summary>
    internal static bool EveryTrialFailed(IEnumerable<TrialState> trials)
    {
        int failed = 0;
        foreach (TrialState trial in trials)
        {
            if (trial.Rungs.Count > 0) return false;
            if (trial.Status == TrialStatus.Failed) failed++;
        }
        return failed >= SearchExperiment.FailuresBeforeGivingUp;
    }

    /// <summary>The longest delay a .NET timer accepts (2^32 - 2 ms, about 49.7 days).</summary>
    private static readonly TimeSpan LongestTimerDelay = TimeSpan.FromMilliseconds(uint.MaxValue - 1.0);

    /// <summary><paramref name="delay"/> as <see cref="CancellationTokenSource.CancelAfter(TimeSpan)"/> and
    /// <see cref="Task.Delay(TimeSpan)"/> take it: at least zero, and infinite beyond what a timer can wait (they throw
    /// <see cref="ArgumentOutOfRangeException"/> there, so a budget of more than 49.7 days, such as
    /// <c>SetTrainingTimeInSeconds(uint.MaxValue)</c>, failed the search when its second trial started). Shared with the
    /// distributed run.</summary>
    internal static TimeSpan TimerDelay(TimeSpan delay) =>
        delay <= TimeSpan.Zero ? TimeSpan.Zero : delay > LongestTimerDelay ? Timeout.InfiniteTimeSpan : delay;

    /// <summary>The message of a <see cref="JournalEventType.NoMoreTrials"/> event written because the tuner had nothing new
    /// to propose (none: the trial limit was reached).</summary>
    internal const string TunerExhaustedMessage = "tuner exhausted";

    private double Loss(double metric) => _settings.Maximize ? -metric : metric;

    /// <summary>What a trial stopped by the budget or the caller says, as a failed trial says why it failed; shared with
    /// the distributed run.</summary>
    internal static string StoppedMessage(TrialState trial, TimeSpan ran, int? fidelity, bool byCaller)
    {
        string segment = trial.Rungs.Count > 0 ? FormattableString.Invariant($"its segment to fidelity {fidelity}") : "its run";
        string stopper = byCaller ? "the caller's cancellation" : "the end of the time budget";
        return FormattableString.Invariant($"Stopped {ran.TotalSeconds:0.#} s into {segment} by {stopper}")
            + (trial.Rungs.Count > 0 ? "; its last rung's metric stands." : "; it has no metric.");
    }

    /// <summary>How a segment that ended without a metric is recorded, journaled and reported.</summary>
    private static (TrialStatus Status, JournalEventType Journaled, TrialReportKind Reported) Ended(OutcomeKind kind) => kind switch
    {
        OutcomeKind.NotStarted => (TrialStatus.NotStarted, JournalEventType.NotStarted, TrialReportKind.NotStarted),
        OutcomeKind.TimedOut => (TrialStatus.TimedOut, JournalEventType.TimedOut, TrialReportKind.TimedOut),
        _ => (TrialStatus.Failed, JournalEventType.Failed, TrialReportKind.Failed),
    };

    /// <summary>The trial status of an ended segment's journal event (Failed, NotStarted or TimedOut); shared with the
    /// distributed run.</summary>
    internal static (TrialStatus Status, TrialReportKind Reported) Ended(JournalEventType type) => type switch
    {
        JournalEventType.NotStarted => (TrialStatus.NotStarted, TrialReportKind.NotStarted),
        JournalEventType.TimedOut => (TrialStatus.TimedOut, TrialReportKind.TimedOut),
        _ => (TrialStatus.Failed, TrialReportKind.Failed),
    };

    private void ApplyDecisions(bool replayed) => ApplyDecisions(_settings, _trials,
        (kind, trial) => Report(kind, trial, trial.Rungs[^1].Fidelity, replayed),
        trial => TryDeleteDirectory(StateDirectory(trial.TrialId)));

    /// <summary>Applies the scheduler's pending decisions to the trials and tells the tuner about the ended ones; shared with
    /// the distributed run. <paramref name="pruned"/> runs for a pruned trial before it is reported.</summary>
    internal static void ApplyDecisions(Settings settings, IReadOnlyDictionary<int, TrialState> trials,
        Action<TrialReportKind, TrialState> report, Action<TrialState>? pruned)
    {
        foreach (TrialDecision decision in settings.Scheduler.TakeDecisions())
        {
            if (!trials.TryGetValue(decision.TrialId, out TrialState? trial))
                throw new InvalidOperationException($"The scheduler decided about unknown trial {decision.TrialId}.");
            switch (decision.Kind)
            {
                case TrialDecisionKind.Promote:
                    trial.Status = TrialStatus.Paused; // a continuation job follows
                    break;
                case TrialDecisionKind.Complete:
                    trial.Status = TrialStatus.Completed;
                    settings.Tuner.Update(ToResult(trial, settings.Maximize));
                    report(TrialReportKind.Completed, trial);
                    break;
                case TrialDecisionKind.Prune:
                    trial.Status = TrialStatus.Pruned;
                    settings.Tuner.Update(ToResult(trial, settings.Maximize));
                    pruned?.Invoke(trial);
                    report(TrialReportKind.Pruned, trial);
                    break;
            }
        }
    }

    private TrialResult ToResult(TrialState trial) => ToResult(trial, _settings.Maximize);

    /// <summary>How a trial ended, as its tuner sees it (the last rung's metric as a loss); shared with the distributed run.</summary>
    internal static TrialResult ToResult(TrialState trial, bool maximize) => new(trial.TrialId, trial.Parameters, trial.Status,
        trial.Rungs.Count > 0 ? (maximize ? -trial.Rungs[^1].Metric : trial.Rungs[^1].Metric) : null,
        trial.Rungs.Count > 0 ? trial.Rungs[^1].Fidelity : null, trial.Duration);

    /// <summary>The part of the time budget the search may use: all of it, less what the work after the search is expected
    /// to take for the leaderboard as it stands (<see cref="Settings.TimeAfterSearch"/>); null without a time budget.</summary>
    private TimeSpan? SearchBudget() => SearchBudget(_settings, ReservedAfterSearch());

    private TimeSpan ReservedAfterSearch() => ReservedAfterSearch(_settings, Leaderboard);

    /// <summary>The time budget less <paramref name="reserved"/> (at least zero); null without a time budget. Shared with
    /// the distributed run.</summary>
    internal static TimeSpan? SearchBudget(Settings settings, TimeSpan reserved) =>
        settings.TimeBudget is not TimeSpan budget ? null : reserved >= budget ? TimeSpan.Zero : budget - reserved;

    /// <summary>What <see cref="Settings.TimeAfterSearch"/> keeps for the leaderboard <paramref name="leaderboard"/> gives
    /// (asked only with a time budget); zero when nothing is kept. Shared with the distributed run.</summary>
    internal static TimeSpan ReservedAfterSearch(Settings settings, Func<IReadOnlyList<TrialRecord>> leaderboard) =>
        settings.TimeAfterSearch is { } after && settings.TimeBudget is not null && after(leaderboard()) is { Ticks: > 0 } reserved
            ? reserved : TimeSpan.Zero;

    private async Task<SegmentOutcome> RunSegmentAsync(TrialState trial, SchedulerJob job, CancellationToken cancellationToken)
    {
        string stateDirectory = StateDirectory(trial.TrialId);
        Directory.CreateDirectory(stateDirectory);
        TimeSpan reserved = ReservedAfterSearch();
        TimeSpan? searchBudget = SearchBudget(_settings, reserved);
        var request = new TrialRequest(trial.TrialId, trial.Parameters, job.PreviousFidelity, job.Fidelity, _settings.Scheduler.MaxFidelity,
            stateDirectory, _cacheRoot, TrialSeed(_settings.Seed, trial.TrialId))
        {
            RemainingBudget = searchBudget is TimeSpan total ? (total - Elapsed > TimeSpan.Zero ? total - Elapsed : TimeSpan.Zero) : null,
            ReservedAfterSearch = reserved,
            SearchHasAMetric = _trials.Values.Any(t => t.Rungs.Count > 0),
        };

        long? limitBytes = _settings.MemoryLimitMegabytes is double mb ? (long)(mb * 1024 * 1024) : null;
        if (limitBytes is long limit && WorkingSetAfterCollection(limit) is long before && before > limit)
            return SegmentOutcome.FromFailure(MemoryMessage(trial.TrialId, before, limit, beforeStart: true), TimeSpan.Zero, abandoned: false);

        using var trialCancellation = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        // The budget may cut a trial short only once some trial has a metric, so an experiment always has a result.
        if (searchBudget is TimeSpan budget && _trials.Values.Any(t => t.Rungs.Count > 0))
        {
            TimeSpan remaining = budget - Elapsed;
            trialCancellation.CancelAfter(TimerDelay(remaining));
        }

        var watch = Stopwatch.StartNew();
        Task<double> task = Task.Run(() => _settings.Runner.RunAsync(request, trialCancellation.Token), CancellationToken.None);
        var memory = new MemoryWatch();
        Task monitor = limitBytes is long memoryLimit
            ? MonitorMemoryAsync(task, trialCancellation, memoryLimit, trial.TrialId, memory)
            : Task.CompletedTask;
        bool finished = await WaitForTrialAsync(task, trialCancellation.Token).ConfigureAwait(false);
        watch.Stop();
        await monitor.ConfigureAwait(false);

        if (!finished)
        {
            // Abandoned: stop waiting, but observe its eventual exception so it is not reported as unobserved.
            _ = task.ContinueWith(t => t.Exception, TaskScheduler.Default);
            _abandoned.Add(task);
            return memory.Failure is string message
                ? SegmentOutcome.FromFailure(message + " It did not stop when cancelled, so the experiment stopped.", watch.Elapsed, abandoned: true)
                : SegmentOutcome.Stopped(watch.Elapsed);
        }
        if (memory.Failure is string memoryFailure) return SegmentOutcome.FromFailure(memoryFailure, watch.Elapsed, abandoned: false);
        if (task.IsCompletedSuccessfully)
        {
            double metric = task.Result;
            return double.IsFinite(metric)
                ? SegmentOutcome.FromMetric(metric, watch.Elapsed)
                : SegmentOutcome.FromFailure($"The trial returned a non-finite metric ({metric.ToString(CultureInfo.InvariantCulture)}).", watch.Elapsed, abandoned: false);
        }
        Exception error = task.Exception?.InnerExceptions.Count == 1 ? task.Exception.InnerException! : (Exception?)task.Exception ?? new OperationCanceledException();
        if (error is TrialNotStartedException declined) return SegmentOutcome.NotStarted(declined.Message);
        // Whatever a trial throws after its token was cancelled is the cancellation surfacing, not a failure.
        if (trialCancellation.IsCancellationRequested) return SegmentOutcome.Stopped(watch.Elapsed);
        if (error is TrialTimedOutException timedOut) return SegmentOutcome.TimedOut(timedOut.Message, watch.Elapsed);
        return SegmentOutcome.FromFailure($"{error.GetType().Name}: {error.Message}", watch.Elapsed, abandoned: false);
    }

    private void Report(TrialReportKind kind, TrialState trial, int? fidelity, bool replayed)
    {
        if (_settings.Progress is null) return;
        TrialRecord? best = Leaderboard().FirstOrDefault(t => t.Metric.HasValue);
        _settings.Progress.Report(new SslTrialReport(kind, trial.ToRecord(), fidelity, best, Elapsed, _startedTrials, replayed));
    }

    private List<TrialRecord> Leaderboard() => Leaderboard(_trials.Values, _settings.Maximize);

    /// <summary>The trials as records in leaderboard order (<see cref="TrialRanking"/>); shared with the distributed run.</summary>
    internal static List<TrialRecord> Leaderboard(IEnumerable<TrialState> trials, bool maximize)
    {
        var records = trials.Select(t => t.ToRecord()).ToList();
        double? Loss(TrialRecord r) => r.Metric is double metric ? (maximize ? -metric : metric) : null;
        records.Sort((a, b) => TrialRanking.Compare(Loss(a), a.Fidelity, a.TrialId, Loss(b), b.Fidelity, b.TrialId));
        return records;
    }

    private string StateDirectory(int trialId) => Path.Combine(_stateRoot, $"trial-{trialId.ToString("D4", CultureInfo.InvariantCulture)}");

    private static void TryDeleteDirectory(string path)
    {
        try
        {
            if (Directory.Exists(path)) Directory.Delete(path, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A state folder that cannot be removed now (an abandoned trial may still hold a file) only costs disk space.
        }
    }

    internal sealed record Settings(
        SearchSpace SearchSpace,
        ITrialRunner Runner,
        ITuner Tuner,
        ITrialScheduler Scheduler,
        bool Maximize,
        TimeSpan? TimeBudget,
        int MaxTrials,
        double? MemoryLimitMegabytes,
        int Seed,
        IProgress<SslTrialReport>? Progress,
        TimeSpan GracePeriod,
        string? CheckpointFolder)
    {
        /// <summary>A configuration reduced to what the runner reads (options that do not apply to it left out), or null
        /// when it cannot run; two configurations with equal reductions are the same trial. Null: compared whole.</summary>
        public Func<Parameters, Parameters?>? EffectiveConfiguration { get; init; }

        /// <summary>How long the work after the search (the refit of the trial it will choose) is expected to take, given the
        /// leaderboard so far; that much of the time budget is kept out of the search. Null: nothing is kept.</summary>
        public Func<IReadOnlyList<TrialRecord>, TimeSpan>? TimeAfterSearch { get; init; }

        /// <summary>Whether, given the leaderboard so far, a configuration still to be proposed may take less than every
        /// segment measured so far: the search then goes on where what is left of the budget is shorter than all of them,
        /// and the runner declines what it can price as too long. Null: the search stops there.</summary>
        public Func<IReadOnlyList<TrialRecord>, bool>? UnmeasuredMayFit { get; init; }

        /// <summary>The kind of a configuration about to start, where kinds differ in what a segment costs (the
        /// self-supervised experiment: raw-feature models, networks, trainers on an encoder not pretrained yet, trainers on
        /// one already pretrained): a new trial does not start where every segment measured for its kind, as each trial's
        /// kind was when it started, took longer than what is left of the budget. Null: one kind, the shortest segment of
        /// any trial decides.</summary>
        public Func<Parameters, string>? SegmentKind { get; init; }

        /// <summary>Whether <see cref="RunAsync"/> returns only once every trial it abandoned (cancelled, but still running
        /// after the grace period) has ended, so that no trial code runs after it returns.</summary>
        public bool WaitForAbandonedTrials { get; init; }
    }

    private enum OutcomeKind
    {
        Metric,
        Failed,
        Stopped,
        NotStarted,
        TimedOut,
    }

    private readonly record struct SegmentOutcome(OutcomeKind Kind, double Metric, string? Message, TimeSpan Duration, bool Abandoned)
    {
        public static SegmentOutcome FromMetric(double metric, TimeSpan duration) => new(OutcomeKind.Metric, metric, null, duration, false);

        public static SegmentOutcome FromFailure(string message, TimeSpan duration, bool abandoned) => new(OutcomeKind.Failed, 0, message, duration, abandoned);

        public static SegmentOutcome Stopped(TimeSpan duration) => new(OutcomeKind.Stopped, 0, null, duration, false);

        /// <summary>Declined by the runner before any work (<see cref="TrialNotStartedException"/>): no time is counted.</summary>
        public static SegmentOutcome NotStarted(string message) => new(OutcomeKind.NotStarted, 0, message, TimeSpan.Zero, false);

        /// <summary>Stopped by the runner at its own time limit (<see cref="TrialTimedOutException"/>): the time it ran counts.</summary>
        public static SegmentOutcome TimedOut(string message, TimeSpan duration) => new(OutcomeKind.TimedOut, 0, message, duration, false);
    }

    internal sealed class TrialState
    {
        public TrialState(int trialId, Parameters parameters)
        {
            TrialId = trialId;
            Parameters = parameters;
        }

        public int TrialId { get; }

        public Parameters Parameters { get; }

        /// <summary>Its <see cref="Settings.SegmentKind"/> when it started (a kind may depend on what ran before, such as
        /// whether its encoder was already pretrained); null without kinds.</summary>
        public string? Kind { get; init; }

        public TrialStatus Status { get; set; } = TrialStatus.Running;

        public List<RungResult> Rungs { get; } = new();

        public TimeSpan Duration { get; set; }

        public string? ErrorMessage { get; set; }

        public TrialRecord ToRecord() => new(TrialId, Parameters, Status, Rungs.ToArray(), Duration, ErrorMessage);
    }
}
