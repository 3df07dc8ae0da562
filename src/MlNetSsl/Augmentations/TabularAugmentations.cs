using TorchSharp;
using static TorchSharp.torch;
using static MlNetSsl.HeldScalars;

namespace MlNetSsl;

/// <summary>
/// SCARF corruption (Bahri et al., 2022): replaces exactly round(s x <see cref="CorruptionRate"/> x F) randomly chosen
/// features of each row (strength s, F features) with draws from each feature's empirical marginal, i.e. the same
/// column of a random row of <see cref="AugmentationContext.FeatureBank"/> (or of the batch when there is no bank).
/// </summary>
public sealed class ScarfCorruption : Augmentation
{
    private double _corruptionRate = 0.6;

    /// <summary>Fraction of each row's features replaced at full strength. Default 0.6 (the SCARF paper).</summary>
    public double CorruptionRate { get => _corruptionRate; set => _corruptionRate = AugmentationOps.InRange(value, 0, 1, nameof(ScarfCorruption), nameof(CorruptionRate)); }

    /// <inheritdoc />
    public override SslInputKind InputKind => SslInputKind.Tabular;

    /// <inheritdoc />
    public override Tensor Apply(Tensor batch, AugmentationContext context)
    {
        AugmentationOps.CheckBatch(batch, InputKind, this);
        using var scope = torch.NewDisposeScope();
        long n = batch.shape[0], f = batch.shape[1];
        Tensor source = context.FeatureBank ?? batch;
        if (source.dim() != 2 || source.shape[1] != f || source.shape[0] == 0)
            throw new ArgumentException($"ScarfCorruption needs a feature bank shaped [M, {f}], got [{string.Join(", ", source.shape)}].", nameof(context));
        long k = (long)Math.Round(Strength * CorruptionRate * f);
        // Ranks of uniform keys give each row an independent random subset of exactly k columns.
        Tensor ranks = torch.rand(new[] { n, f }, device: batch.device, generator: context.Generator).argsort(1).argsort(1);
        Tensor mask = ranks.lt(Held(k));
        Tensor rows = torch.randint(0, source.shape[0], new[] { n, f }, device: batch.device, generator: context.Generator);
        Tensor replacement = (source.dtype == batch.dtype ? source : source.to(batch.dtype)).gather(0, rows);
        return torch.where(mask, replacement, batch).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// VIME's mask-and-swap corruption (Yoon et al., 2020): each entry is masked with probability s x
/// <see cref="MaskProbability"/> (strength s), and a masked entry takes the value of the same column in another row,
/// through an independent shuffle of each column of the batch. <see cref="ApplyWithMask"/> also returns the mask,
/// which is VIME's mask-estimation target.
/// </summary>
public sealed class VimeMaskAndSwap : Augmentation
{
    private double _maskProbability = 0.3;

    /// <summary>Chance that an entry is masked at full strength. Default 0.3 (the VIME paper's p_m).</summary>
    public double MaskProbability { get => _maskProbability; set => _maskProbability = AugmentationOps.InRange(value, 0, 1, nameof(VimeMaskAndSwap), nameof(MaskProbability)); }

    /// <inheritdoc />
    public override SslInputKind InputKind => SslInputKind.Tabular;

    /// <inheritdoc />
    public override Tensor Apply(Tensor batch, AugmentationContext context)
    {
        (Tensor corrupted, Tensor mask) = ApplyWithMask(batch, context);
        mask.Dispose();
        return corrupted;
    }

    /// <summary>Corrupts <paramref name="batch"/> and returns the mask used: 1 where an entry was swapped, 0 elsewhere,
    /// in the batch's dtype. The input is not modified.</summary>
    public (Tensor Corrupted, Tensor Mask) ApplyWithMask(Tensor batch, AugmentationContext context)
    {
        AugmentationOps.CheckBatch(batch, InputKind, this);
        using var scope = torch.NewDisposeScope();
        long n = batch.shape[0], f = batch.shape[1];
        Tensor mask = AugmentationOps.Uniform(context, batch, [n, f], 0, 1).lt(Held(Strength * MaskProbability));
        Tensor shuffled = batch.gather(0, torch.rand(new[] { n, f }, device: batch.device, generator: context.Generator).argsort(0));
        Tensor corrupted = torch.where(mask, shuffled, batch);
        return (corrupted.MoveToOuterDisposeScope(), mask.to(batch.dtype).MoveToOuterDisposeScope());
    }
}

/// <summary>Adds Gaussian noise with standard deviation s x <see cref="Sigma"/> (strength s) to every entry.</summary>
public sealed class GaussianNoise : Augmentation
{
    private double _sigma = 0.1;

    /// <summary>Noise standard deviation at full strength, in units of the standardized features. Default 0.1.</summary>
    public double Sigma { get => _sigma; set => _sigma = AugmentationOps.InRange(value, 0, 10, nameof(GaussianNoise), nameof(Sigma)); }

    /// <inheritdoc />
    public override SslInputKind InputKind => SslInputKind.Tabular;

    /// <inheritdoc />
    public override Tensor Apply(Tensor batch, AugmentationContext context) =>
        AugmentationOps.AddNoise(this, batch, context, Strength * Sigma);
}

/// <summary>
/// Mixup within the batch (Zhang et al., 2018): each row is blended with a random other row. The weight comes from
/// a Kumaraswamy(<see cref="Alpha"/>, Alpha) draw (a closed-form stand-in for Beta(Alpha, Alpha) that a seeded uniform
/// can drive), folded so the row's own weight is at least 0.5, and the partner's weight is scaled by strength.
/// </summary>
public sealed class Mixup : Augmentation
{
    private double _alpha = 0.4;

    /// <summary>Shape of the mixing distribution; smaller means milder mixes. Default 0.4.</summary>
    public double Alpha { get => _alpha; set => _alpha = AugmentationOps.InRange(value, 0.01, 100, nameof(Mixup), nameof(Alpha)); }

    /// <inheritdoc />
    public override SslInputKind InputKind => SslInputKind.Tabular;

    /// <inheritdoc />
    public override Tensor Apply(Tensor batch, AugmentationContext context)
    {
        AugmentationOps.CheckBatch(batch, InputKind, this);
        using var scope = torch.NewDisposeScope();
        long n = batch.shape[0];
        Tensor u = AugmentationOps.Uniform(context, batch, [n], 1e-6, 1 - 1e-6);
        if (n < 2) return batch.clone().MoveToOuterDisposeScope();
        Tensor lambda = u.neg().add_(One, One).pow(Held(1 / Alpha)).neg().add_(One, One).pow(Held(1 / Alpha));
        Tensor partnerWeight = torch.minimum(lambda, lambda.neg().add_(One, One)).mul_(Held(Strength)).unsqueeze(1);
        // A nonzero offset modulo n never maps a row to itself.
        Tensor partner = torch.arange(Zero, Held(n), One, device: batch.device)
            .add(torch.randint(1, n, new[] { n }, device: batch.device, generator: context.Generator), One).remainder(Held(n));
        return (batch * partnerWeight.neg().add_(One, One)).add_(batch.index_select(0, partner) * partnerWeight, One).MoveToOuterDisposeScope();
    }
}
