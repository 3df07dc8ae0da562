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

    /// <summary>Why the trial failed (exception type and message, or the memory limit); null otherwise.</summary>
    public string? ErrorMessage { get; }

    /// <inheritdoc/>
    public override string ToString() =>
        $"#{TrialId} {Status} metric={Metric?.ToString("G6", System.Globalization.CultureInfo.InvariantCulture) ?? "-"} fidelity={Fidelity?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "-"} {Parameters}";
}

/// <summary>What a progress report is about.</summary>
public enum TrialReportKind
{
    /// <summary>A trial started, or continues from a lower rung (<see cref="SslTrialReport.Fidelity"/> is the target).</summary>
    Running,

    /// <summary>A trial reported a metric at a rung and continues or waits for its rung to be decided.</summary>
    RungCompleted,

    /// <summary>A trial completed.</summary>
    Completed,

    /// <summary>A trial was pruned.</summary>
    Pruned,

    /// <summary>A trial failed.</summary>
    Failed,

    /// <summary>A trial was stopped by the time budget or cancellation (it is Paused or Cancelled).</summary>
    Stopped,
}

/// <summary>A progress report of an experiment, sent through <see cref="IProgress{T}"/>.</summary>
public sealed class SslTrialReport
{
    internal SslTrialReport(TrialReportKind kind, TrialRecord trial, int? fidelity, TrialRecord? bestTrial, TimeSpan elapsed, int trialsStarted, bool isReplay)
    {
        Kind = kind;
        Trial = trial;
        Fidelity = fidelity;
        BestTrial = bestTrial;
        Elapsed = elapsed;
        TrialsStarted = trialsStarted;
        IsReplay = isReplay;
    }

    /// <summary>What happened.</summary>
    public TrialReportKind Kind { get; }

    /// <summary>The trial it happened to, as it stands now.</summary>
    public TrialRecord Trial { get; }

    /// <summary>For <see cref="TrialReportKind.Running"/>: the fidelity the trial now trains to; otherwise the fidelity reached.</summary>
    public int? Fidelity { get; }

    /// <summary>The best trial so far (leaderboard order); null until a trial reports a metric.</summary>
    public TrialRecord? BestTrial { get; }

    /// <summary>Experiment time so far, including earlier sessions of a resumed experiment.</summary>
    public TimeSpan Elapsed { get; }

    /// <summary>How many trials have started.</summary>
    public int TrialsStarted { get; }

    /// <summary>True when the event is replayed from the checkpoint journal of an earlier session.</summary>
    public bool IsReplay { get; }

    /// <inheritdoc/>
    public override string ToString() => $"{Kind}{(IsReplay ? " (replay)" : "")}: {Trial}";
}

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
}
