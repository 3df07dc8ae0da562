namespace MlNetSsl.AutoML;

/// <summary>One Hyperband bracket: <see cref="TrialCount"/> new trials start at the first of <see cref="Rungs"/>,
/// and successive halving keeps the best 1/reduction at each rung.</summary>
/// <param name="Index">The bracket's s in the Hyperband paper (s_max for the most aggressive bracket, 0 for plain full training).</param>
/// <param name="TrialCount">n = ceil((s_max + 1) / (s + 1) * reduction^s).</param>
/// <param name="Rungs">The fidelities of the bracket's rungs, the last being the maximum.</param>
public sealed record HyperbandBracket(int Index, int TrialCount, IReadOnlyList<int> Rungs);

/// <summary>
/// Hyperband (Li et al., 2018): brackets of synchronous successive halving that trade the number of trials against
/// their starting fidelity, visited from the most aggressive (many trials, the lowest rung) to plain full training
/// (few trials at the maximum), then again. Rungs are the ASHA ladder (minEpochs * reduction^k, then maxEpochs), so
/// s_max = number of rungs - 1. Within a bracket, all trials of a rung report before the best
/// max(1, floor(n / reduction)) are promoted; the others are pruned. Promoted trials wait (paused) until their rung is
/// decided and then continue from their own state. If no more trials may start, a rung is decided with the trials it has.
/// </summary>
public sealed class HyperbandScheduler : ITrialScheduler
{
    private readonly int[] _ladder;
    private readonly HyperbandBracket[] _brackets;
    private readonly List<TrialDecision> _decisions = new();
    private readonly List<int> _members = new();
    private readonly Dictionary<int, double?> _results = new();
    private readonly Queue<int> _toRun = new();
    private int _bracket;
    private int _rung;
    private int _started;
    private bool _entryClosed;

    /// <summary>Creates the scheduler.</summary>
    /// <param name="minEpochs">The lowest rung (at least 1).</param>
    /// <param name="maxEpochs">The maximum fidelity (at least <paramref name="minEpochs"/>).</param>
    /// <param name="reduction">The halving ratio and rung growth factor (at least 2). Default: 3.</param>
    public HyperbandScheduler(int minEpochs, int maxEpochs, int reduction = 3)
    {
        _ladder = FidelityLadder.Rungs(minEpochs, maxEpochs, reduction);
        Reduction = reduction;
        int sMax = _ladder.Length - 1;
        _brackets = Enumerable.Range(0, sMax + 1).Select(i => sMax - i)
            .Select(s => new HyperbandBracket(s, BracketSize(sMax, s, reduction), _ladder[(sMax - s)..]))
            .ToArray();
    }

    /// <summary>The fidelity ladder (epochs), ascending.</summary>
    public IReadOnlyList<int> Rungs => _ladder;

    /// <summary>The brackets in the order they are run (s = s_max first).</summary>
    public IReadOnlyList<HyperbandBracket> Brackets => _brackets;

    /// <summary>The reduction factor.</summary>
    public int Reduction { get; }

    /// <inheritdoc/>
    public int? MaxFidelity => _ladder[^1];

    private static int BracketSize(int sMax, int s, int reduction)
    {
        // ceil((sMax + 1) * reduction^s / (s + 1)) in exact integer arithmetic.
        long power = 1;
        for (int i = 0; i < s; i++) power = checked(power * reduction);
        long numerator = checked((sMax + 1) * power);
        // Saturated: with maxEpochs above 2^30 and reduction 2 the most aggressive bracket holds 2^31 trials, which wrapped to
        // int.MinValue and made the bracket (and the whole search) start no trial.
        return (int)Math.Min(int.MaxValue, (numerator + s) / (s + 1));
    }

    /// <inheritdoc/>
    public SchedulerJob? NextJob(bool canStartNew)
    {
        while (true)
        {
            HyperbandBracket bracket = _brackets[_bracket];
            if (_rung == 0 && !_entryClosed)
            {
                if (_started < bracket.TrialCount && canStartNew)
                    return new SchedulerJob(SchedulerJobKind.StartNew, -1, null, bracket.Rungs[0]);
                _entryClosed = true; // full, or no more trials may start: decide the rung with the trials it has
            }
            if (_toRun.Count > 0)
                return new SchedulerJob(SchedulerJobKind.Continue, _toRun.Peek(), bracket.Rungs[_rung - 1], bracket.Rungs[_rung]);
            if (_members.Count == 0) return null; // an empty bracket: entry closed before any trial started
            if (!_members.All(_results.ContainsKey))
                throw new InvalidOperationException("Hyperband is waiting for a trial that has not reported; the experiment runs one job at a time.");

            if (_rung == bracket.Rungs.Count - 1)
            {
                // Every trial of the last rung completed when it reported; move on to the next bracket.
                StartBracket((_bracket + 1) % _brackets.Length);
                if (!canStartNew) return null;
                continue;
            }

            var ranked = _members.Where(m => _results[m].HasValue).OrderBy(m => _results[m]!.Value).ThenBy(m => m).ToList();
            int keep = Math.Min(Math.Max(1, _members.Count / Reduction), ranked.Count);
            foreach (int trial in ranked.Take(keep)) _decisions.Add(new TrialDecision(trial, TrialDecisionKind.Promote));
            foreach (int trial in ranked.Skip(keep)) _decisions.Add(new TrialDecision(trial, TrialDecisionKind.Prune));
            _members.Clear();
            _results.Clear();
            _rung++;
            foreach (int trial in ranked.Take(keep))
            {
                _members.Add(trial);
                _toRun.Enqueue(trial);
            }
            if (keep == 0) StartBracket((_bracket + 1) % _brackets.Length); // every trial of the rung failed
        }
    }

    private void StartBracket(int index)
    {
        _bracket = index;
        _rung = 0;
        _started = 0;
        _entryClosed = false;
        _members.Clear();
        _results.Clear();
        _toRun.Clear();
    }

    /// <inheritdoc/>
    public void OnJobStarted(int trialId, SchedulerJob job)
    {
        ArgumentNullException.ThrowIfNull(job);
        if (job.Kind == SchedulerJobKind.StartNew)
        {
            _members.Add(trialId);
            _started++;
        }
        else if (_toRun.Count == 0 || _toRun.Peek() != trialId)
        {
            throw new InvalidOperationException($"Hyperband did not schedule trial {trialId} to continue next.");
        }
        else
        {
            _toRun.Dequeue();
        }
    }

    /// <inheritdoc/>
    public void OnResult(int trialId, int? fidelity, double loss)
    {
        HyperbandBracket bracket = _brackets[_bracket];
        if (!_members.Contains(trialId)) throw new ArgumentException($"Trial {trialId} is not in the current Hyperband rung.", nameof(trialId));
        if (fidelity != bracket.Rungs[_rung])
            throw new ArgumentException($"Trial {trialId} reported fidelity {fidelity}; the current rung is {bracket.Rungs[_rung]}.", nameof(fidelity));
        _results[trialId] = loss;
        if (_rung == bracket.Rungs.Count - 1) _decisions.Add(new TrialDecision(trialId, TrialDecisionKind.Complete));
    }

    /// <inheritdoc/>
    public void OnFailed(int trialId)
    {
        if (_members.Contains(trialId)) _results[trialId] = null;
    }

    /// <inheritdoc/>
    public IReadOnlyList<TrialDecision> TakeDecisions()
    {
        var taken = _decisions.ToArray();
        _decisions.Clear();
        return taken;
    }
}
