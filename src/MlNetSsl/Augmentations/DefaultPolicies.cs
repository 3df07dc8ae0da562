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

    /// <summary>Whether the built-in <paramref name="method"/> works on <paramref name="kind"/> rows: SCARF and VIME are
    /// tabular methods; every other method works on every input kind.</summary>
    public static bool Supports(SslMethod method, SslInputKind kind) => SslMethodRegistry.Get(method).Supports(kind);

    /// <summary>The default policy for the built-in <paramref name="method"/> on rows of <paramref name="shape"/> (image
    /// size and channel count refine the image recipe).</summary>
    /// <exception cref="ArgumentException">The method does not apply to this input kind (see <see cref="Supports"/>).</exception>
    public static AugmentationPolicy For(SslMethod method, SslInputShape shape) => SslMethodRegistry.Get(method).DefaultAugmentations(shape);

    /// <summary>The default policy of the registered method <paramref name="methodName"/> on rows of <paramref name="shape"/>.</summary>
    /// <exception cref="ArgumentException">No such method, or it does not apply to this input kind.</exception>
    public static AugmentationPolicy For(string methodName, SslInputShape shape) => SslMethodRegistry.Get(methodName).DefaultAugmentations(shape);

    /// <summary>The default policy for <paramref name="method"/> on <paramref name="kind"/> inputs, assuming small
    /// RGB images (32x32) and multichannel series.</summary>
    /// <exception cref="ArgumentException">The method does not apply to this input kind (see <see cref="Supports"/>).</exception>
    public static AugmentationPolicy For(SslMethod method, SslInputKind kind) => For(method, kind switch
    {
        SslInputKind.Image => SslInputShape.Image(3, 32, 32),
        SslInputKind.Tabular => SslInputShape.Tabular(1),
        _ => SslInputShape.Series(1, 100),
    });

    /// <summary>
    /// The two-view recipe of the contrastive and distillation methods: crop, flip, colour jitter and greyscale (and
    /// blur on large images) for images; SCARF's feature corruption for tabular rows; slicing, time warping, scaling and
    /// jitter for series.
    /// </summary>
    /// <param name="shape">The rows' shape.</param>
    /// <param name="solarize">Add solarization to image views, as BYOL, Barlow Twins and VICReg do.</param>
    public static AugmentationPolicy TwoView(SslInputShape shape, bool solarize = false)
    {
        ArgumentNullException.ThrowIfNull(shape);
        return shape.Kind switch
        {
            SslInputKind.Image => ContrastiveImages(shape, solarize),
            // SCARF's corruption (rate 0.6) for SCARF and for every two-view method on tabular rows.
            SslInputKind.Tabular => new AugmentationPolicy(new ScarfCorruption()),
            SslInputKind.Series => SeriesViews(),
            _ => throw new ArgumentOutOfRangeException(nameof(shape), shape.Kind, "Unknown input kind."),
        };
    }

    /// <summary>The light policy of masked-reconstruction methods, whose masking does the heavy lifting: crop and flip
    /// for images, small Gaussian noise for tabular rows, small jitter for series.</summary>
    /// <param name="shape">The rows' shape.</param>
    public static AugmentationPolicy Masked(SslInputShape shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        return shape.Kind switch
        {
            // MAE pretrains with crop (0.2-1) and flip only; the crop is milder here.
            SslInputKind.Image => new AugmentationPolicy(
                [new AugmentationStep(new RandomResizedCrop { MinScale = 0.35 }), new AugmentationStep(new HorizontalFlip(), 0.5)]),
            // Masked-feature reconstruction does its own masking; light noise only regularizes.
            SslInputKind.Tabular => new AugmentationPolicy(new GaussianNoise { Sigma = 0.05 }),
            SslInputKind.Series => new AugmentationPolicy(new Jitter { Sigma = 0.05 }),
            _ => throw new ArgumentOutOfRangeException(nameof(shape), shape.Kind, "Unknown input kind."),
        };
    }

    /// <summary>VIME's pretext corruption: mask-and-swap with p_m = 0.3 (the VIME method reads the mask through
    /// <c>ApplyWithMask</c>).</summary>
    public static AugmentationPolicy VimeMaskAndSwap() => new(new VimeMaskAndSwap());

    private static AugmentationPolicy ContrastiveImages(SslInputShape shape, bool solarize)
    {
        bool small = Math.Min(shape.Height, shape.Width) < SmallImageSide;
        var steps = new List<AugmentationStep>
        {
            // SimCLR crops from 0.08 of the area; CIFAR recipes (SimCLR appendix, solo-learn) start at 0.2 for small images.
            new(new RandomResizedCrop { MinScale = small ? 0.2 : 0.08 }),
            // Horizontal flip with probability 0.5, as in every recipe.
            new(new HorizontalFlip(), 0.5),
            // Colour jitter with probability 0.8 at solo-learn's CIFAR strengths (0.4, 0.4, 0.2, 0.1), half of SimCLR's ImageNet strength 1.
            new(new ColorJitter(), 0.8),
        };
        // Greyscale with probability 0.2 (SimCLR); pointless on grey images.
        if (shape.Channels == 3) steps.Add(new AugmentationStep(new RandomGrayscale(), 0.2));
        // Blur with probability 0.5 (SimCLR ImageNet); SimCLR and solo-learn drop it at CIFAR size, where it erases the signal.
        if (!small) steps.Add(new AugmentationStep(new GaussianBlur(), 0.5));
        // BYOL, Barlow Twins and VICReg solarize their second view with probability 0.2; one shared policy averages that to 0.1.
        if (solarize) steps.Add(new AugmentationStep(new Solarize(), 0.1));
        return new AugmentationPolicy(steps);
    }

    // Um et al. (2017) jitter, scaling and time warping plus window slicing; warps and crops on half the rows so
    // every view keeps some undistorted timing.
    private static AugmentationPolicy SeriesViews() => new(
    [
        new AugmentationStep(new RandomCropResize { MinScale = 0.6 }, 0.5),
        new AugmentationStep(new TimeWarp(), 0.5),
        new AugmentationStep(new Scaling()),
        new AugmentationStep(new Jitter()),
    ]);
}
