using System.Globalization;
using System.Text.Json;
using MlNetSsl.AutoML;

namespace MlNetSsl.Cli.Run;

/// <summary>A trial's configuration in words and as flat name/value pairs.</summary>
internal static class TrialDescriptions
{
    public static SslTrialParameters Bind(TrialRecord trial) => trial.Parameters.AsType<SslTrialParameters>();

    /// <summary>Whether the trial's features come from a self-supervised encoder (alone or beside the raw input); raw
    /// features and a network trained from scratch on the labels are the plain alternatives.</summary>
    public static bool UsesSsl(TrialRecord trial) =>
        Bind(trial).Features is SslFeatureSource.SelfSupervised or SslFeatureSource.RawAndSelfSupervised;

    /// <summary>The downstream trainer the experiment refitted for the chosen <paramref name="trial"/>
    /// (<see cref="SslExperimentResult.BestDownstream"/>): the trial's own, but under the label-free objective, which does not
    /// search the trainer, L-BFGS with L2 1 and no L1, and for an image FixMatch network the final fit may lengthen, more epochs.</summary>
    public static SslDownstreamParameters RefitDownstream(TrialRecord trial, SslExperimentResult search) =>
        trial.TrialId == search.BestTrial.TrialId && search.BestDownstream is { } fitted ? fitted : Bind(trial).Downstream;

    /// <summary>The pretraining epochs a trial without a fidelity reached when fewer than it was configured with (a first
    /// trial the budget stopped at an epoch's end, which the refit trains to as well), from its measures; otherwise null.</summary>
    public static int? EpochsReached(TrialRecord trial, SslExperimentResult search) =>
        trial.Fidelity is null && search.MeasuresOf(trial) is { } measures
        && measures.PretrainingEpochsTrained + measures.PretrainingEpochsReused is int reached
        && reached >= 1 && reached < Bind(trial).Pretraining.Epochs ? reached : null;

    /// <summary>"SimClr ConvNet x1 18 epochs + L-BFGS (L1 0.0001, L2 1)", "Raw features + LightGBM (31 leaves, 20 rows per leaf, 100 iterations)",
    /// "Raw features and Scarf Mlp x1 18 epochs (...) + L-BFGS (...)"; <paramref name="refitDownstream"/> replaces the trial's;
    /// <paramref name="scoredLabelFree"/> (a trial the label-free objective scored, without its trainer) says so instead of
    /// naming the trainer.</summary>
    public static string Describe(TrialRecord trial, int? fidelity = null, SslDownstreamParameters? refitDownstream = null, bool scoredLabelFree = false)
    {
        SslTrialParameters p = Bind(trial);
        if (refitDownstream is not null) p.Downstream = refitDownstream;
        string downstream = scoredLabelFree && refitDownstream is null ? "label-free score" : p.Downstream.Trainer switch
        {
            DownstreamTrainer.LightGbm => string.Create(CultureInfo.InvariantCulture,
                $"LightGBM ({p.Downstream.LightGbmLeaves} leaves, {p.Downstream.LightGbmMinimumRowsPerLeaf} rows per leaf, {p.Downstream.LightGbmIterations} iterations)"),
            DownstreamTrainer.FineTune => string.Create(CultureInfo.InvariantCulture,
                $"fine-tuning ({p.Downstream.FineTuneEpochs} epochs{(p.Downstream.SemiSupervised ? ", FixMatch" : "")}{(p.Downstream.Distill ? ", distillation" : "")}{(p.Downstream.FreezeEncoder ? ", frozen encoder" : "")})"),
            DownstreamTrainer.NearestNeighbor => "1-nearest neighbour (Euclidean)",
            _ => string.Create(CultureInfo.InvariantCulture, $"L-BFGS (L1 {p.Downstream.L1Regularization:G2}, L2 {p.Downstream.L2Regularization:G2})"),
        };
        SslPretrainingParameters pre = p.Pretraining;
        return p.Features switch
        {
            SslFeatureSource.RawFeatures => $"Raw features + {downstream}",
            SslFeatureSource.SupervisedFromScratch => string.Create(CultureInfo.InvariantCulture,
                $"{pre.Encoder} x{pre.EncoderWidth:0.##} from scratch (no pretraining) + fine-tuning ({p.Downstream.FineTuneEpochs} epochs)"),
            // Raw features beside the embedding are a different pipeline from the embedding alone: say so, or two rows of
            // the leaderboard read the same.
            _ => string.Create(CultureInfo.InvariantCulture,
                $"{(p.Features == SslFeatureSource.RawAndSelfSupervised ? "Raw features and " : "")}{pre.Method} {pre.Encoder} x{pre.EncoderWidth:0.##} " +
                $"{fidelity ?? trial.Fidelity ?? pre.Epochs} epochs ({pre.Augmentations} augmentations at {pre.AugmentationStrength:0.##}) + {downstream}"),
        };
    }

    /// <summary>The options the trial's pipeline read (<see cref="SslSearchSpace.EffectiveConfiguration"/>: not the
    /// settings of a trainer it did not use) as flat dotted names and invariant-culture values.</summary>
    public static IReadOnlyDictionary<string, string> Flatten(TrialRecord trial)
    {
        var result = new SortedDictionary<string, string>(StringComparer.Ordinal);
        using JsonDocument document = JsonDocument.Parse(JsonSerializer.Serialize(SslSearchSpace.EffectiveConfiguration(trial.Parameters) ?? trial.Parameters));
        Walk(document.RootElement, "", result);
        return result;
    }

    private static void Walk(JsonElement element, string prefix, IDictionary<string, string> into)
    {
        if (element.ValueKind == JsonValueKind.Object)
        {
            foreach (JsonProperty property in element.EnumerateObject())
                Walk(property.Value, prefix.Length == 0 ? property.Name : $"{prefix}.{property.Name}", into);
        }
        else
        {
            into[prefix] = element.ValueKind == JsonValueKind.String ? element.GetString()! : element.GetRawText();
        }
    }
}
