namespace MlNetSsl.AutoML;

/// <summary>Why an experiment stopped.</summary>
public enum SearchStopReason
{
    /// <summary>The trial limit was reached and the scheduler finished the trials it had.</summary>
    MaxTrials,

    /// <summary>The time budget was spent.</summary>
    TimeBudget,

    /// <summary>The caller's cancellation token was cancelled (a pause: the checkpoint can be resumed).</summary>
    Cancelled,

    /// <summary>The tuner had nothing left to propose (a finished grid) and the scheduler finished the trials it had.</summary>
    SearchSpaceExhausted,

    /// <summary>A trial exceeded the memory limit and did not stop when cancelled, so no further trial could start safely.</summary>
    MemoryLimit,

    /// <summary>The first trials all failed (<see cref="SearchExperiment.FailuresBeforeGivingUp"/> of them) and none produced
    /// a metric: a fault every configuration shares, such as a column the trial function cannot find, which more trials
    /// would only repeat until the budget ends.</summary>
    EveryTrialFailed,
}

/// <summary>The outcome of a <see cref="SearchExperiment"/>.</summary>
public sealed class SearchResult
{
    internal SearchResult(IReadOnlyList<TrialRecord> trials, SearchStopReason stopReason, TimeSpan elapsed, int? maxFidelity)
    {
        Trials = trials;
        StopReason = stopReason;
        Elapsed = elapsed;
        MaxFidelity = maxFidelity;
    }

    /// <summary>The leaderboard: trials with a metric first, higher fidelity first, then by metric (best first), then by id;
    /// trials without a metric (failed, cancelled) last.</summary>
    public IReadOnlyList<TrialRecord> Trials { get; }

    /// <summary>The top of the leaderboard, or null when no trial reported a metric.</summary>
    public TrialRecord? BestTrial => Trials.Count > 0 && Trials[0].Metric.HasValue ? Trials[0] : null;

    /// <summary>Why the experiment stopped.</summary>
    public SearchStopReason StopReason { get; }

    /// <summary>Experiment time, including earlier sessions of a resumed experiment.</summary>
    public TimeSpan Elapsed { get; }

    /// <summary>The scheduler's maximum fidelity; null without multi-fidelity scheduling.</summary>
    public int? MaxFidelity { get; }

    /// <summary>One line, in the invariant culture: the trial count, why the search stopped, its time and the best trial
    /// (see <see cref="TrialRecord.ToString"/>: id, status, metric, fidelity and configuration), for example
    /// <c>12 trials, stopped by MaxTrials after 83.2 s; best #3 Completed metric=0.875 fidelity=8 {...}</c>.</summary>
    public override string ToString() =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{Trials.Count} trial{(Trials.Count == 1 ? "" : "s")}, stopped by {StopReason} after {Elapsed.TotalSeconds:0.#} s; ") +
        (BestTrial is { } best ? $"best {best}" : "no trial produced a metric");

    /// <summary>What an experiment built on this search throws when no trial produced a metric: the cancellation, or
    /// why the search stopped with the first failure's (or time-out's) message.</summary>
    internal Exception NoMetric(CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
            return new OperationCanceledException("The experiment was cancelled before any trial produced a metric.", cancellationToken);
        string? failure = Trials.FirstOrDefault(t => t.Status is TrialStatus.Failed or TrialStatus.TimedOut && t.ErrorMessage is not null)?.ErrorMessage;
        return new InvalidOperationException(
            $"No trial produced a metric ({Trials.Count} started, stopped by {StopReason})." + (failure is null ? "" : $" First failure: {failure}"));
    }
}
