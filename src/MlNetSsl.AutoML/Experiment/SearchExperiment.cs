namespace MlNetSsl.AutoML;

/// <summary>
/// The generic AutoML engine, shaped like ML.NET's <c>AutoMLExperiment</c>: a search space, a trial runner, a tuner and
/// a multi-fidelity scheduler, run one trial at a time under a time budget, a trial limit and a memory limit, with a
/// leaderboard, progress reports and an optional checkpoint folder from which a paused or crashed experiment resumes to
/// the same leaderboard it would have reached uninterrupted. The ML.NET and SSL experiments are built on it.
/// </summary>
/// <example>
/// <code>
/// var result = await new SearchExperiment()
///     .SetSearchSpace(new SearchSpace().WithNumeric("lr", 1e-4, 1e-1, logBase: true))
///     .SetTrialRunner(async (request, token) => await TrainAndScoreAsync(request, token))
///     .SetTuner(SslTuner.Tpe)
///     .SetScheduler(SslScheduler.Asha(minEpochs: 1, maxEpochs: 27))
///     .SetMaxTrials(40)
///     .SetCheckpoint("runs/lr-search")
///     .RunAsync(cancellationToken);
/// </code>
/// </example>
public sealed class SearchExperiment
{
    /// <summary>How many failed trials, with no trial producing a metric, end a search with
    /// <see cref="SearchStopReason.EveryTrialFailed"/>: 20. With a shared store the count is over every worker's trials.</summary>
    public const int FailuresBeforeGivingUp = 20;

    private SearchSpace? _searchSpace;
    private ITrialRunner? _runner;
    private SslTuner _tuner = SslTuner.Tpe;
    private SslScheduler _scheduler = SslScheduler.None;
    private bool _maximize = true;
    private TimeSpan? _timeBudget;
    private int? _maxTrials;
    private double? _memoryLimitMegabytes;
    private string? _checkpointFolder;
    private int _seed;
    private IProgress<SslTrialReport>? _progress;
    private TimeSpan _gracePeriod = TimeSpan.FromSeconds(5);
    private string _runnerDescription = string.Empty;
    private Func<Parameters, Parameters?>? _effectiveConfiguration;
    private Func<IReadOnlyList<TrialRecord>, TimeSpan>? _timeAfterSearch;
    private Func<IReadOnlyList<TrialRecord>, bool>? _unmeasuredMayFit;
    private Func<Parameters, string>? _segmentKind;
    private bool _waitForAbandonedTrials;
    private string? _storage;
    private string _experimentName = DefaultExperimentName;
    private TimeSpan _leaseGracePeriod = TimeSpan.FromSeconds(60);

    /// <summary>The experiment name used in a store when none is set.</summary>
    internal const string DefaultExperimentName = "default";

    /// <summary>How many workers may hold a trial's segment before it fails: the first and two re-queues after a worker
    /// was presumed dead. A trial that kills every worker that runs it (out of memory) must not take the whole fleet down.</summary>
    internal const int MaxSegmentAttempts = 3;

    /// <summary>Sets the space to search (required). A snapshot is taken when the experiment runs.</summary>
    public SearchExperiment SetSearchSpace(SearchSpace searchSpace)
    {
        _searchSpace = searchSpace ?? throw new ArgumentNullException(nameof(searchSpace));
        return this;
    }

    /// <summary>Sets what trains and evaluates a configuration (required).</summary>
    public SearchExperiment SetTrialRunner(ITrialRunner runner)
    {
        _runner = runner ?? throw new ArgumentNullException(nameof(runner));
        return this;
    }

    /// <summary>Sets what trains and evaluates a configuration (required), as a delegate.</summary>
    public SearchExperiment SetTrialRunner(Func<TrialRequest, CancellationToken, Task<double>> run)
    {
        ArgumentNullException.ThrowIfNull(run);
        _runner = new DelegateTrialRunner(run);
        return this;
    }

    /// <summary>Sets the tuner. Default: <see cref="SslTuner.Tpe"/>.</summary>
    public SearchExperiment SetTuner(SslTuner tuner)
    {
        _tuner = tuner ?? throw new ArgumentNullException(nameof(tuner));
        return this;
    }

    /// <summary>Sets the multi-fidelity scheduler. Default: <see cref="SslScheduler.None"/>.</summary>
    public SearchExperiment SetScheduler(SslScheduler scheduler)
    {
        _scheduler = scheduler ?? throw new ArgumentNullException(nameof(scheduler));
        return this;
    }

    /// <summary>Whether a higher metric is better. Default: true.</summary>
    public SearchExperiment SetIsMaximize(bool maximize)
    {
        _maximize = maximize;
        return this;
    }

    /// <summary>Sets the time budget. Once it is spent no trial starts, and a running trial is cancelled through its
    /// token as soon as at least one trial has reported a metric (the first one is allowed to finish, so there is
    /// always a result). Default: none (set this or <see cref="SetMaxTrials"/>).</summary>
    public SearchExperiment SetTrainingTimeInSeconds(uint seconds)
    {
        if (seconds == 0) throw new ArgumentOutOfRangeException(nameof(seconds), "The time budget must be at least one second.");
        _timeBudget = TimeSpan.FromSeconds(seconds);
        return this;
    }

    /// <summary>The time budget set; null without one.</summary>
    internal TimeSpan? TimeBudget => _timeBudget;

    /// <summary>Sets the time budget with sub-second precision. See <see cref="SetTrainingTimeInSeconds"/>.</summary>
    public SearchExperiment SetTrainingTime(TimeSpan budget)
    {
        if (budget <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(budget), "The time budget must be positive.");
        _timeBudget = budget;
        return this;
    }

    /// <summary>Sets the maximum number of trials started (continuations of promoted trials do not count).
    /// Default: none (set this or a time budget).</summary>
    public SearchExperiment SetMaxTrials(int maxTrials)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxTrials, 1);
        _maxTrials = maxTrials;
        return this;
    }

    /// <summary>Sets a limit on the process working set. While a trial runs the working set is checked every
    /// 100 ms; above the limit (after a full garbage collection) the trial is cancelled and fails with a message
    /// saying so, and the search goes on. Default: no limit.</summary>
    public SearchExperiment SetMaximumMemoryUsageInMegaByte(double megabytes)
    {
        if (!(megabytes > 0)) throw new ArgumentOutOfRangeException(nameof(megabytes), "The memory limit must be positive.");
        _memoryLimitMegabytes = megabytes;
        return this;
    }

    /// <summary>Sets a checkpoint folder: the journal of the search and every trial's state live there, and running
    /// the same experiment with the same folder again resumes it. Default: none (trial state goes to a temporary
    /// folder deleted at the end).</summary>
    public SearchExperiment SetCheckpoint(string folder)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(folder);
        _checkpointFolder = Path.GetFullPath(folder);
        return this;
    }

    /// <summary>Sets the seed of the tuner and of the per-trial seeds. Default: 0.</summary>
    public SearchExperiment SetSeed(int seed)
    {
        _seed = seed;
        return this;
    }

    /// <summary>Receives a report whenever a trial starts, reports a rung, completes, is pruned, fails or is stopped.
    /// Reports are sent synchronously from the experiment's loop.</summary>
    public SearchExperiment SetProgress(IProgress<SslTrialReport> progress)
    {
        _progress = progress ?? throw new ArgumentNullException(nameof(progress));
        return this;
    }

    /// <summary>How long a cancelled trial may take to stop before the experiment stops waiting for it (it is then
    /// abandoned; an uncooperative trial keeps running in the background). Default: 5 seconds. The SSL and ML.NET
    /// trainer experiments, which refit against the trials' cache, still wait for an abandoned trial to end before
    /// they refit and return.</summary>
    public SearchExperiment SetTrialCancellationGracePeriod(TimeSpan gracePeriod)
    {
        if (gracePeriod < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(gracePeriod), "The grace period cannot be negative.");
        _gracePeriod = gracePeriod;
        return this;
    }

    /// <summary>
    /// Shares the experiment through a database, so any number of processes on any machines that run the same experiment
    /// (same settings and <see cref="SetExperimentName"/>) share one search: the tuner learns from every trial in the store,
    /// each trial runs once, under a lease renewed by heartbeats, and a trial whose worker dies is re-queued for another
    /// (up to 3 attempts); any process can stop or die and a new one continues from the store. PostgreSQL
    /// (<c>Host=server;Database=db;Username=user;Password=...</c>) for several machines, SQLite (<c>Data Source=file.db</c>) for
    /// processes on one host. Trial state and the shared cache live in <see cref="SetCheckpoint"/>'s folder (put it on a
    /// shared file system for workers on several machines), else in a folder under the system's temporary folder named after
    /// the store and the experiment. Schedulers: none and ASHA (Hyperband's synchronous rungs would idle workers). The time
    /// budget and <see cref="SetMaximumMemoryUsageInMegaByte"/> apply to each process on its own (a trial over the memory
    /// limit fails; one that ignores its cancellation is waited for). See docs/distributed.md.
    /// </summary>
    /// <param name="connectionString">The database; the tables (<c>mlnetssl_*</c>) are created if missing.</param>
    public SearchExperiment SetStorage(string connectionString)
    {
        _ = ExperimentStore.IsPostgres(connectionString); // validates the form now, not when the experiment runs
        _storage = connectionString;
        return this;
    }

    /// <summary>Names the experiment in the store of <see cref="SetStorage"/>; workers with the same name share one search,
    /// and a name registered with other settings is refused. Default: "default".</summary>
    public SearchExperiment SetExperimentName(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        _experimentName = name;
        return this;
    }

    /// <summary>With <see cref="SetStorage"/>: how long a worker may go without renewing its lease (every quarter of this)
    /// before it is presumed dead and its trial re-queued; its result, if it comes back later, is discarded. Default: 60 s.</summary>
    public SearchExperiment SetHeartbeatGracePeriod(TimeSpan gracePeriod)
    {
        if (gracePeriod < TimeSpan.FromMilliseconds(200)) throw new ArgumentOutOfRangeException(nameof(gracePeriod), "The grace period must be at least 200 ms.");
        _leaseGracePeriod = gracePeriod;
        return this;
    }

    /// <summary>The store set with <see cref="SetStorage"/>, or null.</summary>
    internal string? Storage => _storage;

    /// <summary>Where trial state and the shared cache live: the checkpoint folder, or with a store and no checkpoint folder a
    /// folder under the temporary folder named after the store and the experiment (shared by the workers of one host); null
    /// for a plain single-process run without a checkpoint folder.</summary>
    internal string? SharedFolder => _checkpointFolder ?? (_storage is null ? null : Path.Combine(Path.GetTempPath(), "mlnetssl-shared-" +
        Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(_storage + "\n" + _experimentName)))[..16].ToLowerInvariant()));

    /// <summary>Describes what the trial runner evaluates (data, objective). It is part of the checkpoint's identity,
    /// so a checkpoint written for other data or another objective is refused. Default: empty.</summary>
    public SearchExperiment SetRunnerDescription(string description)
    {
        _runnerDescription = description ?? throw new ArgumentNullException(nameof(description));
        return this;
    }

    /// <summary>Reduces a configuration to what the trial runner reads, or null when it cannot run (conditional options:
    /// a trainer's settings do not apply when another trainer is chosen). Proposals that reduce to null, or to the
    /// reduction of a configuration that already ran, are handed back to the tuner instead of running. Default: none,
    /// configurations are compared whole.</summary>
    internal SearchExperiment SetEffectiveConfiguration(Func<Parameters, Parameters?> effective)
    {
        _effectiveConfiguration = effective ?? throw new ArgumentNullException(nameof(effective));
        return this;
    }

    /// <summary>Whether, given the leaderboard so far, a configuration still to be proposed may be cheaper than every segment
    /// measured so far, so the search goes on where what is left is shorter than all of them (one process; a shared
    /// experiment stops there). Null: it stops.</summary>
    internal SearchExperiment SetUnmeasuredMayFit(Func<IReadOnlyList<TrialRecord>, bool>? unmeasuredMayFit)
    {
        _unmeasuredMayFit = unmeasuredMayFit;
        return this;
    }

    /// <summary>Groups configurations by what a segment of theirs costs: a new trial does not start where every segment
    /// measured for its kind took longer than what is left of the budget (one process; a shared experiment compares
    /// with the shortest segment of any kind). Null, the default: one kind.</summary>
    internal SearchExperiment SetSegmentKind(Func<Parameters, string>? segmentKind)
    {
        _segmentKind = segmentKind;
        return this;
    }

    /// <summary>Keeps part of the time budget for the work after the search: given the leaderboard so far, how long the
    /// refit of the trial the caller will choose is expected to take. The search stops (and cuts a running trial) that much
    /// before the budget ends. Default: none, the search uses the whole budget.</summary>
    internal SearchExperiment SetTimeAfterSearch(Func<IReadOnlyList<TrialRecord>, TimeSpan>? timeAfterSearch)
    {
        _timeAfterSearch = timeAfterSearch;
        return this;
    }

    /// <summary>Makes <see cref="RunAsync"/> return only after every trial it stopped waiting for (cancelled, still running
    /// past the grace period) has ended. For experiments whose runners honour their token and that use the trials' cache
    /// afterwards (the refit of the SSL and trainer experiments): a trial left running would train against it meanwhile.
    /// A runner that ignores its token then delays the return until it finishes.</summary>
    internal SearchExperiment WaitForAbandonedTrials()
    {
        _waitForAbandonedTrials = true;
        return this;
    }

    /// <summary>Whether <see cref="WaitForAbandonedTrials"/> was set.</summary>
    internal bool WaitsForAbandonedTrials => _waitForAbandonedTrials;

    /// <summary>
    /// <see cref="RunAsync"/> for callers that are not asynchronous; the search runs on the thread pool, so a thread with a
    /// synchronization context does not deadlock.
    /// </summary>
    /// <param name="cancellationToken">Pauses the search (see <see cref="RunAsync"/>).</param>
    /// <returns>The result of <see cref="RunAsync"/>; its exceptions are thrown as they are, not wrapped.</returns>
    public SearchResult Run(CancellationToken cancellationToken = default) =>
        Task.Run(() => RunAsync(cancellationToken), CancellationToken.None).GetAwaiter().GetResult();

    /// <summary>
    /// Runs (or, with a checkpoint folder that already has a journal, resumes) the search until the trial limit, the
    /// time budget, tuner exhaustion or cancellation. Cancellation is a pause: it returns the leaderboard so far with
    /// <see cref="SearchStopReason.Cancelled"/>, and a later run with the same checkpoint folder continues.
    /// </summary>
    /// <exception cref="InvalidOperationException">The experiment is incomplete, or the checkpoint belongs to another experiment.</exception>
    public async Task<SearchResult> RunAsync(CancellationToken cancellationToken = default)
    {
        if (_searchSpace is null) throw new InvalidOperationException("Set a search space with SetSearchSpace before running.");
        if (_runner is null) throw new InvalidOperationException("Set a trial runner with SetTrialRunner before running.");
        if (_timeBudget is null && _maxTrials is null)
            throw new InvalidOperationException("Set a time budget (SetTrainingTimeInSeconds) or a trial limit (SetMaxTrials) before running.");

        SearchSpace space = _searchSpace.Clone();
        var fingerprint = new ExperimentFingerprint(space.ToJson(), _tuner.Name, _scheduler.Name, _seed, _maximize, _runnerDescription);
        // With a store the store is the journal; the checkpoint folder then only holds trial state and the cache.
        ExperimentJournal journal = _checkpointFolder is null || _storage is not null
            ? ExperimentJournal.InMemory(fingerprint)
            : ExperimentJournal.OpenOrCreate(_checkpointFolder, fingerprint);
        var settings = new ExperimentRun.Settings(
            space, _runner, _tuner.CreateTuner(space, _seed), _scheduler.CreateScheduler(), _maximize, _timeBudget,
            _maxTrials ?? int.MaxValue, _memoryLimitMegabytes, _seed, _progress, _gracePeriod, _checkpointFolder)
        {
            EffectiveConfiguration = _effectiveConfiguration,
            WaitForAbandonedTrials = _waitForAbandonedTrials,
            TimeAfterSearch = _timeAfterSearch,
            UnmeasuredMayFit = _unmeasuredMayFit,
            SegmentKind = _segmentKind,
        };
        if (_storage is not null) return await RunSharedAsync(space, fingerprint, settings, cancellationToken).ConfigureAwait(false);
        return await new ExperimentRun(settings, journal).RunAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task<SearchResult> RunSharedAsync(SearchSpace space, ExperimentFingerprint fingerprint, ExperimentRun.Settings settings,
        CancellationToken cancellationToken)
    {
        if (settings.Scheduler is not (SingleFidelityScheduler or AshaScheduler))
            throw new InvalidOperationException(
                $"The {_scheduler.Name} scheduler cannot share an experiment through a store: its rungs wait for every trial of a bracket, which " +
                "would leave workers idle. Use SslScheduler.Asha (asynchronous promotions) or SslScheduler.None with SetStorage.");
        ExperimentStore store;
        try
        {
            store = await ExperimentStore.OpenAsync(_storage!, _experimentName, fingerprint, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // A cancel is a pause, as in one process: a result saying so, not an exception, even before the store opened.
            return new SearchResult([], SearchStopReason.Cancelled, TimeSpan.Zero, settings.Scheduler.MaxFidelity);
        }
        var storage = new StorageSettings(_storage!, _experimentName, _leaseGracePeriod, MaxSegmentAttempts);
        return await new DistributedRun(settings, () => _tuner.CreateTuner(space, _seed), () => _scheduler.CreateScheduler(), storage, store, SharedFolder!)
            .RunAsync(cancellationToken).ConfigureAwait(false);
    }
}
