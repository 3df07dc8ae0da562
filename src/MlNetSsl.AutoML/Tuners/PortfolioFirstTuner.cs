namespace MlNetSsl.AutoML;

/// <summary>Proposes a fixed list of configurations first (a portfolio of cheap strong baselines, see
/// <see cref="SslPortfolio"/>), then defers to another tuner, which learns from the portfolio's trials like from its own
/// (as <see cref="DefaultFirstTuner"/> does for one configuration). Deterministic whenever the inner tuner is.</summary>
internal sealed class PortfolioFirstTuner : ITuner
{
    private readonly ITuner _inner;
    private readonly IReadOnlyList<Parameters> _portfolio;
    private readonly HashSet<int> _portfolioTrials = new();
    private int _next;

    public PortfolioFirstTuner(ITuner inner, IReadOnlyList<Parameters> portfolio)
    {
        _inner = inner ?? throw new ArgumentNullException(nameof(inner));
        _portfolio = portfolio ?? throw new ArgumentNullException(nameof(portfolio));
    }

    public Parameters? Propose(TrialContext context)
    {
        if (_next >= _portfolio.Count) return _inner.Propose(context);
        _portfolioTrials.Add(context.TrialId);
        return _portfolio[_next++];
    }

    public void Update(TrialResult result) => _inner.Update(result);

    public void Withdraw(int trialId)
    {
        // A portfolio entry that repeats a configuration that already ran (a resumed or user-seeded search) is skipped.
        if (_portfolioTrials.Remove(trialId)) return;
        _inner.Withdraw(trialId);
    }
}
