using TorchSharp;
using static TorchSharp.torch;
using static MlNetSsl.HeldScalars;

namespace MlNetSsl;

/// <summary>
/// Crops a random region of random area and aspect ratio and resizes it back to the input size (one bilinear
/// affine-grid resample per batch). Strength scales the ranges towards the whole image: at 0 the crop is the full
/// image; at 1 the area fraction is drawn from [<see cref="MinScale"/>, <see cref="MaxScale"/>].
/// </summary>
public sealed class RandomResizedCrop : Augmentation
{
    private double _minScale = 0.08, _maxScale = 1.0, _minRatio = 3.0 / 4, _maxRatio = 4.0 / 3;

    /// <summary>Smallest area fraction of the crop. Default 0.08 (SimCLR); the small-image default policy uses 0.2.</summary>
    public double MinScale { get => _minScale; set => _minScale = AugmentationOps.InRange(value, 0.01, 1, nameof(RandomResizedCrop), nameof(MinScale)); }

    /// <summary>Largest area fraction of the crop. Default 1.</summary>
    public double MaxScale { get => _maxScale; set => _maxScale = AugmentationOps.InRange(value, 0.01, 1, nameof(RandomResizedCrop), nameof(MaxScale)); }

    /// <summary>Smallest width/height ratio of the crop. Default 3/4.</summary>
    public double MinRatio { get => _minRatio; set => _minRatio = AugmentationOps.InRange(value, 0.1, 1, nameof(RandomResizedCrop), nameof(MinRatio)); }

    /// <summary>Largest width/height ratio of the crop. Default 4/3.</summary>
    public double MaxRatio { get => _maxRatio; set => _maxRatio = AugmentationOps.InRange(value, 1, 10, nameof(RandomResizedCrop), nameof(MaxRatio)); }

    /// <inheritdoc />
    public override SslInputKind InputKind => SslInputKind.Image;

    internal override bool DrawsPerRow => true;

    /// <inheritdoc />
    public override Tensor Apply(Tensor batch, AugmentationContext context)
    {
        AugmentationOps.CheckBatch(batch, InputKind, this);
        using var scope = torch.NewDisposeScope();
        long n = batch.shape[0];
        double s = Strength;
        double low = 1 - s * (1 - Math.Min(MinScale, MaxScale)), high = 1 - s * (1 - MaxScale);
        Tensor area = AugmentationOps.Uniform(context, batch, [n], low, high);
        Tensor ratio = AugmentationOps.Uniform(context, batch, [n], s * Math.Log(MinRatio), s * Math.Log(MaxRatio)).exp_();
        // Half-widths in normalized coordinates; clamping instead of torchvision's rejection loop keeps it one batched draw.
        Tensor w = (area * ratio).sqrt_().clamp_max_(One);
        Tensor h = (area / ratio).sqrt_().clamp_max_(One);
        Tensor cx = AugmentationOps.Uniform(context, batch, [n], -1, 1).mul_(w.neg().add_(One, One));
        Tensor cy = AugmentationOps.Uniform(context, batch, [n], -1, 1).mul_(h.neg().add_(One, One));
        Tensor zero = torch.zeros_like(w);
        Tensor theta = torch.stack([w, zero, cx, zero, h, cy], 1).view(n, 2, 3);
        return ImageGeometry.Warp(batch, theta, GridSamplePaddingMode.Border).MoveToOuterDisposeScope();
    }
}

/// <summary>Mirrors rows left to right. Each row flips with probability <see cref="Augmentation.Strength"/> (default 1:
/// every row the policy step selects), so the step's probability (0.5 in the default policies) controls the rate.</summary>
public sealed class HorizontalFlip : Augmentation
{
    /// <inheritdoc />
    public override SslInputKind InputKind => SslInputKind.Image;

    internal override bool DrawsPerRow => true;

    /// <inheritdoc />
    public override Tensor Apply(Tensor batch, AugmentationContext context)
    {
        AugmentationOps.CheckBatch(batch, InputKind, this);
        using var scope = torch.NewDisposeScope();
        Tensor flip = AugmentationOps.RowMask(context, batch, Strength);
        return torch.where(flip, batch.flip(3), batch).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// Random brightness, contrast, saturation and hue changes, applied in that order with clipping to [0, 1] after
/// each (as torchvision does, but in a fixed order). Factors are drawn from [1 - s*b, 1 + s*b] for strength s; hue
/// rotates the chroma plane of YIQ space by up to s*<see cref="Hue"/> of a full turn. Grey images get brightness and
/// contrast only.
/// </summary>
public sealed class ColorJitter : Augmentation
{
    private double _brightness = 0.4, _contrast = 0.4, _saturation = 0.2, _hue = 0.1;

    /// <summary>Brightness range. Default 0.4 (solo-learn's CIFAR recipe).</summary>
    public double Brightness { get => _brightness; set => _brightness = AugmentationOps.InRange(value, 0, 1, nameof(ColorJitter), nameof(Brightness)); }

    /// <summary>Contrast range. Default 0.4.</summary>
    public double Contrast { get => _contrast; set => _contrast = AugmentationOps.InRange(value, 0, 1, nameof(ColorJitter), nameof(Contrast)); }

    /// <summary>Saturation range. Default 0.2.</summary>
    public double Saturation { get => _saturation; set => _saturation = AugmentationOps.InRange(value, 0, 1, nameof(ColorJitter), nameof(Saturation)); }

    /// <summary>Hue shift as a fraction of a full turn. Default 0.1; at most 0.5.</summary>
    public double Hue { get => _hue; set => _hue = AugmentationOps.InRange(value, 0, 0.5, nameof(ColorJitter), nameof(Hue)); }

    /// <inheritdoc />
    public override SslInputKind InputKind => SslInputKind.Image;

    internal override bool DrawsPerRow => true;

    /// <inheritdoc />
    public override Tensor Apply(Tensor batch, AugmentationContext context)
    {
        AugmentationOps.CheckBatch(batch, InputKind, this);
        using var scope = torch.NewDisposeScope();
        long n = batch.shape[0];
        double s = Strength;
        bool rgb = batch.shape[1] == 3;
        // One draw per row for every factor, always, so a row's randomness does not depend on which factors are on.
        Tensor u = AugmentationOps.Uniform(context, batch, [n, 4], -1, 1);
        var view = new long[] { n, 1, 1, 1 };
        // 1 + u * range, one factor per row.
        Tensor Factor(int column, double range) => u[.., column].mul(Held(range)).add_(One, One).view(view);
        Tensor x = batch;
        if (s * Brightness > 0)
            x = (x * Factor(0, s * Brightness)).clamp_(Zero, One);
        if (s * Contrast > 0)
        {
            Tensor mean = ImageGeometry.Luma(x).mean([1, 2, 3], keepdim: true);
            x = ((x - mean) * Factor(1, s * Contrast)).add_(mean, One).clamp_(Zero, One);
        }
        if (rgb && s * Saturation > 0)
        {
            Tensor grey = ImageGeometry.Luma(x);
            x = ((x - grey) * Factor(2, s * Saturation)).add_(grey, One).clamp_(Zero, One);
        }
        if (rgb && s * Hue > 0)
        {
            Tensor matrices = ImageGeometry.HueRotation(u[.., 3].mul(Held(s * Hue * 2 * Math.PI)));
            long h = x.shape[2], w = x.shape[3];
            x = torch.bmm(matrices, x.reshape(n, 3, h * w)).view(n, 3, h, w).clamp_(Zero, One);
        }
        return (ReferenceEquals(x, batch) ? batch.clone() : x).MoveToOuterDisposeScope();
    }
}

/// <summary>Turns rows grey (ITU-R 601 luma copied to every channel). Each row turns grey with probability
/// <see cref="Augmentation.Strength"/>; grey images pass through unchanged.</summary>
public sealed class RandomGrayscale : Augmentation
{
    /// <inheritdoc />
    public override SslInputKind InputKind => SslInputKind.Image;

    internal override bool DrawsPerRow => true;

    /// <inheritdoc />
    public override Tensor Apply(Tensor batch, AugmentationContext context)
    {
        AugmentationOps.CheckBatch(batch, InputKind, this);
        using var scope = torch.NewDisposeScope();
        Tensor chosen = AugmentationOps.RowMask(context, batch, Strength);
        if (batch.shape[1] != 3) return batch.clone().MoveToOuterDisposeScope();
        Tensor grey = ImageGeometry.Luma(batch).expand_as(batch);
        return torch.where(chosen, grey, batch).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// Gaussian blur with a random sigma per row, as two separable passes of a grouped convolution (one kernel per row
/// and channel) with reflected borders. Sigma is drawn from s x [<see cref="SigmaMin"/>, <see cref="SigmaMax"/>]
/// pixels for strength s, so strength 0 is a delta kernel.
/// </summary>
public sealed class GaussianBlur : Augmentation
{
    private double _sigmaMin = 0.1, _sigmaMax = 2.0;
    private int _kernelSize;

    /// <summary>Smallest sigma in pixels. Default 0.1 (SimCLR).</summary>
    public double SigmaMin { get => _sigmaMin; set => _sigmaMin = AugmentationOps.InRange(value, 0, 20, nameof(GaussianBlur), nameof(SigmaMin)); }

    /// <summary>Largest sigma in pixels. Default 2.0 (SimCLR).</summary>
    public double SigmaMax { get => _sigmaMax; set => _sigmaMax = AugmentationOps.InRange(value, 0, 20, nameof(GaussianBlur), nameof(SigmaMax)); }

    /// <summary>Odd kernel size; default 0 picks about 10% of the smaller image side (SimCLR), at least 3.</summary>
    public int KernelSize
    {
        get => _kernelSize;
        set
        {
            if (value != 0 && (value < 3 || value % 2 == 0 || value > 63))
                throw new ArgumentOutOfRangeException(nameof(KernelSize), value, "GaussianBlur.KernelSize must be 0 (automatic) or odd, from 3 to 63.");
            _kernelSize = value;
        }
    }

    /// <inheritdoc />
    public override SslInputKind InputKind => SslInputKind.Image;

    internal override bool DrawsPerRow => true;

    /// <inheritdoc />
    public override Tensor Apply(Tensor batch, AugmentationContext context)
    {
        AugmentationOps.CheckBatch(batch, InputKind, this);
        using var scope = torch.NewDisposeScope();
        long n = batch.shape[0], c = batch.shape[1], h = batch.shape[2], w = batch.shape[3];
        long side = Math.Min(h, w);
        long k = KernelSize > 0 ? KernelSize : Math.Max(3, (side / 10) | 1);
        // Reflection padding needs the pad to be smaller than the side.
        k = Math.Min(k, Math.Max(1, ((side - 1) / 2) * 2 + 1));
        if (k < 3 || n == 0) return batch.clone().MoveToOuterDisposeScope();
        long half = k / 2;
        Tensor sigma = AugmentationOps.Uniform(context, batch, [n], Strength * SigmaMin, Strength * Math.Max(SigmaMin, SigmaMax)).clamp_min_(Held(1e-4));
        Tensor offsets = torch.arange(Held(-half), Held(half + 1), One, dtype: batch.dtype, device: batch.device);
        Tensor kernel = (-offsets.pow(Held(2L)).unsqueeze(0) / sigma.pow(Held(2L)).unsqueeze(1).mul(Held(2L))).exp_();
        kernel = (kernel / kernel.sum(1, keepdim: true)).repeat_interleave(c, dim: 0);
        Tensor x = nn.functional.pad(batch.reshape(1, n * c, h, w), [half, half, half, half], PaddingModes.Reflect);
        x = nn.functional.conv2d(x, kernel.view(n * c, 1, 1, k), groups: n * c);
        x = nn.functional.conv2d(x, kernel.view(n * c, 1, k, 1), groups: n * c);
        return x.view(n, c, h, w).MoveToOuterDisposeScope();
    }
}

/// <summary>Inverts pixels above a threshold (x -> 1 - x). The threshold is 1 - s(1 - <see cref="Threshold"/>) for
/// strength s, so strength 0 inverts nothing.</summary>
public sealed class Solarize : Augmentation
{
    private double _threshold = 0.5;

    /// <summary>Threshold at full strength. Default 0.5 (BYOL).</summary>
    public double Threshold { get => _threshold; set => _threshold = AugmentationOps.InRange(value, 0, 1, nameof(Solarize), nameof(Threshold)); }

    /// <inheritdoc />
    public override SslInputKind InputKind => SslInputKind.Image;

    internal override bool DrawsPerRow => true;

    /// <inheritdoc />
    public override Tensor Apply(Tensor batch, AugmentationContext context)
    {
        AugmentationOps.CheckBatch(batch, InputKind, this);
        using var scope = torch.NewDisposeScope();
        double threshold = 1 - Strength * (1 - Threshold);
        return torch.where(batch.gt(Held(threshold)), batch.neg().add_(One, One), batch).MoveToOuterDisposeScope();
    }
}

/// <summary>Rotates rows about the centre by an angle drawn from [-s x <see cref="MaxDegrees"/>, s x MaxDegrees];
/// uncovered corners are black (as in torchvision).</summary>
public sealed class Rotation : Augmentation
{
    private double _maxDegrees = 15;

    /// <summary>Largest rotation in degrees at full strength. Default 15.</summary>
    public double MaxDegrees { get => _maxDegrees; set => _maxDegrees = AugmentationOps.InRange(value, 0, 180, nameof(Rotation), nameof(MaxDegrees)); }

    /// <inheritdoc />
    public override SslInputKind InputKind => SslInputKind.Image;

    internal override bool DrawsPerRow => true;

    /// <inheritdoc />
    public override Tensor Apply(Tensor batch, AugmentationContext context)
    {
        AugmentationOps.CheckBatch(batch, InputKind, this);
        using var scope = torch.NewDisposeScope();
        long n = batch.shape[0];
        double aspect = (double)batch.shape[2] / batch.shape[3];
        double limit = Strength * MaxDegrees * Math.PI / 180;
        Tensor angle = AugmentationOps.Uniform(context, batch, [n], -limit, limit);
        Tensor cos = angle.cos(), sin = angle.sin(), zero = torch.zeros_like(angle);
        // Normalized coordinates stretch non-square images; the aspect terms keep the rotation rigid in pixels.
        Tensor theta = torch.stack([cos, (-sin).mul(Held(aspect)), zero, sin.div(Held(aspect)), cos, zero], 1).view(n, 2, 3);
        return ImageGeometry.Warp(batch, theta, GridSamplePaddingMode.Zeros).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// Random erasing (Zhong et al., 2020): fills one random rectangle per row with <see cref="Value"/>. Its area fraction is
/// drawn from s x [<see cref="MinArea"/>, <see cref="MaxArea"/>] for strength s, its aspect ratio from
/// [<see cref="MinRatio"/>, <see cref="MaxRatio"/>].
/// </summary>
public sealed class RandomErasing : Augmentation
{
    private double _minArea = 0.02, _maxArea = 0.33, _minRatio = 0.3, _maxRatio = 3.3, _value;

    /// <summary>Smallest erased area fraction. Default 0.02 (Zhong et al.).</summary>
    public double MinArea { get => _minArea; set => _minArea = AugmentationOps.InRange(value, 0, 1, nameof(RandomErasing), nameof(MinArea)); }

    /// <summary>Largest erased area fraction. Default 0.33.</summary>
    public double MaxArea { get => _maxArea; set => _maxArea = AugmentationOps.InRange(value, 0, 1, nameof(RandomErasing), nameof(MaxArea)); }

    /// <summary>Smallest height/width ratio of the rectangle. Default 0.3.</summary>
    public double MinRatio { get => _minRatio; set => _minRatio = AugmentationOps.InRange(value, 0.05, 1, nameof(RandomErasing), nameof(MinRatio)); }

    /// <summary>Largest height/width ratio of the rectangle. Default 3.3.</summary>
    public double MaxRatio { get => _maxRatio; set => _maxRatio = AugmentationOps.InRange(value, 1, 20, nameof(RandomErasing), nameof(MaxRatio)); }

    /// <summary>Fill value in [0, 1]. Default 0.</summary>
    public double Value { get => _value; set => _value = AugmentationOps.InRange(value, 0, 1, nameof(RandomErasing), nameof(Value)); }

    /// <inheritdoc />
    public override SslInputKind InputKind => SslInputKind.Image;

    internal override bool DrawsPerRow => true;

    /// <inheritdoc />
    public override Tensor Apply(Tensor batch, AugmentationContext context)
    {
        AugmentationOps.CheckBatch(batch, InputKind, this);
        using var scope = torch.NewDisposeScope();
        long n = batch.shape[0], h = batch.shape[2], w = batch.shape[3];
        Tensor area = AugmentationOps.Uniform(context, batch, [n], Strength * MinArea, Strength * Math.Max(MinArea, MaxArea));
        Tensor ratio = AugmentationOps.Uniform(context, batch, [n], Math.Log(MinRatio), Math.Log(MaxRatio)).exp_();
        Tensor eh = (area * ratio).sqrt_().mul(Held(h)).clamp_max_(Held(h));
        Tensor ew = (area / ratio).sqrt_().mul(Held(w)).clamp_max_(Held(w));
        Tensor y0 = AugmentationOps.Uniform(context, batch, [n], 0, 1) * eh.neg().add_(Held(h), One);
        Tensor x0 = AugmentationOps.Uniform(context, batch, [n], 0, 1) * ew.neg().add_(Held(w), One);
        // Pixel centres inside the rectangle; a zero-area rectangle covers none.
        Tensor ys = torch.arange(Zero, Held(h), One, dtype: batch.dtype, device: batch.device).add_(Held(0.5), One).view(1, h);
        Tensor xs = torch.arange(Zero, Held(w), One, dtype: batch.dtype, device: batch.device).add_(Held(0.5), One).view(1, w);
        Tensor rows = (ys >= y0.unsqueeze(1)) & (ys < y0.add(eh, One).unsqueeze(1));
        Tensor cols = (xs >= x0.unsqueeze(1)) & (xs < x0.add(ew, One).unsqueeze(1));
        Tensor mask = (rows.unsqueeze(2) & cols.unsqueeze(1)).unsqueeze(1);
        return torch.where(mask, torch.tensor(Value, dtype: batch.dtype, device: batch.device), batch).MoveToOuterDisposeScope();
    }
}

/// <summary>Image helpers: luma, affine warps and hue rotation matrices.</summary>
internal static class ImageGeometry
{
    private static readonly double[] LumaWeights = [0.299, 0.587, 0.114];

    /// <summary>ITU-R 601 luma [N, 1, H, W]; a one-channel image is its own luma.</summary>
    public static Tensor Luma(Tensor x)
    {
        if (x.shape[1] != 3) return x.mean([1], keepdim: true);
        Tensor weights = torch.tensor(LumaWeights, dtype: x.dtype, device: x.device).view(1, 3, 1, 1);
        return (x * weights).sum(1, keepdim: true);
    }

    /// <summary>Resamples each row through its affine map theta [N, 2, 3] (output to input, normalized coordinates).</summary>
    public static Tensor Warp(Tensor batch, Tensor theta, GridSamplePaddingMode padding)
    {
        Tensor grid = nn.functional.affine_grid(theta, batch.shape, align_corners: false);
        return nn.functional.grid_sample(batch, grid, GridSampleMode.Bilinear, padding, align_corners: false);
    }

    /// <summary>Per-row 3x3 RGB matrices that rotate the YIQ chroma plane by <paramref name="angles"/> radians.</summary>
    public static Tensor HueRotation(Tensor angles)
    {
        // Built in float64 with an exact inverse so a zero angle gives the identity to float precision.
        Tensor toYiq = torch.tensor(new double[] { 0.299, 0.587, 0.114, 0.596, -0.274, -0.322, 0.211, -0.523, 0.312 },
            dtype: ScalarType.Float64, device: angles.device).view(3, 3);
        Tensor fromYiq = torch.linalg.inv(toYiq);
        Tensor a = angles.to(ScalarType.Float64);
        Tensor cos = a.cos(), sin = a.sin(), one = torch.ones_like(a), zero = torch.zeros_like(a);
        Tensor rotation = torch.stack([one, zero, zero, zero, cos, -sin, zero, sin, cos], 1).view(-1, 3, 3);
        return fromYiq.matmul(rotation).matmul(toYiq).to(angles.dtype);
    }
}
