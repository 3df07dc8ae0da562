using TorchSharp;
using static TorchSharp.torch;

namespace MlNetSsl;

/// <summary>
/// Makes augmented views of a batch for one training step: applies an <see cref="AugmentationPolicy"/> with the
/// step's random generator, so a step's views depend only on the run seed, the step index and the batch.
/// </summary>
public sealed class ViewGenerator
{
    /// <summary>Creates a view generator.</summary>
    /// <param name="policy">The augmentation policy; an empty policy returns the batch unchanged.</param>
    /// <param name="context">Random generator, device and data statistics for the augmentations.</param>
    public ViewGenerator(AugmentationPolicy policy, AugmentationContext context)
    {
        Policy = policy;
        Context = context;
    }

    /// <summary>The augmentation policy.</summary>
    public AugmentationPolicy Policy { get; }

    /// <summary>Random generator, device and data statistics shared by the augmentations of this step.</summary>
    public AugmentationContext Context { get; }

    /// <summary>The step's random generator (for method-specific randomness such as masks).</summary>
    public Generator Generator => Context.Generator;

    /// <summary>One augmented view of <paramref name="batch"/>.</summary>
    public Tensor Make(Tensor batch) => Policy.Apply(batch, Context);
}
