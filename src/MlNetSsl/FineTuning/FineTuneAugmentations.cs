namespace MlNetSsl;

/// <summary>
/// Default augmentations for fine-tuning, per input kind. <see cref="Weak"/> is the FixMatch weak view (flip and a mild
/// crop for images) and the default augmentation of labeled rows; <see cref="Strong"/> is the FixMatch strong view,
/// built from the augmentation library (crop, colour, greyscale, rotation, solarize and cutout for images, in place of
/// RandAugment). Both are ordinary policies: change any step, or pass your own in <see cref="FineTuneOptions"/>.
/// </summary>
public static class FineTuneAugmentations
{
    /// <summary>
    /// The weak view for rows of <paramref name="shape"/>. Images: a crop of 60-100% of the area resized back (close
    /// to FixMatch's 12.5% translation) and, for colour images only, a horizontal flip with probability 0.5 (grey
    /// images are often characters or digits, which flipping changes). Tabular rows: Gaussian noise of 0.05 standard
    /// deviations. Series: per-channel scaling (sigma 0.1) and jitter (sigma 0.03).
    /// </summary>
    /// <param name="shape">Shape of one input row.</param>
    public static AugmentationPolicy Weak(SslInputShape shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        return shape.Kind switch
        {
            SslInputKind.Image => new AugmentationPolicy(shape.Channels == 3
                ? [new AugmentationStep(new RandomResizedCrop { MinScale = 0.6 }), new AugmentationStep(new HorizontalFlip(), 0.5)]
                : [new AugmentationStep(new RandomResizedCrop { MinScale = 0.6 })]),
            SslInputKind.Tabular => new AugmentationPolicy(new GaussianNoise { Sigma = 0.05 }),
            SslInputKind.Series => new AugmentationPolicy(new Scaling { Sigma = 0.1 }, new Jitter { Sigma = 0.03 }),
            _ => throw new ArgumentOutOfRangeException(nameof(shape), shape.Kind, "Unknown input kind."),
        };
    }

    /// <summary>
    /// The strong view for rows of <paramref name="shape"/>. Images: a crop of 25-100% of the area, the weak view's
    /// flip, colour jitter (p 0.8), greyscale (p 0.2, colour only), rotation up to 30 degrees (p 0.5), solarize (p 0.2)
    /// and cutout (random erasing of 2-25% of the area, always), which stands in for FixMatch's RandAugment plus Cutout.
    /// Tabular rows: SCARF corruption of 10% of the features (none below 5 features) plus Gaussian noise of 0.3 standard
    /// deviations; heavier corruption (30% of the features) turned correct pseudo-labels into wrong targets on small
    /// tables (banknote: 86% instead of 97% test accuracy with 8 labels; see docs/fine-tuning.md). Series:
    /// crop-and-resize to 60-100% (p 0.5), time warp (p 0.5), scaling, jitter and channel masking for multichannel series.
    /// </summary>
    /// <param name="shape">Shape of one input row.</param>
    public static AugmentationPolicy Strong(SslInputShape shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        switch (shape.Kind)
        {
            case SslInputKind.Image:
            {
                var steps = new List<AugmentationStep> { new(new RandomResizedCrop { MinScale = 0.25 }) };
                if (shape.Channels == 3) steps.Add(new AugmentationStep(new HorizontalFlip(), 0.5));
                steps.Add(new AugmentationStep(new ColorJitter(), 0.8));
                if (shape.Channels == 3) steps.Add(new AugmentationStep(new RandomGrayscale(), 0.2));
                steps.Add(new AugmentationStep(new Rotation { MaxDegrees = 30 }, 0.5));
                steps.Add(new AugmentationStep(new Solarize(), 0.2));
                steps.Add(new AugmentationStep(new RandomErasing { MinArea = 0.02, MaxArea = 0.25, Value = 0.5 }));
                return new AugmentationPolicy(steps);
            }
            case SslInputKind.Tabular:
                return new AugmentationPolicy(new ScarfCorruption { CorruptionRate = 0.1 }, new GaussianNoise { Sigma = 0.3 });
            case SslInputKind.Series:
            {
                var steps = new List<AugmentationStep>
                {
                    new(new RandomCropResize { MinScale = 0.6 }, 0.5),
                    new(new TimeWarp(), 0.5),
                    new(new Scaling()),
                    new(new Jitter()),
                };
                if (shape.Channels > 1) steps.Add(new AugmentationStep(new ChannelMasking(), 0.5));
                return new AugmentationPolicy(steps);
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(shape), shape.Kind, "Unknown input kind.");
        }
    }
}
