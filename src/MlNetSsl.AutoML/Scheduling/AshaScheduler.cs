namespace MlNetSsl.AutoML;

/// <summary>
/// Asynchronous successive halving (ASHA, Li et al., 2020) on the epoch fidelity. Rungs are
/// minEpochs * reduction^k below maxEpochs, then maxEpochs. A new trial trains to the first rung; whenever a trial
/// reports at rung k it is compared with every result recorded at rung k so far (itself included): if it ranks within
/// the top max(1, floor(n / reduction)) of those n results it is promoted and continues to rung k+1 from its own state,
/// otherwise it is pruned. A trial reporting at the last rung is complete. Decisions never wait for other trials,
/// which is what makes ASHA asynchronous; with one trial at a time a promoted trial continues immediately.
/// </summary>
public sealed class AshaScheduler : ITrialScheduler
{
    private readonly int[] _rungs;
    private readonly List<(int TrialId, double Loss)>[] _results;
    private readonly List<TrialDecision> _decisions = new();
    private SchedulerJob? _continuation;

    /// <summary>Creates the scheduler.</summary>
    /// <param name="minEpochs">The first rung (at least 1).</param>
    /// <param name="maxEpochs">The last rung (at least <paramref name="minEpochs"/>).</param>
    /// <param name="reduction">The promotion ratio and rung growth factor (at least 2). Default: 3.</param>
    public AshaScheduler(int minEpochs, int maxEpochs, int reduction = 3)
    {
        _rungs = FidelityLadder.Rungs(minEpochs, maxEpochs, reduction);
        Reduction = reduction;
        _results = _rungs.Select(_ => new List<(int, double)>()).ToArray();
    }

    /// <summary>The rung fidelities (epochs), ascending; the last is the maximum.</summary>
    public IReadOnlyList<int> Rungs => _rungs;

    /// <summary>The reduction factor.</summary>
    public int Reduction { get; }

    /// <inheritdoc/>
    public int? MaxFidelity => _rungs[^1];

    /// <summary>How many of the <paramref name="resultsAtRung"/> results recorded at a rung are promoted:
    /// max(1, floor(n / reduction)).</summary>
    public int PromotionQuota(int resultsAtRung) => Math.Max(1, resultsAtRung / Reduction);

    /// <inheritdoc/>
    public SchedulerJob? NextJob(bool canStartNew) =>
        _continuation ?? (canStartNew ? new SchedulerJob(SchedulerJobKind.StartNew, -1, null, _rungs[0]) : null);

    /// <inheritdoc/>
    public void OnJobStarted(int trialId, SchedulerJob job)
    {
        ArgumentNullException.ThrowIfNull(job);
        if (job.Kind == SchedulerJobKind.Continue)
        {
            if (_continuation is null || _continuation.TrialId != trialId)
                throw new InvalidOperationException($"ASHA did not schedule trial {trialId} to continue.");
            _continuation = null;
        }
    }

    /// <inheritdoc/>
    public void OnResult(int trialId, int? fidelity, double loss)
    {
        int rung = fidelity is int f ? Array.IndexOf(_rungs, f) : -1;
        if (rung < 0) throw new ArgumentException($"Fidelity {fidelity} is not an ASHA rung ({string.Join(", ", _rungs)}).", nameof(fidelity));
        _results[rung].Add((trialId, loss));
        if (rung == _rungs.Length - 1)
        {
            _decisions.Add(new TrialDecision(trialId, TrialDecisionKind.Complete));
            return;
        }
        // Rank among everything recorded at this rung so far; ties go to the earlier trial.
        int rank = 1 + _results[rung].Count(r => r.Loss < loss || (r.Loss == loss && r.TrialId < trialId));
        if (rank <= PromotionQuota(_results[rung].Count))
        {
            _decisions.Add(new TrialDecision(trialId, TrialDecisionKind.Promote));
            _continuation = new SchedulerJob(SchedulerJobKind.Continue, trialId, _rungs[rung], _rungs[rung + 1]);
        }
        else
        {
            _decisions.Add(new TrialDecision(trialId, TrialDecisionKind.Prune));
        }
    }

    /// <inheritdoc/>
    public void OnFailed(int trialId)
    {
        // A failed trial records nothing at its rung, so it neither takes nor blocks a promotion.
    }

    /// <inheritdoc/>
    public IReadOnlyList<TrialDecision> TakeDecisions()
    {
        var taken = _decisions.ToArray();
        _decisions.Clear();
        return taken;
    }
}
