using Microsoft.ML;
using Microsoft.ML.Trainers;
using Microsoft.ML.Trainers.LightGbm;

namespace MlNetSsl.AutoML;

/// <summary>
/// The downstream trainers of the self-supervised experiment that read a feature vector: the one place that turns a
/// <see cref="DownstreamTrainer"/> into an ML.NET estimator, for cross-validation and for the refit. SSL fine-tuning reads
/// the input column instead and is built by <see cref="FineTuneCrossValidation.CreateTrainer"/>.
/// </summary>
internal static class SslDownstream
{
    /// <summary>The L-BFGS iterations of the linear probe, as scikit-learn's logistic regression. ML.NET's default runs to a
    /// relative tolerance of 1e-7 with no limit: one probe's cross-validation on a 28-class table of 3,342 rows took 95 s
    /// that way and 5 s capped, with the shared tables' results unchanged (docs/automl-benchmarks.md).</summary>
    internal const int LinearProbeIterations = 100;

    /// <summary>The final trainer under the label-free objective, which has no labels to tune it with: L-BFGS with ML.NET's
    /// ridge (L2 1) and no L1. ML.NET's L1 of 1 weighs against a loss summed over the labeled rows, so on two of them (one per
    /// class) it set every weight to zero and the model gave every row the same scores.</summary>
    internal static SslDownstreamParameters LabelFreeDefaults => new() { L1Regularization = 0 };

    /// <summary>The fewest labeled rows whose mean and deviation <see cref="Standardize"/> centres and scales by; below it the
    /// deviation of a handful of rows is no estimate (two rows put every test row's value at a multiple of their
    /// difference, and the probe's scores saturated to 7 distinct values over 50 rows).</summary>
    internal const int CenteringMinimumRows = 10;

    /// <summary>The standardization before a downstream trainer, fitted on <paramref name="labeledRows"/> labeled rows: mean
    /// and deviation (<c>fixZero: false</c>) from <see cref="CenteringMinimumRows"/> rows, ML.NET's default below that.
    /// ML.NET's default divides by the root mean square, not the deviation, so a feature whose mean dwarfs its spread
    /// stays nearly constant and the L2 penalty holds its weight down: centred, L-BFGS on 20 labels rose from 0.729 to
    /// 0.898 on a 7-feature seed-measurement table and tied on the shared tables (docs/automl.md, "The linear probe's
    /// defaults"). Slots that hold only 0 and 1 (one-hot indicators) pass unscaled (<see cref="IndicatorKeepingStandardizer"/>).</summary>
    public static IEstimator<ITransformer> Standardize(MLContext ml, string column, long labeledRows) =>
        new IndicatorKeepingStandardizer(ml, column, fixZero: labeledRows < CenteringMinimumRows);

    /// <summary>
    /// Whether <paramref name="trainer"/> reads the features unstandardized: the nearest neighbour on raw series. A series'
    /// steps share one scale (UCR/UEA series come z-normalized per series), and standardizing each step across the rows
    /// weighs the steps by the inverse of their spread. 1-NN on the shared UEA sets' own splits, raw against standardized:
    /// BasicMotions 60.0 / 57.5%, GunPoint 91.3 / 90.0%, ItalyPowerDemand 95.5 / 95.0%, PLAID 73.0 / 74.5%, log-loss lower
    /// raw on all four (docs/automl.md, "The nearest neighbour"). Table columns have units of their own, and embeddings
    /// are standardized for every trainer.
    /// </summary>
    public static bool ReadsUnscaled(DownstreamTrainer trainer, SslInputKind kind, SslFeatureSource features) =>
        trainer == DownstreamTrainer.NearestNeighbor && kind == SslInputKind.Series && features == SslFeatureSource.RawFeatures;

    /// <summary><see cref="Standardize"/> then the trainer, or the trainer alone when it reads the features unscaled
    /// (<see cref="ReadsUnscaled"/>).</summary>
    public static IEstimator<ITransformer> StandardizedTrainer(MLContext ml, SslDownstreamParameters parameters, string labelColumn, string featureColumn,
        long labeledRows, SslInputKind kind, SslFeatureSource features) =>
        ReadsUnscaled(parameters.Trainer, kind, features)
            ? CreateTrainer(ml, parameters, labelColumn, featureColumn)
            : Standardize(ml, featureColumn, labeledRows).Append(CreateTrainer(ml, parameters, labelColumn, featureColumn));

    /// <summary>The trainer for <paramref name="parameters"/>, reading a standardized feature vector and a key label
    /// (<see cref="SslDownstreamParameters.CreateTrainer"/>). LightGBM's trees each sample at most
    /// <see cref="WideRowLightGbmEstimator.FeaturesPerTree"/> features.</summary>
    /// <exception cref="InvalidOperationException">The trainer is <see cref="DownstreamTrainer.FineTune"/>, which needs an encoder.</exception>
    public static IEstimator<ITransformer> CreateTrainer(MLContext ml, SslDownstreamParameters parameters, string labelColumn, string featureColumn) =>
        parameters.Trainer switch
        {
            DownstreamTrainer.LinearProbe => ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy(new LbfgsMaximumEntropyMulticlassTrainer.Options
            {
                LabelColumnName = labelColumn,
                FeatureColumnName = featureColumn,
                L1Regularization = (float)parameters.L1Regularization,
                L2Regularization = (float)parameters.L2Regularization,
                MaximumNumberOfIterations = LinearProbeIterations,
                NumberOfThreads = 1, // deterministic sums, so a resumed experiment reproduces its metrics
            }),
            DownstreamTrainer.LightGbm => new WideRowLightGbmEstimator(ml, () => new LightGbmMulticlassTrainer.Options
            {
                LabelColumnName = labelColumn,
                FeatureColumnName = featureColumn,
                NumberOfLeaves = parameters.LightGbmLeaves,
                MinimumExampleCountPerLeaf = parameters.LightGbmMinimumRowsPerLeaf,
                NumberOfIterations = parameters.LightGbmIterations,
                NumberOfThreads = 1, // deterministic, as above
                Seed = 1,
                Silent = true,
                Verbose = false,
            }),
            DownstreamTrainer.NearestNeighbor => ml.MulticlassClassification.Trainers.NearestNeighbor(labelColumn, featureColumn),
            DownstreamTrainer.FineTune => throw new InvalidOperationException(
                "Downstream.Trainer FineTune trains an encoder, and raw features have none; it applies to SelfSupervised features " +
                "(SupervisedFromScratch always fine-tunes)."),
            _ => throw new ArgumentOutOfRangeException(nameof(parameters), parameters.Trainer, $"Unknown downstream trainer {parameters.Trainer}."),
        };

    /// <summary>A readable description, for result summaries.</summary>
    public static string Describe(SslDownstreamParameters parameters) => parameters.Trainer switch
    {
        DownstreamTrainer.LinearProbe => FormattableString.Invariant(
            $"LbfgsMaximumEntropy(L1={parameters.L1Regularization:G3}, L2={parameters.L2Regularization:G3})"),
        DownstreamTrainer.LightGbm => FormattableString.Invariant(
            $"LightGbm(leaves={parameters.LightGbmLeaves}, min rows per leaf={parameters.LightGbmMinimumRowsPerLeaf}, iterations={parameters.LightGbmIterations})"),
        DownstreamTrainer.FineTune => DescribeFineTune(parameters),
        DownstreamTrainer.NearestNeighbor => "NearestNeighbor(1-NN, Euclidean)",
        _ => parameters.Trainer.ToString(),
    };

    /// <summary>The fine-tuning settings, for result summaries.</summary>
    public static string DescribeFineTune(SslDownstreamParameters parameters) => FormattableString.Invariant(
        $"SelfSupervisedFineTune({parameters.FineTuneEpochs} epochs, lr {parameters.FineTuneLearningRate:G3}") +
        (parameters.FreezeEncoder ? ", frozen encoder" : "") + (parameters.SemiSupervised ? ", FixMatch" : "") +
        (parameters.Distill ? ", distilled" : "") + ")";
}
