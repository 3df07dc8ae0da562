using TorchSharp;
using static TorchSharp.torch;
using static MlNetSsl.HeldScalars;

namespace MlNetSsl;

/// <summary>Adds Gaussian noise with standard deviation s x <see cref="Sigma"/> (strength s) to every time step
/// (Um et al., 2017).</summary>
public sealed class Jitter : Augmentation
{
    private double _sigma = 0.1;

    /// <summary>Noise standard deviation at full strength, in units of the standardized channels. Default 0.1.</summary>
    public double Sigma { get => _sigma; set => _sigma = AugmentationOps.InRange(value, 0, 10, nameof(Jitter), nameof(Sigma)); }

    /// <inheritdoc />
    public override SslInputKind InputKind => SslInputKind.Series;

    /// <inheritdoc />
    public override Tensor Apply(Tensor batch, AugmentationContext context) =>
        AugmentationOps.AddNoise(this, batch, context, Strength * Sigma);
}

/// <summary>Multiplies each channel of each row by a factor drawn from N(1, (s x <see cref="Sigma"/>)^2) for strength s
/// (Um et al., 2017).</summary>
public sealed class Scaling : Augmentation
{
    private double _sigma = 0.1;

    /// <summary>Standard deviation of the factor at full strength. Default 0.1 (Um et al.).</summary>
    public double Sigma { get => _sigma; set => _sigma = AugmentationOps.InRange(value, 0, 10, nameof(Scaling), nameof(Sigma)); }

    /// <inheritdoc />
    public override SslInputKind InputKind => SslInputKind.Series;

    /// <inheritdoc />
    public override Tensor Apply(Tensor batch, AugmentationContext context)
    {
        AugmentationOps.CheckBatch(batch, InputKind, this);
        using var scope = torch.NewDisposeScope();
        Tensor factor = AugmentationOps.Normal(context, batch, [batch.shape[0], batch.shape[1], 1]).mul_(Held(Strength * Sigma)).add_(One, One);
        return (batch * factor).MoveToOuterDisposeScope();
    }
}

/// <summary>Multiplies each channel by a smooth random curve: <see cref="Knots"/> + 2 knots drawn from
/// N(1, (s x <see cref="Sigma"/>)^2), bicubically interpolated over time (Um et al., 2017).</summary>
public sealed class MagnitudeWarp : Augmentation
{
    private double _sigma = 0.2;
    private int _knots = 4;

    /// <summary>Standard deviation of the knots at full strength. Default 0.2 (Um et al.).</summary>
    public double Sigma { get => _sigma; set => _sigma = AugmentationOps.InRange(value, 0, 10, nameof(MagnitudeWarp), nameof(Sigma)); }

    /// <summary>Interior knots of the curve; more knots make it wigglier. Default 4 (Um et al.).</summary>
    public int Knots { get => _knots; set => _knots = AugmentationOps.InRange(value, 1, 64, nameof(MagnitudeWarp), nameof(Knots)); }

    /// <inheritdoc />
    public override SslInputKind InputKind => SslInputKind.Series;

    /// <inheritdoc />
    public override Tensor Apply(Tensor batch, AugmentationContext context)
    {
        AugmentationOps.CheckBatch(batch, InputKind, this);
        using var scope = torch.NewDisposeScope();
        Tensor curve = AugmentationOps.SmoothNoise(context, batch, batch.shape[0], batch.shape[1], Knots, batch.shape[2], Strength * Sigma);
        return (batch * curve.add(One, One)).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// Smooth, monotone time warping (Um et al., 2017): a random speed curve (knots from N(1, (s x <see cref="Sigma"/>)^2),
/// bicubically interpolated, kept positive) is integrated into new sample positions spanning the whole series, and
/// every channel is linearly resampled at them. Channels of a row share the warp.
/// </summary>
public sealed class TimeWarp : Augmentation
{
    private double _sigma = 0.2;
    private int _knots = 4;

    /// <summary>Standard deviation of the speed knots at full strength. Default 0.2 (Um et al.).</summary>
    public double Sigma { get => _sigma; set => _sigma = AugmentationOps.InRange(value, 0, 10, nameof(TimeWarp), nameof(Sigma)); }

    /// <summary>Interior knots of the speed curve. Default 4 (Um et al.).</summary>
    public int Knots { get => _knots; set => _knots = AugmentationOps.InRange(value, 1, 64, nameof(TimeWarp), nameof(Knots)); }

    /// <inheritdoc />
    public override SslInputKind InputKind => SslInputKind.Series;

    /// <inheritdoc />
    public override Tensor Apply(Tensor batch, AugmentationContext context)
    {
        AugmentationOps.CheckBatch(batch, InputKind, this);
        using var scope = torch.NewDisposeScope();
        long n = batch.shape[0], t = batch.shape[2];
        Tensor speed = AugmentationOps.SmoothNoise(context, batch, n, 1, Knots, t, Strength * Sigma).view(n, t).add_(One, One).clamp_min_(Held(0.1));
        if (t < 2) return batch.clone().MoveToOuterDisposeScope();
        // Positions start at 0 and end at T-1; constant speed gives the integers 0..T-1 exactly.
        Tensor cumulative = speed.cumsum(1);
        cumulative = cumulative - cumulative[.., 0..1];
        Tensor positions = cumulative * cumulative[.., (int)(t - 1)..(int)t].reciprocal().mul(Held(t - 1));
        return AugmentationOps.ResampleTime(batch, positions).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// Splits each series into k nearly equal segments and concatenates them in a random order per row (Um et al., 2017),
/// with k = 1 + round(s x (<see cref="MaxSegments"/> - 1)) for strength s; channels of a row move together.
/// </summary>
public sealed class SegmentPermutation : Augmentation
{
    private int _maxSegments = 5;

    /// <summary>Number of segments at full strength. Default 5 (TS-TCC's max_seg).</summary>
    public int MaxSegments { get => _maxSegments; set => _maxSegments = AugmentationOps.InRange(value, 1, 64, nameof(SegmentPermutation), nameof(MaxSegments)); }

    /// <inheritdoc />
    public override SslInputKind InputKind => SslInputKind.Series;

    /// <inheritdoc />
    public override Tensor Apply(Tensor batch, AugmentationContext context)
    {
        AugmentationOps.CheckBatch(batch, InputKind, this);
        using var scope = torch.NewDisposeScope();
        long n = batch.shape[0], c = batch.shape[1], t = batch.shape[2];
        long k = Math.Min(t, 1 + (long)Math.Round(Strength * (MaxSegments - 1)));
        Tensor keys = torch.rand(new[] { n, Math.Max(k, 1) }, device: batch.device, generator: context.Generator);
        if (k < 2) return batch.clone().MoveToOuterDisposeScope();
        long[] bounds = Enumerable.Range(0, (int)k + 1).Select(j => j * t / k).ToArray();
        Tensor starts = torch.tensor(bounds[..^1], device: batch.device);
        Tensor lengths = torch.tensor(bounds[1..], device: batch.device) - starts;
        Tensor order = keys.argsort(1);                                  // [n, k]: segment placed in each slot
        Tensor slotLengths = lengths.index_select(0, order.flatten()).view(n, k);
        Tensor slotStarts = slotLengths.cumsum(1) - slotLengths;         // output offset of each slot
        Tensor time = torch.arange(Zero, Held(t), One, device: batch.device);
        Tensor slot = (slotStarts.unsqueeze(2) <= time.view(1, 1, t)).sum(1).sub(One);   // [n, t]
        Tensor source = starts.index_select(0, order.gather(1, slot).flatten()).view(n, t).add(time.unsqueeze(0) - slotStarts.gather(1, slot), One);
        return batch.gather(2, source.unsqueeze(1).expand(n, c, t)).MoveToOuterDisposeScope();
    }
}

/// <summary>Zeroes whole channels: each channel of each row is zeroed with probability s x <see cref="MaskProbability"/>
/// for strength s (zero is the channel mean of a standardized series).</summary>
public sealed class ChannelMasking : Augmentation
{
    private double _maskProbability = 0.25;

    /// <summary>Chance that a channel is zeroed at full strength. Default 0.25.</summary>
    public double MaskProbability { get => _maskProbability; set => _maskProbability = AugmentationOps.InRange(value, 0, 1, nameof(ChannelMasking), nameof(MaskProbability)); }

    /// <inheritdoc />
    public override SslInputKind InputKind => SslInputKind.Series;

    /// <inheritdoc />
    public override Tensor Apply(Tensor batch, AugmentationContext context)
    {
        AugmentationOps.CheckBatch(batch, InputKind, this);
        using var scope = torch.NewDisposeScope();
        Tensor mask = AugmentationOps.Uniform(context, batch, [batch.shape[0], batch.shape[1], 1], 0, 1).lt(Held(Strength * MaskProbability));
        return torch.where(mask, torch.zeros_like(batch), batch).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// Crops a random window covering a fraction of the series drawn from [1 - s(1 - <see cref="MinScale"/>), 1] for
/// strength s and stretches it back to the full length by linear interpolation (the window slicing of Le Guennec et
/// al., 2016).
/// </summary>
public sealed class RandomCropResize : Augmentation
{
    private double _minScale = 0.5;

    /// <summary>Smallest window length as a fraction of the series at full strength. Default 0.5.</summary>
    public double MinScale { get => _minScale; set => _minScale = AugmentationOps.InRange(value, 0.05, 1, nameof(RandomCropResize), nameof(MinScale)); }

    /// <inheritdoc />
    public override SslInputKind InputKind => SslInputKind.Series;

    /// <inheritdoc />
    public override Tensor Apply(Tensor batch, AugmentationContext context)
    {
        AugmentationOps.CheckBatch(batch, InputKind, this);
        using var scope = torch.NewDisposeScope();
        long n = batch.shape[0], t = batch.shape[2];
        Tensor fraction = AugmentationOps.Uniform(context, batch, [n, 1], 1 - Strength * (1 - MinScale), 1);
        Tensor start = (AugmentationOps.Uniform(context, batch, [n, 1], 0, 1) * fraction.neg().add_(One, One)).mul_(Held(t - 1));
        Tensor positions = start.add(fraction * torch.arange(Zero, Held(t), One, dtype: batch.dtype, device: batch.device).unsqueeze(0), One);
        return AugmentationOps.ResampleTime(batch, positions).MoveToOuterDisposeScope();
    }
}
