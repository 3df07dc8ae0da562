namespace MlNetSsl.AutoML;

/// <summary>The ML.NET multiclass trainers <see cref="MulticlassTrainerExperiment"/> searches over.</summary>
public enum LinearTrainer
{
    /// <summary><c>LbfgsMaximumEntropy</c>: L-BFGS (OWL-QN with L1) on the multinomial logistic loss; continues from
    /// its previous weights when a scheduler promotes a trial.</summary>
    LbfgsMaximumEntropy,

    /// <summary><c>SdcaMaximumEntropy</c>: stochastic dual coordinate ascent; retrains from scratch at each rung
    /// (ML.NET offers no warm start for it).</summary>
    SdcaMaximumEntropy,
}

/// <summary>
/// The default search space of <see cref="MulticlassTrainerExperiment"/> as an options class: use
/// <c>new SearchSpace&lt;LinearTrainerParameters&gt;()</c> and edit it to narrow or widen the search. Initial values
/// are the defaults (ML.NET's own defaults for L-BFGS).
/// </summary>
public sealed class LinearTrainerParameters
{
    /// <summary>Which trainer. Default: <see cref="LinearTrainer.LbfgsMaximumEntropy"/>.</summary>
    [Choice]
    public LinearTrainer Trainer { get; set; } = LinearTrainer.LbfgsMaximumEntropy;

    /// <summary>L1 regularization weight, searched in [1e-4, 10] on a log scale. Default: 1.</summary>
    [Range(1e-4, 10.0, logBase: true)]
    public float L1Regularization { get; set; } = 1f;

    /// <summary>L2 regularization weight, searched in [1e-4, 10] on a log scale. Default: 1.</summary>
    [Range(1e-4, 10.0, logBase: true)]
    public float L2Regularization { get; set; } = 1f;

    /// <summary>L-BFGS convergence tolerance, searched in [1e-8, 1e-2] on a log scale. Default: 1e-7.</summary>
    [Range(1e-8, 1e-2, logBase: true)]
    public float OptimizationTolerance { get; set; } = 1e-7f;

    /// <summary>L-BFGS memory (past updates used for the Hessian estimate), searched in [2, 50]. Default: 20.</summary>
    [Range(2, 50)]
    public int HistorySize { get; set; } = 20;

    /// <summary>Iterations (L-BFGS) or passes over the data (SDCA), searched in [5, 200] on a log scale when the
    /// experiment has no scheduler; with a scheduler the fidelity sets it and the option is left out of the search.
    /// Default: 100.</summary>
    [Range(5, 200, logBase: true)]
    public int MaximumNumberOfIterations { get; set; } = 100;
}
