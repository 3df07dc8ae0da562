using System.Text.Json.Serialization;
using TorchSharp;
using static TorchSharp.torch;

namespace MlNetSsl;

/// <summary>
/// One batched, seeded data augmentation. It transforms a whole batch tensor on the batch's device, drawing all its
/// randomness from <see cref="AugmentationContext.Generator"/>, with a <see cref="Strength"/> in [0, 1] that scales
/// how hard it perturbs (0 leaves the batch unchanged). Subclasses are plain settable-property classes, so a policy
/// serializes to JSON (the type name is the discriminator) and AutoML can search over them.
/// </summary>
public abstract class Augmentation
{
    private double _strength = 1.0;

    /// <summary>How strongly to perturb, from 0 (identity) to 1 (the augmentation's full range). Default 1.</summary>
    public double Strength
    {
        get => _strength;
        set
        {
            if (double.IsNaN(value) || value < 0 || value > 1)
                throw new ArgumentOutOfRangeException(nameof(Strength), value, $"{GetType().Name}.Strength must be in [0, 1].");
            _strength = value;
        }
    }

    /// <summary>The input kind this augmentation applies to.</summary>
    [JsonIgnore]
    public abstract SslInputKind InputKind { get; }

    /// <summary>Returns an augmented copy of <paramref name="batch"/> (the input is not modified).</summary>
    /// <param name="batch">A batch shaped as <see cref="SslInputShape.BatchShape"/> for <see cref="InputKind"/>.</param>
    /// <param name="context">Random generator and data statistics.</param>
    public abstract Tensor Apply(Tensor batch, AugmentationContext context);

    /// <summary>Whether each row's output depends on that row and its own random draws alone, every draw taken through
    /// <see cref="AugmentationOps"/> with the batch's rows first: then a subset of a batch's rows can be augmented
    /// exactly as the whole batch would augment them (<see cref="AugmentationPolicy.ApplyToRows"/>). Custom
    /// augmentations draw as they like, so they are applied to the whole batch there.</summary>
    internal virtual bool DrawsPerRow => false;

    /// <inheritdoc />
    public override string ToString() => $"{GetType().Name}(strength {Strength:0.##})";
}

/// <summary>Randomness and data statistics shared by the augmentations of one training step.</summary>
public sealed class AugmentationContext
{
    /// <summary>Creates a context.</summary>
    /// <param name="generator">The random generator every augmentation draws from (on the batch's device).</param>
    /// <param name="inputShape">Shape of one input row.</param>
    /// <param name="featureBank">For tabular augmentations that sample feature marginals: rows [M, F] of real
    /// (standardized) data on the batch's device. Null when not needed.</param>
    public AugmentationContext(Generator generator, SslInputShape inputShape, Tensor? featureBank = null)
    {
        Generator = generator;
        InputShape = inputShape;
        FeatureBank = featureBank;
    }

    /// <summary>The random generator every augmentation draws from.</summary>
    public Generator Generator { get; }

    /// <summary>Shape of one input row.</summary>
    public SslInputShape InputShape { get; }

    /// <summary>Real rows [M, F] whose columns are the empirical marginals tabular corruptions sample from.</summary>
    public Tensor? FeatureBank { get; }

    /// <summary>While a policy augments some rows of a batch (<see cref="AugmentationPolicy.ApplyToRows"/>): their
    /// indices in that batch, whose row count is <see cref="SelectedFromRows"/>. Null otherwise.</summary>
    internal Tensor? SelectedRows { get; private init; }

    /// <summary>The row count of the batch <see cref="SelectedRows"/> index.</summary>
    internal long SelectedFromRows { get; private init; }

    /// <summary>This context for augmenting the rows <paramref name="rows"/> of a batch of <paramref name="batchRows"/> rows:
    /// per-row draws are taken for the whole batch and the selected rows' share kept.</summary>
    internal AugmentationContext ForRows(Tensor rows, long batchRows) =>
        new(Generator, InputShape, FeatureBank) { SelectedRows = rows, SelectedFromRows = batchRows };
}
