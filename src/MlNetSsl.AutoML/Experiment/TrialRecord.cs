namespace MlNetSsl.AutoML;

/// <summary>Where a trial stands.</summary>
public enum TrialStatus
{
    /// <summary>The trial function is running.</summary>
    Running,

    /// <summary>The trial reported at a rung and waits to continue (Hyperband waits for the rest of its rung). At the end
    /// of an experiment: it was stopped between rungs; resuming the experiment continues it from its state.</summary>
    Paused,

    /// <summary>The trial reached the maximum fidelity (or, without a scheduler, finished training).</summary>
    Completed,

    /// <summary>The scheduler stopped the trial early because its result at a rung was not good enough.</summary>
    Pruned,

    /// <summary>The trial function threw, returned a non-finite metric or exceeded the memory limit.</summary>
    Failed,

    /// <summary>The trial was cancelled (time budget or cancellation) before reporting any metric.</summary>
    Cancelled,

    /// <summary>The trial runner declined to start the trial's segment (it threw <see cref="TrialNotStartedException"/>):
    /// by its own estimate the segment would not have finished in the time budget left. No budget was spent on it, and
    /// the search went on with other trials.</summary>
    NotStarted,

    /// <summary>The trial runner stopped the trial's segment at a time limit of its own, such as the per-trial time cap (it
    /// threw <see cref="TrialTimedOutException"/>): the configuration ran but was too slow for the time it was given. The
    /// time it ran counts against the budget, and the search went on with other trials.</summary>
    TimedOut,
}

/// <summary>A trial's result at one rung.</summary>
/// <param name="Fidelity">The fidelity (epochs) reached; null without multi-fidelity scheduling.</param>
/// <param name="Metric">The metric the trial function returned.</param>
/// <param name="Duration">How long this segment ran (from the previous rung, or from scratch).</param>
public sealed record RungResult(int? Fidelity, double Metric, TimeSpan Duration);

/// <summary>One row of the leaderboard: a trial's configuration, status, metric and history.</summary>
public sealed class TrialRecord
{
    internal TrialRecord(int trialId, Parameters parameters, TrialStatus status, IReadOnlyList<RungResult> rungs, TimeSpan duration, string? errorMessage)
    {
        TrialId = trialId;
        Parameters = parameters;
        Status = status;
        Rungs = rungs;
        Duration = duration;
        ErrorMessage = errorMessage;
    }

    /// <summary>The trial's id (0, 1, 2, ... in start order).</summary>
    public int TrialId { get; }

    /// <summary>The configuration the tuner proposed.</summary>
    public Parameters Parameters { get; }

    /// <summary>Where the trial stands.</summary>
    public TrialStatus Status { get; }

    /// <summary>The metric at the highest fidelity reached; null when the trial reported none.</summary>
    public double? Metric => Rungs.Count > 0 ? Rungs[^1].Metric : null;

    /// <summary>The highest fidelity (epochs) reached; null when the trial reported none or runs without a scheduler.</summary>
    public int? Fidelity => Rungs.Count > 0 ? Rungs[^1].Fidelity : null;

    /// <summary>The metric after each rung, in order.</summary>
    public IReadOnlyList<RungResult> Rungs { get; }

    /// <summary>The total time the trial function ran, over all rungs.</summary>
    public TimeSpan Duration { get; }

    /// <summary>Why the trial failed (exception type and message, or the memory limit), timed out, was not started, or was
    /// stopped by the budget or a cancellation; null otherwise.</summary>
    public string? ErrorMessage { get; }

    /// <inheritdoc/>
    public override string ToString() =>
        $"#{TrialId} {Status} metric={Metric?.ToString("G6", System.Globalization.CultureInfo.InvariantCulture) ?? "-"} fidelity={Fidelity?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "-"} {Parameters}";
}
