namespace MlNetSsl.AutoML;

/// <summary>
/// Builds the augmentation policy of an <see cref="AugmentationTemplate"/> and a global strength. The search covers
/// augmentations with two numbers instead of one or two per augmentation, after RandAugment (Cubuk et al., 2020), which
/// matched per-augmentation searched policies with one global magnitude: a budget of tens of trials cannot fit a TPE
/// model over the ten to fifteen per-step settings of an image policy.
/// </summary>
public static class SslAugmentationTemplates
{
    /// <summary>
    /// The policy of <paramref name="template"/> for <paramref name="method"/> on rows of <paramref name="shape"/>, every
    /// step at <paramref name="strength"/>:
    /// <list type="bullet">
    /// <item><see cref="AugmentationTemplate.Default"/>: <see cref="DefaultAugmentations.For(string, SslInputShape)"/>.</item>
    /// <item><see cref="AugmentationTemplate.Light"/>: images keep only RandomResizedCrop and HorizontalFlip; series keep
    /// only Scaling and Jitter; tabular rows get GaussianNoise (sigma 0.1) instead of the default corruption.</item>
    /// <item><see cref="AugmentationTemplate.Heavy"/>: the default plus RandomErasing (probability 0.5) for images,
    /// MagnitudeWarp (0.5) and, with several channels, ChannelMasking (0.3) for series, GaussianNoise (sigma 0.1) after
    /// the corruption for tabular rows.</item>
    /// </list>
    /// Step probabilities are the default policy's. VIME corrupts rows itself and ignores the policy, so its templates
    /// only change what is recorded.
    /// </summary>
    /// <param name="template">The template.</param>
    /// <param name="method">The registered SSL method's name (its default policy is the starting point).</param>
    /// <param name="shape">The input shape (kind, image size, channels).</param>
    /// <param name="strength">The strength of every step, in [0, 1].</param>
    /// <exception cref="ArgumentException">The method does not apply to the input kind.</exception>
    public static AugmentationPolicy Build(AugmentationTemplate template, string method, SslInputShape shape, double strength)
    {
        ArgumentNullException.ThrowIfNull(shape);
        if (double.IsNaN(strength) || strength < 0 || strength > 1)
            throw new ArgumentOutOfRangeException(nameof(strength), strength, "The augmentation strength must be in [0, 1].");
        // DefaultAugmentations.For returns fresh augmentation objects, so setting their strength changes nothing shared.
        IReadOnlyList<AugmentationStep> defaults = DefaultAugmentations.For(method, shape).Steps;
        IEnumerable<AugmentationStep> steps = template switch
        {
            AugmentationTemplate.Default => defaults,
            AugmentationTemplate.Light => Light(defaults, shape),
            AugmentationTemplate.Heavy => defaults.Concat(Extra(shape)),
            _ => throw new ArgumentOutOfRangeException(nameof(template), template, $"Unknown augmentation template {template}."),
        };
        return new AugmentationPolicy(steps.Select(step =>
        {
            step.Augmentation.Strength = strength;
            return step;
        }).ToArray());
    }

    private static IEnumerable<AugmentationStep> Light(IReadOnlyList<AugmentationStep> defaults, SslInputShape shape) => shape.Kind switch
    {
        SslInputKind.Image => defaults.Where(s => s.Augmentation is RandomResizedCrop or HorizontalFlip),
        SslInputKind.Series => defaults.Where(s => s.Augmentation is Scaling or Jitter),
        _ => [new AugmentationStep(new GaussianNoise { Sigma = 0.1 })],
    };

    private static IEnumerable<AugmentationStep> Extra(SslInputShape shape)
    {
        switch (shape.Kind)
        {
            case SslInputKind.Image:
                yield return new AugmentationStep(new RandomErasing(), 0.5);
                break;
            case SslInputKind.Series:
                yield return new AugmentationStep(new MagnitudeWarp(), 0.5);
                if (shape.Channels > 1) yield return new AugmentationStep(new ChannelMasking(), 0.3);
                break;
            default:
                yield return new AugmentationStep(new GaussianNoise { Sigma = 0.1 });
                break;
        }
    }
}
