using Microsoft.ML;

namespace MlNetSsl.AutoML;

/// <summary>Creates AutoML experiments from an <see cref="MLContext"/>.</summary>
public static class AutoMLExtensions
{
    /// <summary>
    /// An experiment that searches ML.NET's linear multiclass trainers (<c>LbfgsMaximumEntropy</c>,
    /// <c>SdcaMaximumEntropy</c>) and their regularization on a feature vector column, scored by stratified
    /// cross-validated accuracy. <see cref="SelfSupervisedExperiment"/> puts the SSL stage in front of a similar search.
    /// </summary>
    public static MulticlassTrainerExperiment MulticlassTrainerExperiment(this MLContext mlContext)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        return new MulticlassTrainerExperiment(mlContext);
    }

    /// <summary>
    /// The self-supervised AutoML experiment: searches SSL pretraining (method, augmentation policy and strength, encoder,
    /// embedding size, learning rate, batch size, the method's key hyperparameter, epochs as the fidelity) with the
    /// downstream trainer, and the raw-feature baseline, on a dataset where most rows have no label. The result's model is
    /// the whole refitted pipeline. See <see cref="SslExperiment"/>.
    /// </summary>
    public static SslExperiment SelfSupervisedExperiment(this MLContext mlContext)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        return new SslExperiment(mlContext);
    }
}

/// <summary>
/// AutoML over ML.NET's linear multiclass trainers, built on <see cref="SearchExperiment"/>. Rows without a label
/// (NaN, empty text) are left out: plain trainers cannot use them; the SSL experiment pretrains on them. The
/// objective is stratified k-fold cross-validated accuracy over the labeled rows; with a scheduler, the fidelity is the
/// trainer's iteration count (L-BFGS continues from its previous weights when promoted). The best configuration is
/// refitted on all labeled rows into one pipeline: <c>MapValueToKey(label)</c>, <c>NormalizeMeanVariance(features)</c>
/// (centred, <c>fixZero: false</c>, from 10 labeled rows),
/// the trainer, <c>MapKeyToValue(PredictedLabel)</c>.
/// </summary>
public sealed class MulticlassTrainerExperiment
{
    private readonly MLContext _mlContext;
    // Waits for trials the budget abandoned, so none still trains while the best configuration is refitted.
    private readonly SearchExperiment _search = new SearchExperiment().WaitForAbandonedTrials();

    /// <summary>The underlying search (for tests of its settings).</summary>
    internal SearchExperiment Search => _search;

    private IDataView? _data;
    private string _labelColumnName = "Label";
    private string _featureColumnName = "Features";
    private SearchSpace _searchSpace = new SearchSpace<LinearTrainerParameters>();
    private SslObjective _objective = SslObjective.CrossValidatedAccuracy();
    private SslScheduler _scheduler = SslScheduler.None;
    private int _seed;

    internal MulticlassTrainerExperiment(MLContext mlContext) => _mlContext = mlContext;

    /// <summary>Sets the data: a known-size Single vector feature column and a label column (required).</summary>
    /// <param name="data">All rows; rows whose label is missing are not used.</param>
    /// <param name="labelColumnName">The label column (any type <c>MapValueToKey</c> accepts). Default: "Label".</param>
    public MulticlassTrainerExperiment SetDataset(IDataView data, string labelColumnName = "Label")
    {
        _data = data ?? throw new ArgumentNullException(nameof(data));
        ArgumentException.ThrowIfNullOrWhiteSpace(labelColumnName);
        _labelColumnName = labelColumnName;
        return this;
    }

    /// <summary>Sets the feature column. Default: "Features".</summary>
    public MulticlassTrainerExperiment SetFeatureColumn(string featureColumnName)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(featureColumnName);
        _featureColumnName = featureColumnName;
        return this;
    }

    /// <summary>Sets the search space; its options must be properties of <see cref="LinearTrainerParameters"/>.
    /// Default: <c>new SearchSpace&lt;LinearTrainerParameters&gt;()</c>.</summary>
    public MulticlassTrainerExperiment SetSearchSpace(SearchSpace searchSpace)
    {
        ArgumentNullException.ThrowIfNull(searchSpace);
        _ = searchSpace.Default.AsType<LinearTrainerParameters>(); // fail now, not in every trial, if an option does not bind
        _searchSpace = searchSpace;
        return this;
    }

    /// <summary>Sets the objective. Default: <see cref="SslObjective.CrossValidatedAccuracy"/> with 5 folds.</summary>
    /// <exception cref="ArgumentException">The objective is not cross-validated accuracy (plain trainers have no embeddings
    /// to score without labels).</exception>
    public MulticlassTrainerExperiment SetObjective(SslObjective objective)
    {
        ArgumentNullException.ThrowIfNull(objective);
        if (objective.Kind != SslObjectiveKind.CrossValidatedAccuracy)
            throw new ArgumentException($"MulticlassTrainerExperiment supports SslObjective.CrossValidatedAccuracy only, not {objective}; " +
                "label-free objectives score pretrained embeddings (use ml.SelfSupervisedExperiment()).", nameof(objective));
        _objective = objective;
        return this;
    }

    /// <summary>Sets the tuner. Default: <see cref="SslTuner.Tpe"/>.</summary>
    public MulticlassTrainerExperiment SetTuner(SslTuner tuner)
    {
        _search.SetTuner(tuner);
        return this;
    }

    /// <summary>Sets the scheduler; the fidelity is the trainer's iteration count. Default: <see cref="SslScheduler.None"/>.</summary>
    public MulticlassTrainerExperiment SetScheduler(SslScheduler scheduler)
    {
        _scheduler = scheduler ?? throw new ArgumentNullException(nameof(scheduler));
        return this;
    }

    /// <summary>Sets the time budget; see <see cref="SearchExperiment.SetTrainingTimeInSeconds"/>.</summary>
    public MulticlassTrainerExperiment SetTrainingTimeInSeconds(uint seconds)
    {
        _search.SetTrainingTimeInSeconds(seconds);
        return this;
    }

    /// <summary>Sets the maximum number of trials.</summary>
    public MulticlassTrainerExperiment SetMaxTrials(int maxTrials)
    {
        _search.SetMaxTrials(maxTrials);
        return this;
    }

    /// <summary>Sets the memory limit; see <see cref="SearchExperiment.SetMaximumMemoryUsageInMegaByte"/>.</summary>
    public MulticlassTrainerExperiment SetMaximumMemoryUsageInMegaByte(double megabytes)
    {
        _search.SetMaximumMemoryUsageInMegaByte(megabytes);
        return this;
    }

    /// <summary>Sets a checkpoint folder to resume from after a crash or a pause (cancellation).</summary>
    public MulticlassTrainerExperiment SetCheckpoint(string folder)
    {
        _search.SetCheckpoint(folder);
        return this;
    }

    /// <summary>Sets the seed of the tuner, the folds and the trainers. Default: 0.</summary>
    public MulticlassTrainerExperiment SetSeed(int seed)
    {
        _seed = seed;
        _search.SetSeed(seed);
        return this;
    }

    /// <summary>Receives progress reports.</summary>
    public MulticlassTrainerExperiment SetProgress(IProgress<SslTrialReport> progress)
    {
        _search.SetProgress(progress);
        return this;
    }

    /// <summary>
    /// <see cref="RunAsync"/> for callers that are not asynchronous, as ML.NET's <c>AutoMLExperiment.Run()</c>; the search
    /// runs on the thread pool, so a thread with a synchronization context does not deadlock.
    /// </summary>
    /// <param name="cancellationToken">Stops the search early.</param>
    /// <returns>The result of <see cref="RunAsync"/>; its exceptions are thrown as they are, not wrapped.</returns>
    public SslExperimentResult Run(CancellationToken cancellationToken = default) =>
        Task.Run(() => RunAsync(cancellationToken), CancellationToken.None).GetAwaiter().GetResult();

    /// <summary>
    /// Runs (or resumes) the search, then refits the best configuration on all labeled rows.
    /// </summary>
    /// <exception cref="InvalidOperationException">No dataset, unusable columns, or no trial produced a metric.</exception>
    /// <exception cref="OperationCanceledException">Cancelled before any trial produced a metric.</exception>
    public async Task<SslExperimentResult> RunAsync(CancellationToken cancellationToken = default)
    {
        if (_data is null) throw new InvalidOperationException("Set the data with SetDataset before running.");
        LabeledRows rows = LabeledRows.Read(_mlContext, _data, _labelColumnName, _featureColumnName);
        var runner = new CrossValidationTrialRunner(_mlContext, rows, _objective.Folds, _seed);

        SearchSpace space = _searchSpace.Clone();
        // With a scheduler the fidelity is the iteration count, so searching it too would only add noise.
        if (_scheduler != SslScheduler.None) space.Remove(nameof(LinearTrainerParameters.MaximumNumberOfIterations));

        SearchResult search = await _search
            .SetSearchSpace(space)
            .SetScheduler(_scheduler)
            .SetIsMaximize(true)
            .SetTrialRunner(runner)
            .SetRunnerDescription($"MulticlassTrainer(label={_labelColumnName},features={_featureColumnName},{_objective.Name}," +
                $"folds used={runner.FoldCount},rows={rows.Labels.Length},data={rows.ContentHash()},standardize=centred)")
            .RunAsync(cancellationToken).ConfigureAwait(false);

        TrialRecord best = search.BestTrial ?? throw search.NoMetric(cancellationToken);
        cancellationToken.ThrowIfCancellationRequested();
        ITransformer model = Refit(rows, best);
        return new SslExperimentResult(new SslTrialResult(best, model), search.Trials, search.StopReason, search.Elapsed)
        {
            Objective = _objective,
            BestPipelineDescription = Describe(best.Parameters.AsType<LinearTrainerParameters>(), best.Fidelity, _featureColumnName),
        };
    }

    /// <summary>The refitted pipeline in words, as the self-supervised experiment gives its own: the trainer, its settings and
    /// iterations, and the column it reads.</summary>
    internal static string Describe(LinearTrainerParameters parameters, int? fidelity, string featureColumnName) =>
        FormattableString.Invariant(
            $"{parameters.Trainer}(L1={parameters.L1Regularization:G3}, L2={parameters.L2Regularization:G3}, ") +
        (parameters.Trainer == LinearTrainer.LbfgsMaximumEntropy
            ? FormattableString.Invariant($"tolerance={parameters.OptimizationTolerance:G3}, history={parameters.HistorySize}, ") : "") +
        FormattableString.Invariant($"{fidelity ?? parameters.MaximumNumberOfIterations} {(parameters.Trainer == LinearTrainer.SdcaMaximumEntropy ? "passes" : "iterations")}) on standardized '{featureColumnName}'");

    private ITransformer Refit(LabeledRows rows, TrialRecord best)
    {
        LinearTrainerParameters parameters = best.Parameters.AsType<LinearTrainerParameters>();
        int iterations = best.Fidelity ?? parameters.MaximumNumberOfIterations;
        IDataView labeled = _mlContext.Data.FilterRowsByMissingValues(rows.LabelToKey.Transform(_data!), _labelColumnName);
        var normalize = SslDownstream.Standardize(_mlContext, _featureColumnName, rows.Labels.Length);
        var toValue = _mlContext.Transforms.Conversion.MapKeyToValue("PredictedLabel");
        ITransformer fitted = parameters.Trainer == LinearTrainer.SdcaMaximumEntropy
            ? normalize.Append(CrossValidationTrialRunner.CreateSdca(_mlContext, parameters, _labelColumnName, _featureColumnName, iterations)).Append(toValue).Fit(labeled)
            : normalize.Append(CrossValidationTrialRunner.CreateLbfgs(_mlContext, parameters, _labelColumnName, _featureColumnName, iterations)).Append(toValue).Fit(labeled);
        return rows.LabelToKey.Append(fitted);
    }
}
