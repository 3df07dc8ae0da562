namespace MlNetSsl.AutoML;

/// <summary>What a progress report is about.</summary>
public enum TrialReportKind
{
    /// <summary>A trial was handed to its runner: it starts, or continues from a lower rung (<see cref="SslTrialReport.Fidelity"/>
    /// is the target). The runner may still decline it at once, as it would not fit in the budget left: a
    /// <see cref="NotStarted"/> report for the same trial then follows, and the trial spent no time.</summary>
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

    /// <summary>A trial's runner declined to start it as it would not fit in the budget left (it is
    /// <see cref="TrialStatus.NotStarted"/>).</summary>
    NotStarted,

    /// <summary>A trial's runner stopped it at its own time limit (it is <see cref="TrialStatus.TimedOut"/>).</summary>
    TimedOut,
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

    /// <summary>For <see cref="TrialReportKind.Running"/>: the fidelity the trial now trains to; for
    /// <see cref="TrialReportKind.Stopped"/> before any rung: the fidelity it was training to; otherwise the fidelity reached.</summary>
    public int? Fidelity { get; }

    /// <summary>The best trial so far (leaderboard order); null until a trial reports a metric.</summary>
    public TrialRecord? BestTrial { get; }

    /// <summary>Experiment time so far, including earlier sessions of a resumed experiment.</summary>
    public TimeSpan Elapsed { get; }

    /// <summary>How many trials have started.</summary>
    public int TrialsStarted { get; }

    /// <summary>True when the event is replayed from the checkpoint journal of an earlier session, or, with a store
    /// (<see cref="SearchExperiment.SetStorage"/>), read from it: another worker's event or an earlier session's.</summary>
    public bool IsReplay { get; }

    /// <summary>The pipeline in words, when the experiment that sent the report knows how to say it (an
    /// <see cref="SslExperiment"/>); null otherwise.</summary>
    internal string? Description { get; init; }

    /// <summary>True when the experiment scores its trials label-free (<see cref="SslObjectiveKind.LabelFree"/>, also as
    /// <see cref="SslObjectiveKind.Auto"/> resolved it): the metric is then a label-free score of the encoder, and the
    /// trial's downstream trainer took no part in it (the model's is set at the refit). False for other experiments.</summary>
    public bool IsScoredLabelFree { get; internal init; }

    /// <summary>One line: experiment time, trial, what happened, its metric and fidelity, the pipeline in words (or
    /// the trial's parameters, for an experiment that cannot describe them), and why a trial failed or was not run.</summary>
    public override string ToString() => Description is null
        ? $"{Kind}{(IsReplay ? " (replay)" : "")}: {Trial}"
        : string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"[{Elapsed.TotalSeconds,5:0}s] trial {Trial.TrialId} {Kind}{(IsReplay ? " (replay)" : "")} {(IsScoredLabelFree ? "label-free score" : "metric")}={Trial.Metric?.ToString("0.####", System.Globalization.CultureInfo.InvariantCulture) ?? "-"} " +
            $"epochs={(Fidelity ?? Trial.Fidelity)?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "-"} {Description}{Why()}");

    // The reason of a failed, timed-out or unstarted trial: its first line (native errors carry a backtrace), shortened.
    private string Why()
    {
        if (Kind is not (TrialReportKind.Failed or TrialReportKind.TimedOut or TrialReportKind.NotStarted or TrialReportKind.Stopped) || Trial.ErrorMessage is not { } error) return "";
        string line = SslExperiment.FirstLine(error);
        return $" ({(line.Length <= 300 ? line : line[..297] + "...")})";
    }

    /// <summary>This report with <paramref name="description"/> and what its metric is.</summary>
    internal SslTrialReport WithDescription(string? description, bool scoredLabelFree) =>
        new(Kind, Trial, Fidelity, BestTrial, Elapsed, TrialsStarted, IsReplay) { Description = description, IsScoredLabelFree = scoredLabelFree };
}
