namespace MlNetSsl.AutoML;

/// <summary>
/// Trains and evaluates one configuration up to a fidelity, like ML.NET AutoML's <c>ITrialRunner</c>. With a
/// multi-fidelity scheduler a trial is run in segments: first to the lowest rung, then, if promoted, from
/// <see cref="TrialRequest.PreviousFidelity"/> to the next rung. Keep what a continuation needs (weights, optimizer
/// state) in <see cref="TrialRequest.StateDirectory"/> so a segment resumes instead of restarting, also after the
/// process restarted.
/// </summary>
public interface ITrialRunner
{
    /// <summary>Runs the segment and returns its metric (higher or lower is better as the experiment is set).</summary>
    /// <param name="request">The configuration, fidelity and state folder.</param>
    /// <param name="cancellationToken">Cancelled when the time budget is spent, the caller cancels or memory runs over;
    /// throw <see cref="OperationCanceledException"/> promptly.</param>
    Task<double> RunAsync(TrialRequest request, CancellationToken cancellationToken);
}

/// <summary>One segment of a trial for an <see cref="ITrialRunner"/> to run.</summary>
public sealed class TrialRequest
{
    internal TrialRequest(int trialId, Parameters parameters, int? previousFidelity, int? fidelity, int? maxFidelity,
        string stateDirectory, string cacheDirectory, int seed)
    {
        TrialId = trialId;
        Parameters = parameters;
        PreviousFidelity = previousFidelity;
        Fidelity = fidelity;
        MaxFidelity = maxFidelity;
        StateDirectory = stateDirectory;
        CacheDirectory = cacheDirectory;
        Seed = seed;
    }

    /// <summary>The trial's id.</summary>
    public int TrialId { get; }

    /// <summary>The configuration to train.</summary>
    public Parameters Parameters { get; }

    /// <summary>The fidelity this trial already reached in an earlier segment (its state holds that work); null for a
    /// first segment.</summary>
    public int? PreviousFidelity { get; }

    /// <summary>The fidelity (epochs) to train up to; null means full training as the configuration says
    /// (no multi-fidelity scheduler).</summary>
    public int? Fidelity { get; }

    /// <summary>The scheduler's maximum fidelity; null without multi-fidelity scheduling.</summary>
    public int? MaxFidelity { get; }

    /// <summary>The experiment's time budget left for the search when this segment started (the budget less the time
    /// elapsed and the time kept for the refit after the search); null without a time budget. A runner can derive a
    /// per-trial time cap from it.</summary>
    public TimeSpan? RemainingBudget { get; internal init; }

    /// <summary>The part of the time budget kept for the work after the search (the refit of the best trial so far) when
    /// this segment started; <see cref="RemainingBudget"/> already leaves it out. Zero when nothing is kept.</summary>
    internal TimeSpan ReservedAfterSearch { get; init; }

    /// <summary>Whether any trial of the experiment had reported a metric when this segment started.</summary>
    internal bool SearchHasAMetric { get; init; }

    /// <summary>True for a continuation of a trial that already reported at a lower rung.</summary>
    public bool IsContinuation => PreviousFidelity.HasValue;

    /// <summary>A folder private to this trial that persists between its segments (and across a resume when the
    /// experiment has a checkpoint folder). Deleted once the trial is pruned or fails.</summary>
    public string StateDirectory { get; }

    /// <summary>A folder shared by all trials of the experiment, for artifacts keyed by <see cref="GetCacheKey"/>.</summary>
    public string CacheDirectory { get; }

    /// <summary>A seed for the trial's own randomness, derived from the experiment seed and the trial id.</summary>
    public int Seed { get; }

    /// <summary>A key shared by every trial whose parameters agree on <paramref name="parameterNames"/> (dotted paths allowed),
    /// for example the SSL pretraining options, so they can reuse one cached artifact in <see cref="CacheDirectory"/>.</summary>
    public string GetCacheKey(params string[] parameterNames) => Parameters.ComputeSubsetHash(parameterNames);
}

/// <summary>An <see cref="ITrialRunner"/> around a delegate.</summary>
internal sealed class DelegateTrialRunner : ITrialRunner
{
    private readonly Func<TrialRequest, CancellationToken, Task<double>> _run;

    public DelegateTrialRunner(Func<TrialRequest, CancellationToken, Task<double>> run) => _run = run;

    public Task<double> RunAsync(TrialRequest request, CancellationToken cancellationToken) => _run(request, cancellationToken);
}
