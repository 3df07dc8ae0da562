namespace MlNetSsl.AutoML;

/// <summary>Proposes the space's default configuration for the first trial, then defers to another tuner (see
/// <see cref="SslTuner.WithDefaultFirst"/>). Deterministic whenever the inner tuner is.</summary>
internal sealed class DefaultFirstTuner : ITuner
{
    private readonly ITuner _inner;
    private readonly Parameters _default;
    private int? _defaultTrial;
    private bool _defaultProposed;

    public DefaultFirstTuner(ITuner inner, Parameters defaultConfiguration)
    {
        _inner = inner ?? throw new ArgumentNullException(nameof(inner));
        _default = defaultConfiguration ?? throw new ArgumentNullException(nameof(defaultConfiguration));
    }

    public Parameters? Propose(TrialContext context)
    {
        if (_defaultProposed) return _inner.Propose(context);
        _defaultProposed = true;
        _defaultTrial = context.TrialId;
        return _default;
    }

    // The inner tuner observes the default trial too; tuners built on UnitSpaceTuner map a configuration they did not
    // propose into their space.
    public void Update(TrialResult result) => _inner.Update(result);

    public void Withdraw(int trialId)
    {
        // The default repeats a configuration that already ran (a resumed or user-seeded search): nothing to undo.
        if (trialId == _defaultTrial)
        {
            _defaultTrial = null;
            return;
        }
        _inner.Withdraw(trialId);
    }
}
