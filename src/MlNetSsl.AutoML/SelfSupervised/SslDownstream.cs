using Microsoft.ML;
using Microsoft.ML.Trainers;

namespace MlNetSsl.AutoML;

/// <summary>
/// The downstream trainers of the self-supervised experiment: the one place that turns a <see cref="DownstreamTrainer"/>
/// into an ML.NET estimator, for cross-validation and for the refit. A new trainer is one more case here (and in the enum).
/// </summary>
/// <remarks>
/// SSL fine-tuning (<c>ml.MulticlassClassification.Trainers.SelfSupervisedFineTune</c>, pending from the fine-tuning work)
/// trains on the input column starting from the pretrained stage rather than on fixed embeddings; its case will take the
/// fitted stage and the labeled rows' input column instead of the feature vectors this class receives.
/// </remarks>
internal static class SslDownstream
{
    /// <summary>The trainer for <paramref name="parameters"/>, reading a standardized feature vector and a key label.</summary>
    public static IEstimator<ITransformer> CreateTrainer(MLContext ml, SslDownstreamParameters parameters, string labelColumn, string featureColumn) =>
        parameters.Trainer switch
        {
            DownstreamTrainer.LinearProbe => ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy(new LbfgsMaximumEntropyMulticlassTrainer.Options
            {
                LabelColumnName = labelColumn,
                FeatureColumnName = featureColumn,
                L1Regularization = (float)parameters.L1Regularization,
                L2Regularization = (float)parameters.L2Regularization,
                NumberOfThreads = 1, // deterministic sums, so a resumed experiment reproduces its metrics
            }),
            _ => throw new ArgumentOutOfRangeException(nameof(parameters), parameters.Trainer, $"Unknown downstream trainer {parameters.Trainer}."),
        };

    /// <summary>A readable description, for result summaries.</summary>
    public static string Describe(SslDownstreamParameters parameters) => parameters.Trainer switch
    {
        DownstreamTrainer.LinearProbe => FormattableString.Invariant(
            $"LbfgsMaximumEntropy(L1={parameters.L1Regularization:G3}, L2={parameters.L2Regularization:G3})"),
        _ => parameters.Trainer.ToString(),
    };
}
