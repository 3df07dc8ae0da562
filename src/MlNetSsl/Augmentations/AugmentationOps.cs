using TorchSharp;
using static TorchSharp.torch;
using static MlNetSsl.HeldScalars;

namespace MlNetSsl;

/// <summary>Random draws, argument checks and resampling shared by the batched augmentations.</summary>
internal static class AugmentationOps
{
    /// <summary>Uniform draws in [<paramref name="low"/>, <paramref name="high"/>) on the batch's device and dtype.</summary>
    public static Tensor Uniform(AugmentationContext context, Tensor like, long[] shape, double low, double high)
    {
        Tensor u = Selected(context, like, shape, full => torch.rand(full, dtype: like.dtype, device: like.device, generator: context.Generator));
        return high == low ? u.mul_(Zero).add_(Held(low), One) : u.mul_(Held(high - low)).add_(Held(low), One);
    }

    /// <summary>Standard normal draws on the batch's device and dtype.</summary>
    public static Tensor Normal(AugmentationContext context, Tensor like, long[] shape) =>
        Selected(context, like, shape, full => torch.randn(full, dtype: like.dtype, device: like.device, generator: context.Generator));

    /// <summary>The batch plus independent N(0, <paramref name="deviation"/>²) noise on every value (Jitter, GaussianNoise).</summary>
    public static Tensor AddNoise(Augmentation owner, Tensor batch, AugmentationContext context, double deviation)
    {
        CheckBatch(batch, owner.InputKind, owner);
        using var scope = torch.NewDisposeScope();
        return batch.add(Normal(context, batch, batch.shape).mul_(Held(deviation)), One).MoveToOuterDisposeScope();
    }

    /// <summary>A per-row coin with probability <paramref name="p"/>, shaped to broadcast over a batch like <paramref name="like"/>.</summary>
    public static Tensor RowMask(AugmentationContext context, Tensor like, double p)
    {
        long n = like.shape[0];
        long[] shape = Enumerable.Repeat(1L, (int)like.dim()).ToArray();
        shape[0] = n;
        return Selected(context, like, [n], full => torch.rand(full, dtype: like.dtype, device: like.device, generator: context.Generator))
            .lt(Held(p)).view(shape);
    }

    /// <summary>A per-row draw of <paramref name="shape"/> (rows first) for <paramref name="like"/>'s rows: under a row
    /// selection (<see cref="AugmentationContext.SelectedRows"/>) drawn for the whole batch, as augmenting it would
    /// draw, and the selected rows kept, so each of them gets the numbers it would get in the whole batch.</summary>
    private static Tensor Selected(AugmentationContext context, Tensor like, long[] shape, Func<long[], Tensor> draw)
    {
        if (context.SelectedRows is not Tensor rows) return draw(shape);
        if (shape.Length == 0 || shape[0] != like.shape[0])
            throw new InvalidOperationException($"A draw of shape [{string.Join(", ", shape)}] is not one per row of a {like.shape[0]}-row batch, so it cannot follow a row selection.");
        long[] full = (long[])shape.Clone();
        full[0] = context.SelectedFromRows;
        return draw(full).index_select(0, rows);
    }

    /// <summary>Rejects a batch whose rank does not match the augmentation's input kind.</summary>
    public static void CheckBatch(Tensor batch, SslInputKind kind, Augmentation augmentation)
    {
        int rank = kind switch { SslInputKind.Image => 4, SslInputKind.Series => 3, _ => 2 };
        if (batch.dim() != rank)
            throw new ArgumentException(
                $"{augmentation.GetType().Name} expects a {kind} batch of rank {rank}, got shape [{string.Join(", ", batch.shape)}].", nameof(batch));
        if (!batch.is_floating_point())
            throw new ArgumentException($"{augmentation.GetType().Name} expects a floating-point batch, got {batch.dtype}.", nameof(batch));
    }

    /// <summary>Validates a setter value, so bad JSON fails at load time with the property's name.</summary>
    public static double InRange(double value, double low, double high, string owner, string property)
    {
        if (double.IsNaN(value) || value < low || value > high)
            throw new ArgumentOutOfRangeException(property, value, $"{owner}.{property} must be in [{low}, {high}].");
        return value;
    }

    /// <summary>Validates an integer setter value.</summary>
    public static int InRange(int value, int low, int high, string owner, string property)
    {
        if (value < low || value > high)
            throw new ArgumentOutOfRangeException(property, value, $"{owner}.{property} must be in [{low}, {high}].");
        return value;
    }

    /// <summary>
    /// Linear resampling of series [N, C, T] along time at source positions [N, T] (in steps, 0 to T-1).
    /// Gathering the two neighbours directly, rather than going through normalized grid coordinates, keeps integer
    /// positions exact, so an identity warp returns the input bit for bit.
    /// </summary>
    public static Tensor ResampleTime(Tensor series, Tensor positions)
    {
        long n = series.shape[0], c = series.shape[1], t = series.shape[2];
        Tensor p = positions.clamp(Zero, Held(t - 1));
        Tensor left = p.floor().clamp(Zero, Held(Math.Max(t - 2, 0))).to(ScalarType.Int64);
        Tensor right = left.add(One, One).clamp(Zero, Held(t - 1));
        Tensor frac = (p - left.to(p.dtype)).unsqueeze(1);
        Tensor a = series.gather(2, left.unsqueeze(1).expand(n, c, t));
        Tensor b = series.gather(2, right.unsqueeze(1).expand(n, c, t));
        return a.add((b - a) * frac, One);
    }

    /// <summary>A smooth random curve per row (and channel) of length <paramref name="length"/>: normal knots times
    /// <paramref name="scale"/>, bicubically interpolated; exactly zero when the scale is zero.</summary>
    public static Tensor SmoothNoise(AugmentationContext context, Tensor like, long rows, long channels, int knots, long length, double scale)
    {
        Tensor k = Normal(context, like, new[] { rows, channels, 1L, knots + 2L }).mul_(Held(scale));
        Tensor curve = nn.functional.interpolate(k, size: new[] { 1L, length }, mode: InterpolationMode.Bicubic, align_corners: true);
        return curve.view(rows, channels, length);
    }
}
