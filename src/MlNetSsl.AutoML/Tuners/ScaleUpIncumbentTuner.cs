namespace MlNetSsl.AutoML;

/// <summary>
/// Gives the best configuration so far more training before the inner tuner explores further: once
/// <c>scaleAfter</c> trials have been proposed, whenever the incumbent (the best completed trial) has a longer version
/// (<c>scaleUp</c> with the first of the <c>factors</c>) that has not run, that version is the next proposal. A longer
/// version that fails (the runner refuses one that would not fit in the budget left) is followed by a shorter one (the
/// next factor); one that scores at least as well is lengthened in turn (training a pipeline longer seldom hurts it, so
/// a tie, common when few labels make the metric coarse, does not end the line); one that scores worse ends that line,
/// until a better incumbent starts a new one. This is
/// where a search's spare budget pays most: on CIFAR-10 at 500 labels, FixMatch at 25 epochs scored 3.4 points above
/// the same run at 10 (docs/automl-benchmarks.md), more than any other proposal gained. Deterministic whenever the
/// inner tuner is: it reads only the results it is given.
/// </summary>
internal sealed class ScaleUpIncumbentTuner : ITuner
{
    private readonly ITuner _inner;
    private readonly int _scaleAfter;
    private readonly IReadOnlyList<double> _factors;
    private readonly Func<Parameters, double, Parameters?> _scaleUp;
    private readonly List<TrialResult> _results = new();
    private readonly HashSet<Parameters> _proposedScaleUps = new();
    private int _proposals;
    private int? _pendingScaleUp;
    private Parameters? _lineBase; // the configuration being lengthened: the incumbent, or a longer version that tied it
    private double _lineLoss;
    private int _factorIndex;      // the next factor to try on it

    /// <param name="inner">The tuner that proposes everything else (and learns from every result).</param>
    /// <param name="scaleAfter">Proposals to leave to the inner tuner before the first lengthening (the portfolio's cheap
    /// baselines, so every kind of pipeline has been measured before one of them gets more time).</param>
    /// <param name="factors">How much longer, largest first; each next one is tried when the previous one failed.</param>
    /// <param name="scaleUp">The version of a configuration trained a factor longer, or null when it has none (nothing
    /// trains in epochs, or the epochs cannot grow).</param>
    public ScaleUpIncumbentTuner(ITuner inner, int scaleAfter, IReadOnlyList<double> factors, Func<Parameters, double, Parameters?> scaleUp)
    {
        _inner = inner ?? throw new ArgumentNullException(nameof(inner));
        ArgumentOutOfRangeException.ThrowIfNegative(scaleAfter);
        _scaleAfter = scaleAfter;
        _factors = factors ?? throw new ArgumentNullException(nameof(factors));
        _scaleUp = scaleUp ?? throw new ArgumentNullException(nameof(scaleUp));
    }

    public Parameters? Propose(TrialContext context)
    {
        _proposals++;
        // One lengthening at a time: the next depends on how this one ends.
        if (_proposals > _scaleAfter && _pendingScaleUp is null && Incumbent() is { } incumbent)
        {
            if (_lineBase is null || incumbent.Loss < _lineLoss)
            {
                _lineBase = incumbent.Parameters;
                _lineLoss = incumbent.Loss!.Value;
                _factorIndex = 0;
            }
            for (; _factorIndex < _factors.Count; _factorIndex++)
            {
                if (_scaleUp(_lineBase, _factors[_factorIndex]) is not { } longer || !_proposedScaleUps.Add(longer)) continue;
                _pendingScaleUp = context.TrialId;
                return longer;
            }
        }
        return _inner.Propose(context);
    }

    public void Update(TrialResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        _results.Add(result);
        if (result.TrialId == _pendingScaleUp)
        {
            _pendingScaleUp = null;
            if (result.Status != TrialStatus.Completed) _factorIndex++; // refused or cut: try a shorter one
            else if (result.Loss is double loss && loss <= _lineLoss)
            {
                // As good or better: lengthen this one next.
                _lineBase = result.Parameters;
                _lineLoss = loss;
                _factorIndex = 0;
            }
            else _factorIndex = _factors.Count; // worse: the line ends
        }
        _inner.Update(result);
    }

    public void Withdraw(int trialId)
    {
        _proposals--;
        // A lengthening that already ran (a resumed or user-seeded search) stays in _proposedScaleUps and is skipped next time.
        if (trialId == _pendingScaleUp)
        {
            _pendingScaleUp = null;
            return;
        }
        _inner.Withdraw(trialId);
    }

    private TrialResult? Incumbent()
    {
        TrialResult? best = null;
        foreach (TrialResult result in _results)
            if (result.Status == TrialStatus.Completed && result.Loss is not null && (best is null || TrialRanking.Compare(result, best) < 0))
                best = result;
        return best;
    }
}
