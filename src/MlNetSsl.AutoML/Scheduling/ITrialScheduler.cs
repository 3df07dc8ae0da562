namespace MlNetSsl.AutoML;

/// <summary>Whether a scheduler job starts a new trial or continues one that reported at a lower fidelity.</summary>
public enum SchedulerJobKind
{
    /// <summary>Start a new trial (the experiment asks the tuner for its configuration).</summary>
    StartNew,

    /// <summary>Continue an existing trial from <see cref="SchedulerJob.PreviousFidelity"/> to <see cref="SchedulerJob.Fidelity"/>.</summary>
    Continue,
}

/// <summary>One unit of work a scheduler asks the experiment to run: train a trial up to a fidelity (epochs).</summary>
/// <param name="Kind">New trial or continuation.</param>
/// <param name="TrialId">The trial to continue; -1 for a new trial (the experiment assigns the id).</param>
/// <param name="PreviousFidelity">The fidelity the trial already reached (its state holds that work); null for a new trial.</param>
/// <param name="Fidelity">The fidelity to train up to; null means full training as configured (no multi-fidelity).</param>
public sealed record SchedulerJob(SchedulerJobKind Kind, int TrialId, int? PreviousFidelity, int? Fidelity);

/// <summary>What a scheduler decided about a trial after a result.</summary>
public enum TrialDecisionKind
{
    /// <summary>The trial goes on to the next rung (a continuation job will follow).</summary>
    Promote,

    /// <summary>The trial reached the maximum fidelity: it is finished.</summary>
    Complete,

    /// <summary>The trial stops early: its result at this rung was not good enough.</summary>
    Prune,
}

/// <summary>A scheduler decision about one trial.</summary>
/// <param name="TrialId">The trial.</param>
/// <param name="Kind">Promote, complete or prune.</param>
public readonly record struct TrialDecision(int TrialId, TrialDecisionKind Kind);

/// <summary>
/// Multi-fidelity scheduling: decides what the experiment runs next (a new trial or the continuation of a promoted
/// one) and which trials stop early. The experiment runs one job at a time: it asks <see cref="NextJob"/>, calls
/// <see cref="OnJobStarted"/>, runs the trial function up to the job's fidelity, then reports with
/// <see cref="OnResult"/> or <see cref="OnFailed"/>, and collects <see cref="TakeDecisions"/> after every call.
/// A scheduler must be deterministic given that sequence of calls: a resumed experiment replays it.
/// </summary>
public interface ITrialScheduler
{
    /// <summary>The highest fidelity a trial can reach; null without multi-fidelity scheduling.</summary>
    int? MaxFidelity { get; }

    /// <summary>The next job, or null when there is nothing left to run. <paramref name="canStartNew"/> is false once
    /// the trial limit is reached or the tuner is exhausted; the scheduler then finishes what it has (a rung that
    /// cannot fill is decided with the trials it has).</summary>
    SchedulerJob? NextJob(bool canStartNew);

    /// <summary>The experiment started <paramref name="job"/>; for a new trial, <paramref name="trialId"/> is its id.</summary>
    void OnJobStarted(int trialId, SchedulerJob job);

    /// <summary>A job finished with <paramref name="loss"/> (lower is better) at <paramref name="fidelity"/>.</summary>
    void OnResult(int trialId, int? fidelity, double loss);

    /// <summary>A job failed; the trial will not continue.</summary>
    void OnFailed(int trialId);

    /// <summary>The decisions made since the last call, in the order they were made.</summary>
    IReadOnlyList<TrialDecision> TakeDecisions();
}

/// <summary>The fidelity ladder shared by ASHA and Hyperband.</summary>
internal static class FidelityLadder
{
    /// <summary>min, min*r, min*r^2, ... while below max, then max.</summary>
    public static int[] Rungs(int minEpochs, int maxEpochs, int reduction)
    {
        if (minEpochs < 1) throw new ArgumentOutOfRangeException(nameof(minEpochs), "The minimum fidelity must be at least 1 epoch.");
        if (maxEpochs < minEpochs) throw new ArgumentOutOfRangeException(nameof(maxEpochs), "The maximum fidelity must be at least the minimum.");
        if (reduction < 2) throw new ArgumentOutOfRangeException(nameof(reduction), "The reduction factor must be at least 2.");
        var rungs = new List<int>();
        for (long r = minEpochs; r < maxEpochs; r *= reduction) rungs.Add((int)r);
        rungs.Add(maxEpochs);
        return rungs.ToArray();
    }
}

/// <summary>No multi-fidelity: every trial runs once with full training and completes.</summary>
internal sealed class SingleFidelityScheduler : ITrialScheduler
{
    private readonly List<TrialDecision> _decisions = new();

    public int? MaxFidelity => null;

    public SchedulerJob? NextJob(bool canStartNew) => canStartNew ? new SchedulerJob(SchedulerJobKind.StartNew, -1, null, null) : null;

    public void OnJobStarted(int trialId, SchedulerJob job)
    {
        // Nothing to track: each trial is a single job.
    }

    public void OnResult(int trialId, int? fidelity, double loss) => _decisions.Add(new TrialDecision(trialId, TrialDecisionKind.Complete));

    public void OnFailed(int trialId)
    {
        // A failed trial needs no decision.
    }

    public IReadOnlyList<TrialDecision> TakeDecisions()
    {
        var taken = _decisions.ToArray();
        _decisions.Clear();
        return taken;
    }
}
