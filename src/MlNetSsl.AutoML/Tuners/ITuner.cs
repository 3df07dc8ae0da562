namespace MlNetSsl.AutoML;

/// <summary>
/// Proposes configurations and learns from their results, like ML.NET AutoML's <c>ITuner</c>. The experiment calls
/// <see cref="Propose"/> when it starts a trial and <see cref="Update"/> once the trial is over (completed, pruned or
/// failed). A proposal that repeats a configuration that already ran, or that the experiment knows cannot run (the
/// self-supervised experiment's raw features with a fine-tuning trainer), is handed back with <see cref="Withdraw"/> and
/// <see cref="Propose"/> is called again for the same trial id; after 20 repeats the experiment draws the trial's
/// configuration itself, so <see cref="Update"/> can report a configuration the tuner did not propose. A tuner must be
/// deterministic given its seed and the sequence of calls: a resumed experiment rebuilds it by replaying the same calls
/// from its journal.
/// </summary>
public interface ITuner
{
    /// <summary>The configuration for the next trial, or null when the tuner has nothing left to propose
    /// (a finished grid); the experiment then stops starting trials.</summary>
    Parameters? Propose(TrialContext context);

    /// <summary>Tells the tuner how a trial it proposed ended.</summary>
    void Update(TrialResult result);

    /// <summary>Tells the tuner that its proposal for <paramref name="trialId"/> will not run, because it repeats a
    /// configuration that already ran or cannot run; the experiment then asks again for the same trial id (up to 20
    /// times, then it draws a configuration that has not run uniformly from the space). The default does nothing.</summary>
    /// <param name="trialId">The trial id of the withdrawn proposal.</param>
    void Withdraw(int trialId)
    {
    }
}

/// <summary>What a tuner knows about the trial it is asked to propose for.</summary>
public sealed class TrialContext
{
    /// <summary>Creates the context.</summary>
    /// <param name="trialId">The id the trial will have (0, 1, 2, ... in start order).</param>
    public TrialContext(int trialId)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(trialId);
        TrialId = trialId;
    }

    /// <summary>The id the trial will have.</summary>
    public int TrialId { get; }
}

/// <summary>How a trial ended, as a tuner sees it: the loss is the metric turned into "lower is better".</summary>
public sealed class TrialResult
{
    /// <summary>Creates a result.</summary>
    /// <param name="trialId">The trial's id.</param>
    /// <param name="parameters">The trial's configuration.</param>
    /// <param name="status">Completed, Pruned, Failed or NotStarted (or Cancelled when a trial is given up).</param>
    /// <param name="loss">The metric at the highest fidelity reached, negated when the metric is maximized; null when
    /// the trial produced no metric.</param>
    /// <param name="fidelity">The highest fidelity (epochs) reached; null without multi-fidelity scheduling.</param>
    /// <param name="duration">The time the trial ran.</param>
    public TrialResult(int trialId, Parameters parameters, TrialStatus status, double? loss, int? fidelity, TimeSpan duration)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        TrialId = trialId;
        Parameters = parameters;
        Status = status;
        Loss = loss;
        Fidelity = fidelity;
        Duration = duration;
    }

    /// <summary>The trial's id.</summary>
    public int TrialId { get; }

    /// <summary>The trial's configuration.</summary>
    public Parameters Parameters { get; }

    /// <summary>How the trial ended.</summary>
    public TrialStatus Status { get; }

    /// <summary>Lower is better; null when the trial produced no metric.</summary>
    public double? Loss { get; }

    /// <summary>The highest fidelity reached; null without multi-fidelity scheduling (meaning full training).</summary>
    public int? Fidelity { get; }

    /// <summary>The time the trial ran.</summary>
    public TimeSpan Duration { get; }

    /// <summary>One line, in the invariant culture: the id, status, loss, fidelity and configuration.</summary>
    public override string ToString() =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"#{TrialId} {Status} loss={(Loss is double loss ? loss.ToString("G6", System.Globalization.CultureInfo.InvariantCulture) : "-")} fidelity={(Fidelity is int f ? f.ToString(System.Globalization.CultureInfo.InvariantCulture) : "-")} {Parameters}");
}

/// <summary>
/// The order used for leaderboards, the best trial and TPE's good/bad split: trials with a metric first; among them
/// a higher fidelity first (metrics at different fidelities are not comparable, and a trial trained longer carries
/// more evidence; no fidelity means full training); then the better loss; then the earlier trial.
/// </summary>
internal static class TrialRanking
{
    public static int Compare(double? lossA, int? fidelityA, int idA, double? lossB, int? fidelityB, int idB)
    {
        if (lossA.HasValue != lossB.HasValue) return lossA.HasValue ? -1 : 1;
        if (lossA.HasValue)
        {
            int byFidelity = (fidelityB ?? int.MaxValue).CompareTo(fidelityA ?? int.MaxValue);
            if (byFidelity != 0) return byFidelity;
            int byLoss = lossA.Value.CompareTo(lossB!.Value);
            if (byLoss != 0) return byLoss;
        }
        return idA.CompareTo(idB);
    }

    public static int Compare(TrialResult a, TrialResult b) => Compare(a.Loss, a.Fidelity, a.TrialId, b.Loss, b.Fidelity, b.TrialId);
}
