// An augmentation written outside the library: it zeroes a random subset of a tabular row's features. docs/extending.md
// shows this file; ExtensionPointTests use it in the stage and through model save and load.
using MlNetSsl;  // the library (this file also compiles outside the MlNetSsl namespace)
using TorchSharp;
using static TorchSharp.torch;
using static MlNetSsl.HeldScalars;

namespace MlNetSsl.Tests.Extending;

/// <summary>Zeroes each feature of each row with probability <see cref="Rate"/> x <see cref="Augmentation.Strength"/>
/// (features are standardized before augmentation, so zero is the feature's mean).</summary>
public sealed class FeatureDropout : Augmentation
{
    /// <summary>Probability of zeroing a feature at full strength. Default 0.3.</summary>
    public double Rate { get; set; } = 0.3;

    /// <inheritdoc />
    public override SslInputKind InputKind => SslInputKind.Tabular;

    /// <inheritdoc />
    public override Tensor Apply(Tensor batch, AugmentationContext context)
    {
        using var scope = torch.NewDisposeScope();
        // Random numbers come from the context's generator, so views are reproducible from the trainer's seed.
        // The threshold goes in as a held scalar (.ge(Held(...)), not >= a double): see HeldScalars.
        Tensor keep = torch.rand(batch.shape, generator: context.Generator, device: batch.device).ge(Held(Rate * Strength));
        return (batch * keep.to_type(batch.dtype)).MoveToOuterDisposeScope();
    }
}
