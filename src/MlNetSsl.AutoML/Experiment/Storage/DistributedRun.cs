using System.Diagnostics;
using System.Globalization;

namespace MlNetSsl.AutoML;

/// <summary>How a worker shares an experiment through a store (<see cref="SearchExperiment.SetStorage"/>).</summary>
/// <param name="ConnectionString">PostgreSQL (<c>Host=...</c>) or SQLite (<c>Data Source=...</c>).</param>
/// <param name="ExperimentName">The experiment's name in the store; workers with the same name share one search.</param>
/// <param name="LeaseGracePeriod">How long a segment's lease lives without a heartbeat before its worker is presumed dead.</param>
/// <param name="MaxAttempts">How many workers may hold a trial's segment before it fails (the first plus the re-queues).</param>
internal sealed record StorageSettings(string ConnectionString, string ExperimentName, TimeSpan LeaseGracePeriod, int MaxAttempts)
{
    /// <summary>A heartbeat every quarter of the grace period: three can be lost (a slow database, a garbage collection)
    /// before the lease lapses.</summary>
    public TimeSpan HeartbeatInterval => LeaseGracePeriod / 4;
}

/// <summary>
/// One worker of an experiment shared through an <see cref="ExperimentStore"/>. The store's event log is the experiment:
/// each worker keeps its own tuner and scheduler and brings them up to date by replaying the log's new events in commit
/// order (the same calls in the same order as a single process would make, so a deterministic tuner proposes the same
/// configurations), and takes every decision (start a trial with the tuner's next configuration, queue a promoted
/// trial's next rung, re-queue a lapsed segment) inside the store's transaction, right after catching up. A segment runs
/// under a lease renewed by heartbeats; its result is written only while the lease holds, so a worker presumed dead
/// cannot count a trial twice. Any worker can die and any new one can join or restart: it replays the log from the start.
/// Supports the single-fidelity scheduler and ASHA (asynchronous, so no worker waits for a rung to fill); Hyperband's
/// synchronous rungs are refused by <see cref="SearchExperiment"/>.
/// </summary>
internal sealed class DistributedRun
{
    private readonly ExperimentRun.Settings _initialSettings;
    private readonly Func<ITuner> _createTuner;
    private readonly Func<ITrialScheduler> _createScheduler;
    private readonly StorageSettings _storage;
    private readonly ExperimentStore _store;
    private readonly string _worker;
    private readonly string _stateRoot;
    private readonly string _cacheRoot;
    private readonly Dictionary<int, ExperimentRun.TrialState> _trials = new();
    private readonly Stopwatch _clock = new();
    private long _cursor;
    private int _nextTrialId;
    private int _startedTrials;
    private bool _noMoreTrials;
    private bool _tunerExhausted;
    private ExperimentRun.Settings _settings;
    // Set while a transaction may have changed the tuner, scheduler or trials without committing: they are rebuilt from the log.
    private bool _uncommitted;

    /// <summary>A worker; the tuner and scheduler in <paramref name="settings"/> are the first of those <paramref name="createTuner"/>
    /// and <paramref name="createScheduler"/> make (new ones replace them when a transaction fails after changing them).
    /// <paramref name="sharedFolder"/> holds trial state and the cache; <paramref name="store"/> was opened with <paramref name="storage"/>.</summary>
    public DistributedRun(ExperimentRun.Settings settings, Func<ITuner> createTuner, Func<ITrialScheduler> createScheduler, StorageSettings storage,
        ExperimentStore store, string sharedFolder)
    {
        _initialSettings = settings;
        _settings = settings;
        _createTuner = createTuner;
        _createScheduler = createScheduler;
        _storage = storage;
        _store = store;
        _worker = string.Create(CultureInfo.InvariantCulture, $"{Environment.MachineName}/{Environment.ProcessId}/{Guid.NewGuid().ToString("N")[..8]}");
        _stateRoot = Path.Combine(sharedFolder, "trials");
        _cacheRoot = Path.Combine(sharedFolder, "cache");
        Directory.CreateDirectory(_cacheRoot);
    }

    /// <summary>This worker's name in the store (the <c>worker</c> column of events and segments).</summary>
    public string Worker => _worker;

    private TimeSpan Elapsed => _clock.Elapsed;

    public async Task<SearchResult> RunAsync(CancellationToken cancellationToken)
    {
        _clock.Start();
        SearchStopReason reason = await LoopAsync(cancellationToken).ConfigureAwait(false);
        // The leaderboard of everything committed so far, also what other workers finished meanwhile.
        await LockedAsync(async tx =>
        {
            await CatchUpAsync(tx, CancellationToken.None).ConfigureAwait(false);
            return 0;
        }, CancellationToken.None).ConfigureAwait(false);
        return new SearchResult(Leaderboard(), reason, Elapsed, _settings.Scheduler.MaxFidelity);
    }

    private async Task<SearchStopReason> LoopAsync(CancellationToken cancellationToken)
    {
        TimeSpan poll = TimeSpan.FromMilliseconds(Math.Clamp(_storage.HeartbeatInterval.TotalMilliseconds, 50, 2000));
        int? lastTrial = null;
        while (true)
        {
            if (cancellationToken.IsCancellationRequested) return SearchStopReason.Cancelled;
            if (ExperimentRun.SearchBudget(_settings, ExperimentRun.ReservedAfterSearch(_settings, Leaderboard)) is TimeSpan budget && Elapsed >= budget)
                return SearchStopReason.TimeBudget;

            Claim claim;
            try
            {
                claim = await LockedAsync(tx => ClaimAsync(tx, lastTrial, cancellationToken), cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return SearchStopReason.Cancelled;
            }
            switch (claim.Kind)
            {
                case ClaimKind.Finished:
                    return _tunerExhausted ? SearchStopReason.SearchSpaceExhausted : SearchStopReason.MaxTrials;
                case ClaimKind.Wait:
                    // Other workers hold every remaining segment; one of them may report a promotion or lapse.
                    try
                    {
                        await Task.Delay(poll, cancellationToken).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                        return SearchStopReason.Cancelled;
                    }
                    continue;
            }

            lastTrial = claim.TrialId;
            Segment segment = await RunSegmentAsync(claim, cancellationToken).ConfigureAwait(false);
            if (segment.LeaseLost) continue; // presumed dead meanwhile: the store re-queued the segment, the result is not ours to write
            if (segment.Stopped)
            {
                // Paused by the caller or the budget: the segment goes back to the queue for any worker (or this one, resumed).
                // The attempt goes back too: the retry limit is for workers that die running a segment, not for pauses.
                await LockedAsync(tx => tx.ReleaseAsync(claim.TrialId, claim.Lease, SegmentState.Queued, grace: null, CancellationToken.None, returnAttempt: true),
                    CancellationToken.None).ConfigureAwait(false);
                // This process's leaderboard says what stopped it, as the single-process loop's does; the store records
                // nothing (the segment is queued again), so a later result from any worker replaces the note.
                ExperimentRun.TrialState stopped = _trials[claim.TrialId];
                stopped.Duration += segment.Duration;
                stopped.Status = stopped.Rungs.Count > 0 ? TrialStatus.Paused : TrialStatus.Cancelled;
                stopped.ErrorMessage = ExperimentRun.StoppedMessage(stopped, segment.Duration, claim.Fidelity, cancellationToken.IsCancellationRequested)
                    + " Its segment is queued again in the store for any worker.";
                Report(TrialReportKind.Stopped, stopped, stopped.Rungs.Count > 0 ? stopped.Rungs[^1].Fidelity : claim.Fidelity, replayed: false);
                return cancellationToken.IsCancellationRequested ? SearchStopReason.Cancelled : SearchStopReason.TimeBudget;
            }
            await LockedAsync(tx => ReportAsync(tx, claim, segment), CancellationToken.None).ConfigureAwait(false);
            // As in one process: a trial function that fails for every configuration must not spin until the budget ends.
            // Judged on the store's trials (every worker's), so each worker stops at its next failure once twenty failed.
            if (segment.Failure is not null && !segment.NotStarted && !segment.TimedOut && ExperimentRun.EveryTrialFailed(_trials.Values))
                return SearchStopReason.EveryTrialFailed;
        }
    }

    /// <summary>Catches up, re-queues lapsed segments, then claims: a queued segment first (this worker's last trial
    /// preferred, its state is local), else the scheduler's next job with the tuner's next configuration.</summary>
    private async Task<Claim> ClaimAsync(ExperimentStore.StoreTransaction tx, int? lastTrial, CancellationToken cancellationToken)
    {
        await CatchUpAsync(tx, cancellationToken).ConfigureAwait(false);
        await RequeueLapsedAsync(tx, cancellationToken).ConfigureAwait(false);
        List<StoredSegment> active = await tx.ActiveSegmentsAsync(cancellationToken).ConfigureAwait(false);
        string lease = Guid.NewGuid().ToString("N");

        StoredSegment? queued = active.Where(s => s.State == SegmentState.Queued)
            .OrderBy(s => s.TrialId == lastTrial ? 0 : 1).ThenBy(s => s.TrialId).FirstOrDefault();
        if (queued is not null)
        {
            await tx.PutSegmentAsync(queued.TrialId, queued.PreviousFidelity, queued.Fidelity, SegmentState.Running, lease, _worker, queued.Attempts + 1,
                cancellationToken).ConfigureAwait(false);
            return Claim.Of(queued.TrialId, queued.PreviousFidelity, queued.Fidelity, lease);
        }

        bool canStartNew = !_noMoreTrials && !_tunerExhausted && _startedTrials < _settings.MaxTrials;
        if (!canStartNew && !_noMoreTrials && !_tunerExhausted)
            await AppendAsync(tx, new JournalEvent(JournalEventType.NoMoreTrials, -1, null, null, null, null, 0, Elapsed.TotalMilliseconds), cancellationToken)
                .ConfigureAwait(false);
        while (true)
        {
            SchedulerJob? job = _settings.Scheduler.NextJob(canStartNew);
            if (job is null) return active.Count > 0 ? Claim.Waiting : Claim.Done;
            if (job.Kind == SchedulerJobKind.Continue)
            {
                // Continuations are queued when their promotion is committed; one still here is queued and claimed now.
                await AppendAsync(tx, new JournalEvent(JournalEventType.Continued, job.TrialId, null, job.Fidelity, null, null, 0, Elapsed.TotalMilliseconds),
                    cancellationToken).ConfigureAwait(false);
                await tx.PutSegmentAsync(job.TrialId, job.PreviousFidelity, job.Fidelity, SegmentState.Running, lease, _worker, 1, cancellationToken)
                    .ConfigureAwait(false);
                return Claim.Of(job.TrialId, job.PreviousFidelity, job.Fidelity, lease);
            }

            int trialId = _nextTrialId;
            Parameters? proposed = ExperimentRun.ProposeUntried(_settings, _trials.Values.Select(t => t.Parameters), trialId);
            if (proposed is null)
            {
                await AppendAsync(tx, new JournalEvent(JournalEventType.TunerExhausted, trialId, null, null, null, null, 0, Elapsed.TotalMilliseconds),
                    cancellationToken).ConfigureAwait(false);
                canStartNew = false;
                continue;
            }
            if (!_settings.SearchSpace.Contains(proposed))
                throw new InvalidOperationException($"The tuner proposed a configuration outside the search space: {proposed}.");
            await AppendAsync(tx, new JournalEvent(JournalEventType.Started, trialId, proposed, job.Fidelity, null, null, 0, Elapsed.TotalMilliseconds),
                cancellationToken, proposedLive: true).ConfigureAwait(false);
            await tx.PutSegmentAsync(trialId, null, job.Fidelity, SegmentState.Running, lease, _worker, 1, cancellationToken).ConfigureAwait(false);
            return Claim.Of(trialId, null, job.Fidelity, lease);
        }
    }

    /// <summary>Writes a segment's outcome if this worker still holds its lease (within the grace period), then queues the
    /// continuation its promotion asks for, in the same transaction, so no promotion is lost or decided twice.</summary>
    private async Task<bool> ReportAsync(ExperimentStore.StoreTransaction tx, Claim claim, Segment segment)
    {
        await CatchUpAsync(tx, CancellationToken.None).ConfigureAwait(false);
        if (!await tx.ReleaseAsync(claim.TrialId, claim.Lease, SegmentState.Done, _storage.LeaseGracePeriod, CancellationToken.None).ConfigureAwait(false))
        {
            Trace.TraceWarning($"MlNetSsl.AutoML: worker {_worker} lost the lease of trial {claim.TrialId}; its result is discarded.");
            return false;
        }
        JournalEvent outcome = segment.Failure is string message
            ? new JournalEvent(segment.NotStarted ? JournalEventType.NotStarted : segment.TimedOut ? JournalEventType.TimedOut : JournalEventType.Failed, claim.TrialId, null, claim.Fidelity, null, message,
                segment.Duration.TotalMilliseconds, Elapsed.TotalMilliseconds)
            : new JournalEvent(JournalEventType.Result, claim.TrialId, null, claim.Fidelity, segment.Metric, null, segment.Duration.TotalMilliseconds, Elapsed.TotalMilliseconds);
        await AppendAsync(tx, outcome, CancellationToken.None).ConfigureAwait(false);
        await QueueContinuationAsync(tx, CancellationToken.None).ConfigureAwait(false);
        return true;
    }

    /// <summary>A promotion just applied leaves its continuation with the scheduler (ASHA holds one at a time): it becomes a
    /// queued segment now, before another result could replace it.</summary>
    private async Task QueueContinuationAsync(ExperimentStore.StoreTransaction tx, CancellationToken cancellationToken)
    {
        SchedulerJob? next = _settings.Scheduler.NextJob(canStartNew: false);
        if (next is not { Kind: SchedulerJobKind.Continue }) return;
        await AppendAsync(tx, new JournalEvent(JournalEventType.Continued, next.TrialId, null, next.Fidelity, null, null, 0, Elapsed.TotalMilliseconds),
            cancellationToken).ConfigureAwait(false);
        await tx.PutSegmentAsync(next.TrialId, next.PreviousFidelity, next.Fidelity, SegmentState.Queued, null, null, 0, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Segments whose worker stopped renewing the lease go back to the queue, or fail once
    /// <see cref="StorageSettings.MaxAttempts"/> workers held them.</summary>
    private async Task RequeueLapsedAsync(ExperimentStore.StoreTransaction tx, CancellationToken cancellationToken)
    {
        List<int> lapsed = await tx.LapsedTrialsAsync(_storage.LeaseGracePeriod, cancellationToken).ConfigureAwait(false);
        if (lapsed.Count == 0) return;
        Dictionary<int, StoredSegment> segments = (await tx.ActiveSegmentsAsync(cancellationToken).ConfigureAwait(false)).ToDictionary(s => s.TrialId);
        foreach (int trialId in lapsed)
        {
            StoredSegment segment = segments[trialId];
            string who = $"worker {segment.Worker ?? "?"} stopped renewing its lease on trial {trialId} for {_storage.LeaseGracePeriod.TotalSeconds:0.#} s";
            if (segment.Attempts < _storage.MaxAttempts)
            {
                await tx.PutSegmentAsync(trialId, segment.PreviousFidelity, segment.Fidelity, SegmentState.Queued, null, null, segment.Attempts, cancellationToken)
                    .ConfigureAwait(false);
                await AppendAsync(tx, new JournalEvent(JournalEventType.Requeued, trialId, null, segment.Fidelity, null, who + "; re-queued", 0,
                    Elapsed.TotalMilliseconds), cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await tx.PutSegmentAsync(trialId, segment.PreviousFidelity, segment.Fidelity, SegmentState.Done, null, null, segment.Attempts, cancellationToken)
                    .ConfigureAwait(false);
                await AppendAsync(tx, new JournalEvent(JournalEventType.Failed, trialId, null, segment.Fidelity, null,
                    string.Create(CultureInfo.InvariantCulture, $"{who}, after {segment.Attempts} attempt(s) (the retry limit); the trial failed."), 0,
                    Elapsed.TotalMilliseconds), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Runs <paramref name="body"/> in a store transaction. The body changes the in-memory tuner, scheduler and
    /// trials as it appends events; when a transaction fails after that (a lost connection: the store retries the body, or
    /// gives up), they no longer match the store, so they are rebuilt from the log's start before the next body runs.</summary>
    private async Task<T> LockedAsync<T>(Func<ExperimentStore.StoreTransaction, Task<T>> body, CancellationToken cancellationToken)
    {
        T result = await _store.InTransactionAsync(async tx =>
        {
            if (_uncommitted) Reset();
            _uncommitted = true;
            return await body(tx).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
        _uncommitted = false;
        return result;
    }

    private void Reset()
    {
        _settings = _initialSettings with { Tuner = _createTuner(), Scheduler = _createScheduler() };
        _trials.Clear();
        _cursor = 0;
        _nextTrialId = 0;
        _startedTrials = 0;
        _noMoreTrials = false;
        _tunerExhausted = false;
    }

    private async Task CatchUpAsync(ExperimentStore.StoreTransaction tx, CancellationToken cancellationToken)
    {
        foreach (StoredEvent stored in await tx.ReadEventsAsync(_cursor, cancellationToken).ConfigureAwait(false))
        {
            Apply(stored.Event, proposedLive: false, replayed: true);
            _cursor = stored.Sequence;
        }
    }

    private async Task AppendAsync(ExperimentStore.StoreTransaction tx, JournalEvent journalEvent, CancellationToken cancellationToken, bool proposedLive = false)
    {
        long sequence = await tx.AppendAsync(journalEvent, _worker, cancellationToken).ConfigureAwait(false);
        Apply(journalEvent, proposedLive, replayed: false);
        _cursor = sequence;
    }

    /// <summary>Applies one logged event to the tuner, the scheduler and the trials, exactly as the single-process loop
    /// makes those calls. A replayed start asks the tuner again (advancing it as the live proposal did) and checks it
    /// proposes the logged configuration.</summary>
    private void Apply(JournalEvent e, bool proposedLive, bool replayed)
    {
        ExperimentRun.TrialState? trial;
        switch (e.Type)
        {
            case JournalEventType.Started:
                Parameters logged = e.Parameters ?? throw Mismatch("a configuration", e);
                if (!proposedLive)
                {
                    Parameters? replayedProposal = ExperimentRun.ProposeUntried(_settings, _trials.Values.Select(t => t.Parameters), e.TrialId);
                    if (replayedProposal is null || !replayedProposal.Equals(logged)) throw Mismatch($"trial {e.TrialId} to start with {replayedProposal}", e);
                }
                if (e.TrialId != _nextTrialId) throw Mismatch($"trial {_nextTrialId} to start", e);
                trial = new ExperimentRun.TrialState(e.TrialId, logged);
                _trials[e.TrialId] = trial;
                _nextTrialId++;
                _startedTrials++;
                _settings.Scheduler.OnJobStarted(e.TrialId, new SchedulerJob(SchedulerJobKind.StartNew, -1, null, e.Fidelity));
                if (replayed) Report(TrialReportKind.Running, trial, e.Fidelity, replayed); // a live start reports when it runs
                break;

            case JournalEventType.Continued:
                trial = Known(e);
                trial.Status = TrialStatus.Paused;
                _settings.Scheduler.OnJobStarted(e.TrialId, new SchedulerJob(SchedulerJobKind.Continue, e.TrialId, trial.Rungs.Count > 0 ? trial.Rungs[^1].Fidelity : null, e.Fidelity));
                break;

            case JournalEventType.Result:
                trial = Known(e);
                var duration = e.Duration;
                trial.Rungs.Add(new RungResult(e.Fidelity, e.Metric ?? throw Mismatch("a metric", e), duration));
                trial.ErrorMessage = null; // a stop this process saw earlier no longer explains the trial
                trial.Duration += duration;
                trial.Status = TrialStatus.Paused;
                _settings.Scheduler.OnResult(e.TrialId, e.Fidelity, Loss(e.Metric.Value));
                ApplyDecisions(replayed);
                if (trial.Status == TrialStatus.Paused) Report(TrialReportKind.RungCompleted, trial, e.Fidelity, replayed);
                break;

            case JournalEventType.Failed:
            case JournalEventType.NotStarted: // declined by its runner: no time spent
            case JournalEventType.TimedOut:
                (TrialStatus status, TrialReportKind reported) = ExperimentRun.Ended(e.Type);
                trial = Known(e);
                trial.Duration += e.Duration;
                // A promotion its runner declined leaves the trial at its last rung, with that rung's metric, as in a single process.
                trial.Status = e.Type == JournalEventType.NotStarted && trial.Rungs.Count > 0 ? TrialStatus.Paused : status;
                trial.ErrorMessage = e.Message;
                _settings.Scheduler.OnFailed(e.TrialId);
                _settings.Tuner.Update(ToResult(trial));
                Report(reported, trial, e.Fidelity, replayed);
                ApplyDecisions(replayed);
                break;

            case JournalEventType.Requeued:
                Known(e).Status = TrialStatus.Paused; // until a worker claims it again
                break;

            case JournalEventType.NoMoreTrials:
                _noMoreTrials = true;
                break;

            case JournalEventType.TunerExhausted:
                _tunerExhausted = true;
                break;
        }
    }

    private ExperimentRun.TrialState Known(JournalEvent e) =>
        _trials.TryGetValue(e.TrialId, out ExperimentRun.TrialState? trial) ? trial : throw Mismatch($"trial {e.TrialId} to have started", e);

    private InvalidOperationException Mismatch(string expected, JournalEvent recorded) => new(
        $"The experiment '{_storage.ExperimentName}' in {_store.Description} does not match this worker's replay: expected {expected}, but the store " +
        $"records {recorded.Type} of trial {recorded.TrialId}{(recorded.Parameters is null ? "" : $" with {recorded.Parameters}")}. Every worker of one " +
        "experiment must run the same version of the code with the same settings, and the tuner must be deterministic given its seed.");

    private void ApplyDecisions(bool replayed) => ExperimentRun.ApplyDecisions(_settings, _trials,
        (kind, trial) => Report(kind, trial, trial.Rungs[^1].Fidelity, replayed), pruned: null);

    private double Loss(double metric) => _settings.Maximize ? -metric : metric;

    private TrialResult ToResult(ExperimentRun.TrialState trial) => ExperimentRun.ToResult(trial, _settings.Maximize);

    /// <summary>Runs the claimed segment while a background loop renews its lease; a lost lease cancels the trial.</summary>
    private async Task<Segment> RunSegmentAsync(Claim claim, CancellationToken cancellationToken)
    {
        ExperimentRun.TrialState trial = _trials[claim.TrialId];
        trial.Status = TrialStatus.Running;
        string stateDirectory = Path.Combine(_stateRoot, $"trial-{claim.TrialId.ToString("D4", CultureInfo.InvariantCulture)}");
        Directory.CreateDirectory(stateDirectory);
        // Only the refits of trials whose measures this process wrote, or read when it started, are known; others count as nothing.
        TimeSpan reserved = ExperimentRun.ReservedAfterSearch(_settings, Leaderboard);
        TimeSpan? searchBudget = ExperimentRun.SearchBudget(_settings, reserved);
        var request = new TrialRequest(claim.TrialId, trial.Parameters, claim.PreviousFidelity, claim.Fidelity, _settings.Scheduler.MaxFidelity,
            stateDirectory, _cacheRoot, ExperimentRun.TrialSeed(_settings.Seed, claim.TrialId))
        {
            RemainingBudget = searchBudget is TimeSpan total ? (total - Elapsed > TimeSpan.Zero ? total - Elapsed : TimeSpan.Zero) : null,
            ReservedAfterSearch = reserved,
            SearchHasAMetric = _trials.Values.Any(t => t.Rungs.Count > 0),
        };
        Report(TrialReportKind.Running, trial, claim.Fidelity, replayed: false);

        using var trialCancellation = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (searchBudget is TimeSpan budget && request.SearchHasAMetric)
        {
            TimeSpan remaining = budget - Elapsed;
            trialCancellation.CancelAfter(ExperimentRun.TimerDelay(remaining));
        }
        using var heartbeatStop = new CancellationTokenSource();
        bool leaseLost = false;
        Task heartbeat = Task.Run(async () =>
        {
            while (!heartbeatStop.IsCancellationRequested)
            {
                try
                {
                    await Task.Delay(ExperimentRun.TimerDelay(_storage.HeartbeatInterval), heartbeatStop.Token).ConfigureAwait(false);
                    if (!await _store.HeartbeatAsync(claim.TrialId, claim.Lease, _storage.LeaseGracePeriod, heartbeatStop.Token).ConfigureAwait(false))
                    {
                        leaseLost = true;
                        await trialCancellation.CancelAsync().ConfigureAwait(false);
                        return;
                    }
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                catch (Exception e) when (e is System.Data.Common.DbException or IOException or TimeoutException)
                {
                    // The store stayed unreachable through the retries: keep trying; if the lease lapses meanwhile, the report says so.
                    Trace.TraceWarning($"MlNetSsl.AutoML: heartbeat of trial {claim.TrialId} failed: {e.Message}");
                }
            }
        }, CancellationToken.None);

        var watch = Stopwatch.StartNew();
        Task<double> task = Task.Run(() => _settings.Runner.RunAsync(request, trialCancellation.Token), CancellationToken.None);
        var memory = new ExperimentRun.MemoryWatch();
        Task monitor = _settings.MemoryLimitMegabytes is double megabytes
            ? ExperimentRun.MonitorMemoryAsync(task, trialCancellation, (long)(megabytes * 1024 * 1024), claim.TrialId, memory)
            : Task.CompletedTask;
        try
        {
            await task.ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Read below from the task.
        }
        watch.Stop();
        await monitor.ConfigureAwait(false);
        await heartbeatStop.CancelAsync().ConfigureAwait(false);
        await heartbeat.ConfigureAwait(false);

        if (leaseLost) return new Segment(0, null, watch.Elapsed, LeaseLost: true, Stopped: false);
        if (memory.Failure is string memoryFailure) return new Segment(0, memoryFailure, watch.Elapsed, false, false);
        if (task.IsCompletedSuccessfully)
        {
            double metric = task.Result;
            return double.IsFinite(metric)
                ? new Segment(metric, null, watch.Elapsed, false, false)
                : new Segment(0, $"The trial returned a non-finite metric ({metric.ToString(CultureInfo.InvariantCulture)}).", watch.Elapsed, false, false);
        }
        Exception error = task.Exception?.InnerExceptions.Count == 1 ? task.Exception.InnerException! : (Exception?)task.Exception ?? new OperationCanceledException();
        if (error is TrialNotStartedException declined) return new Segment(0, declined.Message, TimeSpan.Zero, false, false, NotStarted: true);
        if (trialCancellation.IsCancellationRequested) return new Segment(0, null, watch.Elapsed, LeaseLost: false, Stopped: true);
        if (error is TrialTimedOutException timedOut) return new Segment(0, timedOut.Message, watch.Elapsed, false, false, TimedOut: true);
        return new Segment(0, $"{error.GetType().Name}: {error.Message}", watch.Elapsed, false, false);
    }

    private void Report(TrialReportKind kind, ExperimentRun.TrialState trial, int? fidelity, bool replayed)
    {
        if (_settings.Progress is null) return;
        TrialRecord? best = Leaderboard().FirstOrDefault(t => t.Metric.HasValue);
        _settings.Progress.Report(new SslTrialReport(kind, trial.ToRecord(), fidelity, best, Elapsed, _startedTrials, replayed));
    }

    private List<TrialRecord> Leaderboard() => ExperimentRun.Leaderboard(_trials.Values, _settings.Maximize);

    private enum ClaimKind
    {
        Run,
        Wait,
        Finished,
    }

    private sealed record Claim(ClaimKind Kind, int TrialId, int? PreviousFidelity, int? Fidelity, string Lease)
    {
        public static Claim Waiting { get; } = new(ClaimKind.Wait, -1, null, null, "");

        public static Claim Done { get; } = new(ClaimKind.Finished, -1, null, null, "");

        public static Claim Of(int trialId, int? previousFidelity, int? fidelity, string lease) => new(ClaimKind.Run, trialId, previousFidelity, fidelity, lease);
    }

    private readonly record struct Segment(double Metric, string? Failure, TimeSpan Duration, bool LeaseLost, bool Stopped, bool NotStarted = false, bool TimedOut = false);
}
