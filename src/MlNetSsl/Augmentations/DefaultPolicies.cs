namespace MlNetSsl;

/// <summary>
/// The augmentation policy each SSL method uses by default for each input kind: the paper recipes scaled down to the
/// small images, short series and standardized tabular rows MlNetSsl targets on CPUs. The policies are ordinary values,
/// so callers and AutoML can start from them and change any step.
/// </summary>
public static class DefaultAugmentations
{
    /// <summary>Images whose smaller side is below this get the CIFAR-style recipe (no blur, crop scale from 0.2).</summary>
    public const int SmallImageSide = 96;

    /// <summary>Whether <paramref name="method"/> has a default policy for <paramref name="kind"/>: SCARF and VIME are
    /// tabular methods; every other method works on every input kind.</summary>
    public static bool Supports(SslMethod method, SslInputKind kind) =>
        method is not (SslMethod.Scarf or SslMethod.Vime) || kind == SslInputKind.Tabular;

    /// <summary>The default policy for <paramref name="method"/> on rows of <paramref name="shape"/> (image size and
    /// channel count refine the image recipe).</summary>
    /// <exception cref="ArgumentException">The method does not apply to this input kind (see <see cref="Supports"/>).</exception>
    public static AugmentationPolicy For(SslMethod method, SslInputShape shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        if (!Supports(method, shape.Kind))
            throw new ArgumentException($"{method} is a tabular method and has no augmentation policy for {shape.Kind} inputs.", nameof(method));
        return shape.Kind switch
        {
            SslInputKind.Image => ForImages(method, shape),
            SslInputKind.Tabular => ForTabular(method),
            SslInputKind.Series => ForSeries(method),
            _ => throw new ArgumentOutOfRangeException(nameof(shape), shape.Kind, "Unknown input kind."),
        };
    }

    /// <summary>The default policy for <paramref name="method"/> on <paramref name="kind"/> inputs, assuming small
    /// RGB images (32x32) and multichannel series.</summary>
    /// <exception cref="ArgumentException">The method does not apply to this input kind (see <see cref="Supports"/>).</exception>
    public static AugmentationPolicy For(SslMethod method, SslInputKind kind) => For(method, kind switch
    {
        SslInputKind.Image => SslInputShape.Image(3, 32, 32),
        SslInputKind.Tabular => SslInputShape.Tabular(1),
        _ => SslInputShape.Series(1, 100),
    });

    private static AugmentationPolicy ForImages(SslMethod method, SslInputShape shape)
    {
        bool small = Math.Min(shape.Height, shape.Width) < SmallImageSide;
        var steps = new List<AugmentationStep>();
        if (method == SslMethod.MaskedAutoencoder)
        {
            // MAE pretrains with crop (0.2-1) and flip only; the masking does the heavy lifting, so the crop is milder here.
            steps.Add(new AugmentationStep(new RandomResizedCrop { MinScale = 0.35 }));
            steps.Add(new AugmentationStep(new HorizontalFlip(), 0.5));
            return new AugmentationPolicy(steps);
        }
        // SimCLR crops from 0.08 of the area; CIFAR recipes (SimCLR appendix, solo-learn) start at 0.2 for small images.
        steps.Add(new AugmentationStep(new RandomResizedCrop { MinScale = small ? 0.2 : 0.08 }));
        // Horizontal flip with probability 0.5, as in every recipe.
        steps.Add(new AugmentationStep(new HorizontalFlip(), 0.5));
        // Colour jitter with probability 0.8 at solo-learn's CIFAR strengths (0.4, 0.4, 0.2, 0.1), half of SimCLR's ImageNet strength 1.
        steps.Add(new AugmentationStep(new ColorJitter(), 0.8));
        // Greyscale with probability 0.2 (SimCLR); pointless on grey images.
        if (shape.Channels == 3) steps.Add(new AugmentationStep(new RandomGrayscale(), 0.2));
        // Blur with probability 0.5 (SimCLR ImageNet); SimCLR and solo-learn drop it at CIFAR size, where it erases the signal.
        if (!small) steps.Add(new AugmentationStep(new GaussianBlur(), 0.5));
        // BYOL, Barlow Twins and VICReg solarize their second view with probability 0.2; one shared policy averages that to 0.1.
        if (method is SslMethod.Byol or SslMethod.BarlowTwins or SslMethod.Vicreg)
            steps.Add(new AugmentationStep(new Solarize(), 0.1));
        return new AugmentationPolicy(steps);
    }

    private static AugmentationPolicy ForTabular(SslMethod method) => method switch
    {
        // VIME's pretext: mask-and-swap with p_m = 0.3; the VIME method reads the mask through ApplyWithMask.
        SslMethod.Vime => new AugmentationPolicy(new VimeMaskAndSwap()),
        // Masked-feature reconstruction does its own masking; light noise only regularizes.
        SslMethod.MaskedAutoencoder => new AugmentationPolicy(new GaussianNoise { Sigma = 0.05 }),
        // SCARF's corruption (rate 0.6) for SCARF and for every two-view method on tabular rows.
        _ => new AugmentationPolicy(new ScarfCorruption()),
    };

    private static AugmentationPolicy ForSeries(SslMethod method)
    {
        if (method == SslMethod.MaskedAutoencoder)
            return new AugmentationPolicy(new Jitter { Sigma = 0.05 });
        // Um et al. (2017) jitter, scaling and time warping plus window slicing; warps and crops on half the rows so
        // every view keeps some undistorted timing.
        return new AugmentationPolicy(
        [
            new AugmentationStep(new RandomCropResize { MinScale = 0.6 }, 0.5),
            new AugmentationStep(new TimeWarp(), 0.5),
            new AugmentationStep(new Scaling()),
            new AugmentationStep(new Jitter()),
        ]);
    }
}
